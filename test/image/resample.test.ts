import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PIL_RESAMPLING, resizeU8, type PilResampling } from '../../src/image/resample.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';

// --- float64 twin of PIL's algorithm -------------------------------------------------------------
// The textbook form: kernel weights in float64 over PIL's window, normalised to sum 1, the sum
// rounded half up and clipped to uint8 after each pass (horizontal first, a pass skipped when its
// size is unchanged). It leaves out Pillow's 22-bit fixed-point weights, which can only matter
// where a sum lies within their rounding error of a half: the twin flags those samples (and what
// is computed from them in the second pass) as ties. Everything else must agree exactly.

interface TwinFilter {
  support: number;
  k: (x: number) => number;
}
const sincPi = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const TWIN: Record<string, [PilResampling, TwinFilter]> = {
  box: [PIL_RESAMPLING.BOX, { support: 0.5, k: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) }],
  bilinear: [PIL_RESAMPLING.BILINEAR, { support: 1, k: (x) => Math.max(0, 1 - Math.abs(x)) }],
  hamming: [
    PIL_RESAMPLING.HAMMING,
    { support: 1, k: (x) => (Math.abs(x) < 1 ? sincPi(x) * (0.54 + 0.46 * Math.cos(Math.PI * x)) : 0) },
  ],
  bicubic: [
    PIL_RESAMPLING.BICUBIC,
    {
      support: 2,
      k: (x) => {
        const a = -0.5;
        const t = Math.abs(x);
        if (t < 1) return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1;
        if (t < 2) return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a;
        return 0;
      },
    },
  ],
  lanczos: [
    PIL_RESAMPLING.LANCZOS,
    { support: 3, k: (x) => (x >= -3 && x < 3 ? sincPi(x) * sincPi(x / 3) : 0) },
  ],
};

interface Samples {
  value: number[];
  tie: boolean[];
}

// One axis: out[i] = round(sum_j v[j] * k((j + 0.5 - centre_i) / fs) / sum_j k(...)), clipped.
function twinAxis(v: Samples, inSize: number, outSize: number, f: TwinFilter): Samples {
  const scale = inSize / outSize;
  const fs = Math.max(scale, 1); // a shrinking kernel widens by the shrink factor
  const out: Samples = { value: [], tie: [] };
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    let acc = 0;
    let norm = 0;
    let magnitude = 0;
    let tie = false;
    for (let j = 0; j < inSize; j++) {
      const d = j + 0.5 - centre;
      if (d <= -f.support * fs || d > f.support * fs) continue; // PIL's window: (-support, support]
      const w = f.k(d / fs);
      acc += w * v.value[j];
      norm += w;
      magnitude += Math.abs(w) * v.value[j];
      if (w !== 0 && v.tie[j]) tie = true;
    }
    const x = acc / norm;
    // Fixed-point weights are off by at most 2^-23 each (relative to a unit sum).
    const tolerance = (magnitude / Math.abs(norm)) * 2 ** -22 + 1e-9;
    if (Math.abs(x - Math.floor(x) - 0.5) <= tolerance) tie = true;
    out.value.push(Math.min(255, Math.max(0, Math.round(x))));
    out.tie.push(tie);
  }
  return out;
}

