// Draws the demo's sample images (demo/public/samples/*.png): small procedural scenes with a few
// objects on a background, so that attention, PCA and similarity have something to separate.
// Deterministic; rerun to regenerate:  npx tsx demo/scripts/make_samples.ts
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

type Rgb = [number, number, number];
/** Coverage of the pixel at (x, y) (sub-sample coordinates in pixels) by a shape, and its colour there. */
type Paint = (x: number, y: number) => Rgb | null;

const OUT = join(import.meta.dirname, '../public/samples');
const SUPER = 4; // 4x4 samples per pixel: anti-aliased edges

function render(width: number, height: number, background: Paint, layers: Paint[]): Buffer {
  const out = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const acc = [0, 0, 0];
      for (let sy = 0; sy < SUPER; sy++) {
        for (let sx = 0; sx < SUPER; sx++) {
          const px = x + (sx + 0.5) / SUPER;
          const py = y + (sy + 0.5) / SUPER;
          let c = background(px, py)!;
          for (const layer of layers) c = layer(px, py) ?? c;
          for (let k = 0; k < 3; k++) acc[k] += c[k];
        }
      }
      for (let k = 0; k < 3; k++) out[(y * width + x) * 3 + k] = Math.round(acc[k] / (SUPER * SUPER));
    }
  }
  return out;
}

const mix = (a: Rgb, b: Rgb, t: number): Rgb => [
  a[0] + (b[0] - a[0]) * t,
  a[1] + (b[1] - a[1]) * t,
  a[2] + (b[2] - a[2]) * t,
];
const clamp01 = (t: number) => Math.max(0, Math.min(1, t));
const vertical =
  (top: Rgb, bottom: Rgb, h: number): Paint =>
  (_x, y) =>
    mix(top, bottom, clamp01(y / h));
/** A disc lit from the upper left. */
const ball =
  (cx: number, cy: number, r: number, c: Rgb): Paint =>
  (x, y) => {
    const d2 = (x - cx) ** 2 + (y - cy) ** 2;
    if (d2 > r * r) return null;
    const light = clamp01(1 - Math.hypot(x - (cx - r / 3), y - (cy - r / 3)) / (1.6 * r));
    return mix(mix(c, [0, 0, 0], 0.35), mix(c, [255, 255, 255], 0.5), light);
  };
const disc =
  (cx: number, cy: number, r: number, c: Rgb): Paint =>
  (x, y) =>
    (x - cx) ** 2 + (y - cy) ** 2 <= r * r ? c : null;
const ellipse =
  (cx: number, cy: number, rx: number, ry: number, c: Rgb): Paint =>
  (x, y) =>
    ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1 ? c : null;
const rect =
  (x0: number, y0: number, x1: number, y1: number, c: Rgb): Paint =>
  (x, y) =>
    x >= x0 && x < x1 && y >= y0 && y < y1 ? c : null;
const triangle =
  (a: [number, number], b: [number, number], c: [number, number], col: Rgb): Paint =>
  (x, y) => {
    const s = (p: [number, number], q: [number, number]) =>
      (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0]);
    const d1 = s(a, b),
      d2 = s(b, c),
      d3 = s(c, a);
    return (d1 >= 0 && d2 >= 0 && d3 >= 0) || (d1 <= 0 && d2 <= 0 && d3 <= 0) ? col : null;
  };
/** Ground below a sum of sines, shaded by height. */
const hills =
  (base: number, amp: number, freq: number, phase: number, c: Rgb): Paint =>
  (x, y) => {
    const top = base - amp * (Math.sin(x * freq + phase) + 0.5 * Math.sin(x * freq * 2.3 + phase * 1.7));
    return y >= top ? mix(c, [0, 0, 0], clamp01((y - top) / 400)) : null;
  };

interface Sample {
  name: string;
  title: string;
  width: number;
  height: number;
  background: Paint;
  layers: Paint[];
}

const SAMPLES: Sample[] = [
  {
    name: 'balls',
    title: 'Three balls on a table',
    width: 320,
    height: 240,
    background: (x, y) =>
      y < 150
        ? mix([236, 228, 214], [214, 204, 188], y / 150)
        : mix([140, 96, 62], [104, 70, 44], (y - 150) / 90 + 0.1 * Math.sin(x / 7)),
    layers: [
      ellipse(90, 196, 42, 9, [80, 55, 36]),
      ellipse(175, 190, 30, 7, [80, 55, 36]),
      ellipse(255, 200, 36, 8, [80, 55, 36]),
      ball(88, 150, 46, [214, 40, 40]),
      ball(176, 158, 32, [40, 110, 214]),
      ball(252, 156, 42, [240, 196, 30]),
    ],
  },
  {
    name: 'landscape',
    title: 'Hills, a sun and a tree',
    width: 400,
    height: 260,
    background: vertical([90, 150, 230], [200, 225, 250], 170),
    layers: [
      disc(310, 62, 30, [255, 214, 90]),
      hills(150, 18, 0.018, 0.4, [96, 140, 84]),
      hills(190, 14, 0.027, 2.1, [60, 120, 52]),
      rect(92, 150, 104, 205, [92, 60, 36]),
      disc(98, 132, 30, [40, 96, 40]),
      disc(80, 148, 20, [46, 108, 44]),
      disc(118, 146, 22, [36, 90, 36]),
    ],
  },
  {
    name: 'shapes',
    title: 'A square, a disc and a triangle',
    width: 300,
    height: 300,
    background: (x, y) =>
      (Math.floor(x / 25) + Math.floor(y / 25)) % 2 === 0 ? [226, 226, 230] : [200, 202, 210],
    layers: [
      rect(30, 40, 130, 140, [30, 150, 120]),
      disc(205, 95, 55, [200, 60, 150]),
      triangle([70, 270], [150, 160], [230, 270], [250, 140, 30]),
    ],
  },
  {
    name: 'fish',
    title: 'Two fish in the sea',
    width: 240,
    height: 320,
    background: (x, y) => mix([40, 120, 170], [10, 40, 80], y / 320 + 0.03 * Math.sin(x / 11 + y / 17)),
    layers: [
      triangle([150, 100], [190, 70], [190, 130], [250, 120, 40]),
      ellipse(105, 100, 55, 30, [255, 150, 50]),
      disc(72, 92, 6, [20, 20, 20]),
      triangle([90, 230], [50, 205], [50, 255], [240, 230, 90]),
      ellipse(140, 230, 50, 26, [250, 240, 120]),
      disc(170, 222, 5, [20, 20, 20]),
      rect(0, 300, 240, 320, [196, 180, 120]),
    ],
  },
];

mkdirSync(OUT, { recursive: true });
for (const s of SAMPLES) {
  const raw = render(s.width, s.height, s.background, s.layers);
  const path = join(OUT, `${s.name}.png`);
  await sharp(raw, { raw: { width: s.width, height: s.height, channels: 3 } })
    .png({ compressionLevel: 9, palette: false })
    .toFile(path);
  console.log(`${path} (${s.width}x${s.height}): ${s.title}`);
}