// (h, w, 3) -> (oh, ow, 3) values and tie flags.
function twinResize(
  src: Uint8Array,
  w: number,
  h: number,
  ow: number,
  oh: number,
  f: TwinFilter,
  verticalFirst = false,
) {
  type Image = { value: Float64Array; tie: Uint8Array };
  const pass = (
    img: Image,
    [iw, ih]: [number, number],
    [nw, nh]: [number, number],
    alongX: boolean,
  ): Image => {
    const out: Image = { value: new Float64Array(nw * nh * 3), tie: new Uint8Array(nw * nh * 3) };
    const lines = alongX ? ih : iw;
    const at = (line: number, k: number, width: number) => (alongX ? line * width + k : k * width + line);
    for (let line = 0; line < lines; line++) {
      for (let c = 0; c < 3; c++) {
        const n = alongX ? iw : ih;
        const input: Samples = { value: [], tie: [] };
        for (let k = 0; k < n; k++) {
          input.value.push(img.value[at(line, k, iw) * 3 + c]);
          input.tie.push(img.tie[at(line, k, iw) * 3 + c] === 1);
        }
        const r = twinAxis(input, n, alongX ? nw : nh, f);
        r.value.forEach((v, k) => {
          out.value[at(line, k, nw) * 3 + c] = v;
          out.tie[at(line, k, nw) * 3 + c] = r.tie[k] ? 1 : 0;
        });
      }
    }
    return out;
  };
  let img: Image = { value: Float64Array.from(src), tie: new Uint8Array(src.length) };
  let size: [number, number] = [w, h];
  for (const alongX of verticalFirst ? [false, true] : [true, false]) {
    const next: [number, number] = alongX ? [ow, size[1]] : [size[0], oh];
    if (next[0] === size[0] && next[1] === size[1]) continue; // PIL skips a pass that changes nothing
    img = pass(img, size, next, alongX);
    size = next;
  }
  return { value: Uint8Array.from(img.value), tie: img.tie };
}

// Nearest: the input pixel under each output centre, centres stepped from half a step in.
function twinNearest(src: Uint8Array, w: number, h: number, ow: number, oh: number): Uint8Array {
  const centres = (n: number, on: number) => {
    const step = n / on;
    const idx: number[] = [];
    for (let i = 0, p = step / 2; i < on; i++, p += step) idx.push(Math.trunc(p));
    return idx;
  };
  const xs = centres(w, ow);
  const ys = centres(h, oh);
  const out = new Uint8Array(ow * oh * 3);
  ys.forEach((y, i) =>
    xs.forEach((x, j) => out.set(src.subarray((y * w + x) * 3, (y * w + x) * 3 + 3), (i * ow + j) * 3)),
  );
  return out;
}

// Deterministic test image: noise with hard 0/255 stripes so negative lobes overshoot and clip.
function pattern(w: number, h: number, seed: number): Uint8Array {
  const a = new Uint8Array(w * h * 3);
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s >>> 24;
  }
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x += 4) a[(y * w + x) * 3] = 255;
  for (let y = 0; y < h; y += 3) for (let x = 0; x < w; x++) a[(y * w + x) * 3 + 1] = 0;
  return a;
}

function agreement(out: Uint8Array, ref: Uint8Array) {
  expect(out.length).toBe(ref.length);
  let exact = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(out[i] - ref[i]);
    if (d === 0) exact++;
    maxDiff = Math.max(maxDiff, d);
  }
  return { exact: exact / ref.length, maxDiff };
}

// [in w, in h, out w, out h]
const SIZES: [number, number, number, number][] = [
  [37, 23, 1, 1],
  [37, 23, 5, 3],
  [37, 23, 36, 23], // horizontal only
  [37, 23, 37, 11], // vertical only
  [37, 23, 100, 61], // upscale, odd factor
  [37, 23, 13, 50], // shrink one axis, grow the other
  [37, 23, 341, 3],
  [64, 48, 21, 16], // ~3x shrink
  [1, 1, 4, 3], // 1-pixel source
  [1, 1, 1, 7],
  [7, 1, 3, 1], // 1-pixel-high row
  [7, 1, 11, 2],
  [1, 9, 1, 4], // 1-pixel-wide column
  [1, 9, 3, 20],
  [29, 31, 1, 31],
];

describe('resizeU8 against a float64 twin of PIL (uint8 between passes)', () => {
  for (const [name, [filter, twin]] of Object.entries(TWIN)) {
    it(`${name}: odd sizes, up and down, 1-pixel images: exact but at rounding ties, never off by more than 1`, () => {
      const rows: string[] = [];
      for (const [w, h, ow, oh] of SIZES) {
        const src = pattern(w, h, w * 1000 + h);
        const out = resizeU8(src, w, h, 3, ow, oh, filter);
        const ref = twinResize(src, w, h, ow, oh, twin);
        const { exact, maxDiff } = agreement(out, ref.value);
        const offTie = out.filter((v, i) => v !== ref.value[i] && !ref.tie[i]).length;
        rows.push(`${w}x${h}->${ow}x${oh} ${(100 * exact).toFixed(2)}% max ${maxDiff}`);
        const what = `${name} ${w}x${h} -> ${ow}x${oh}`;
        expect(maxDiff, what).toBeLessThanOrEqual(1);
        expect(offTie, `${what}: samples that differ away from a rounding tie`).toBe(0);
      }
      console.log(`${name}: ${rows.join(', ')}`);
    });
  }

  it('nearest: the pixel under each output centre, exactly', () => {
    for (const [w, h, ow, oh] of SIZES) {
      const src = pattern(w, h, w + h);
      expect(
        agreement(resizeU8(src, w, h, 3, ow, oh, PIL_RESAMPLING.NEAREST), twinNearest(src, w, h, ow, oh))
          .exact,
      ).toBe(1);
    }
  });

  it('an image over 100 times taller than wide is shrunk in height first (Pillow >= 12.2)', () => {
    const [w, h, ow, oh] = [2, 250, 3, 40];
    const src = pattern(w, h, 7);
    const out = resizeU8(src, w, h, 3, ow, oh, PIL_RESAMPLING.BICUBIC);
    const heightFirst = agreement(out, twinResize(src, w, h, ow, oh, TWIN.bicubic[1], true).value);
    const widthFirst = agreement(out, twinResize(src, w, h, ow, oh, TWIN.bicubic[1], false).value);
    expect(heightFirst.maxDiff).toBeLessThanOrEqual(1);
    expect(heightFirst.exact).toBeGreaterThan(widthFirst.exact);
  });

  it('the same size is a copy, not a filter pass', () => {
    const src = pattern(5, 4, 1);
    const out = resizeU8(src, 5, 4, 3, 5, 4, PIL_RESAMPLING.LANCZOS);
    expect(out).toEqual(src);
    expect(out).not.toBe(src);
  });

  it('rejects bad arguments', () => {
    const src = pattern(2, 2, 1);
    expect(() => resizeU8(src, 2, 2, 3, 0, 2, PIL_RESAMPLING.BICUBIC)).toThrow(/outWidth/);
    expect(() => resizeU8(src, 2, 3, 3, 2, 2, PIL_RESAMPLING.BICUBIC)).toThrow(/bytes/);
    expect(() => resizeU8(src, 2, 2, 3, 2, 2, 6 as PilResampling)).toThrow(/filter/);
  });
});

// Made with Pillow by test/fixtures/preprocess/pil/make_pil_fixtures.py (see PROVENANCE.md).
describe('resizeU8 equals Pillow bit for bit, every filter', () => {
  const file = SafetensorsFile.parse(
    new Uint8Array(readFileSync('test/fixtures/preprocess/pil/resample.safetensors')),
  );
  const filters: Record<string, PilResampling> = {
    nearest: PIL_RESAMPLING.NEAREST,
    lanczos: PIL_RESAMPLING.LANCZOS,
    bilinear: PIL_RESAMPLING.BILINEAR,
    bicubic: PIL_RESAMPLING.BICUBIC,
    box: PIL_RESAMPLING.BOX,
    hamming: PIL_RESAMPLING.HAMMING,
  };
  const outputs = file.names.filter((n) => n.startsWith('out.'));
  it('has the cases', () => expect(outputs.length).toBe(150));
  for (const key of outputs) {
    const [, source, filter, size] = key.split('.'); // out.<source>.<filter>.<w>x<h>
    it(`${source} -> ${size} ${filter}`, () => {
      const [h, w] = file.info(`src.${source}`).shape;
      const [ow, oh] = size.split('x').map(Number);
      const out = resizeU8(file.bytes(`src.${source}`), w, h, 3, ow, oh, filters[filter]);
      expect(agreement(out, file.bytes(key))).toEqual({ exact: 1, maxDiff: 0 });
    });
  }
});
