// The processor's resize + center crop computes only the resized rows and columns the crop keeps
// (resizeU8 with a window). It must give the bytes of the full resize followed by the crop, bit
// for bit, for every filter; and an image whose full resize would be gigabytes must not cost them.
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadImageNode } from '../../src/image/decode_node.js';
import { ImageError, ImageLimitError } from '../../src/image/errors.js';
import { MAX_IMAGE_PIXELS_ERROR } from '../../src/image/limits.js';
import { BitImageProcessor, centerCrop, type RgbImage } from '../../src/image/processor.js';
import { PIL_RESAMPLING, type PilResampling, resizeU8 } from '../../src/image/resample.js';
import { pngFile } from './image_headers.js';

const FILTERS = Object.entries(PIL_RESAMPLING) as [string, PilResampling][];

// A deterministic generator (mulberry32), so a failure names a case that can be rerun.
function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)) };
}

// Noise with hard 0/255 stripes, so the negative lobes of bicubic and lanczos overshoot and clip.
function noise(width: number, height: number, seed: number): RgbImage {
  const r = rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = r.next() < 0.2 ? (r.next() < 0.5 ? 0 : 255) : r.int(0, 255);
  return { width, height, data };
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('resize + center crop computes only what the crop keeps', () => {
  // First in the file, so that the process's peak memory is still this file's baseline.
  it('a 1 x 10000 PNG (full resize 256 x 2,560,000: 1.97 GB) costs megabytes', async () => {
    const width = 1;
    const height = 10_000;
    const rows = Buffer.alloc(height * 5); // filter byte + one RGBA pixel per row
    for (let y = 0; y < height; y++) rows.set([0, y % 256, (y * 7) % 256, 255 - (y % 256), 255], y * 5);
    const file = pngFile(width, height, deflateSync(rows));
    const before = process.resourceUsage().maxRSS; // kilobytes, the peak so far
    const img = await loadImageNode(file, { source: 'tall.png' });
    const out = new BitImageProcessor().preprocess(img);
    const grew = (process.resourceUsage().maxRSS - before) / 1024;
    expect(out.dims).toEqual([1, 3, 224, 224]);
    expect(grew, `peak memory grew by ${grew.toFixed(0)} MiB`).toBeLessThan(256);
    // Every column of a 1-pixel-wide source, once resized, holds the same values.
    const plane = 224 * 224;
    for (const y of [0, 100, 223])
      for (let c = 0; c < 3; c++)
        expect(new Set(out.pixel_values.subarray(c * plane + y * 224, c * plane + (y + 1) * 224)).size).toBe(
          1,
        );
  });

  it('resizeU8 with a window = the full resize sliced, on 300 random sizes, windows and all six filters', () => {
    const r = rng(11);
    let cases = 0;
    for (let n = 0; n < 300; n++) {
      // Every 10th source is more than 100 times taller than wide (Pillow's height-first path).
      const width = r.int(1, n % 10 === 0 ? 3 : 40);
      const height = n % 10 === 0 ? r.int(width * 100 + 1, width * 100 + 60) : r.int(1, 40);
      const src = noise(width, height, n);
      const outWidth = r.int(1, 90);
      const outHeight = r.int(1, n % 10 === 0 ? 400 : 90);
      const left = r.int(0, outWidth - 1);
      const top = r.int(0, outHeight - 1);
      const win = { left, top, width: r.int(1, outWidth - left), height: r.int(1, outHeight - top) };
      for (const [name, filter] of FILTERS) {
        const full = resizeU8(src.data, width, height, 3, outWidth, outHeight, filter);
        const sliced = sliceWindow(full, outWidth, win);
        const part = resizeU8(src.data, width, height, 3, outWidth, outHeight, filter, win);
        const what = `${name} ${width}x${height} -> ${outWidth}x${outHeight}, window ${JSON.stringify(win)}`;
        expect(firstDifference(part, sliced), what).toBe(-1);
        cases++;
      }
    }
    expect(cases).toBe(1800);
  });

  it('preprocess = resize then centerCrop, bit for bit, on 300 random sizes, crops and all six filters', () => {
    const r = rng(12);
    for (let n = 0; n < 300; n++) {
      const width = r.int(1, n % 10 === 0 ? 3 : 48);
      const height = n % 10 === 0 ? r.int(width * 100 + 1, width * 100 + 40) : r.int(1, 48);
      const img = noise(width, height, 1000 + n);
      // Shortest edge or a fixed size; crops smaller and larger than the resized image (padding).
      const size =
        n % 3 === 0 ? { height: r.int(1, 70), width: r.int(1, 70) } : { shortest_edge: r.int(1, 60) };
      const crop_size = { height: r.int(1, 64), width: r.int(1, 64) };
      for (const [name, resample] of FILTERS) {
        const p = new BitImageProcessor({ size, crop_size, resample });
        const twoSteps = centerCrop(p.resize(img), crop_size);
        const oneStep = p.resizeAndCrop(img);
        const what = `${name} ${width}x${height}, size ${JSON.stringify(size)}, crop ${crop_size.width}x${crop_size.height}`;
        expect([oneStep.width, oneStep.height], what).toEqual([twoSteps.width, twoSteps.height]);
        expect(firstDifference(oneStep.data, twoSteps.data), what).toBe(-1);
        // preprocess takes this path; its values are the table of these bytes.
        const unnormalized = new BitImageProcessor({
          size,
          crop_size,
          resample,
          do_rescale: false,
          do_normalize: false,
        });
        const pv = unnormalized.preprocess(img).pixel_values;
        const plane = crop_size.height * crop_size.width;
        let mismatches = 0;
        for (let i = 0; i < plane; i++)
          for (let c = 0; c < 3; c++) if (pv[c * plane + i] !== twoSteps.data[i * 3 + c]) mismatches++;
        expect(mismatches, what).toBe(0);
      }
    }
  });

  it('a 1 x 100000 PNG runs in bounded memory; a resize Pillow cannot hold is an error naming the file', async () => {
    const rows = Buffer.alloc(100_000 * 5);
    for (let y = 0; y < 100_000; y++) rows.set([0, y % 256, 0, 0, 255], y * 5);
    const img = await loadImageNode(pngFile(1, 100_000, deflateSync(rows)), { source: 'needle.png' });
    expect(new BitImageProcessor().preprocess(img).dims).toEqual([1, 3, 224, 224]); // 256 x 25,600,000 resized
    const huge = new BitImageProcessor({ size: { shortest_edge: 100_000 } }); // 100000 x 10^10
    expect(() => huge.preprocess(img)).toThrow(ImageError);
    expect(() => huge.preprocess(img)).toThrow(/^needle\.png: resizing 1x100000 to 100000x10000000000/);
  });

  it('shortest_edge 100000: cropped, it runs; uncropped, the resize is refused naming the file', () => {
    const img = { ...noise(64, 48, 5), source: 'photo.jpg' };
    const p = new BitImageProcessor({ size: { shortest_edge: 100_000 } }); // 133333 x 100000
    expect(p.preprocess(img).dims).toEqual([1, 3, 224, 224]);
    const uncropped = new BitImageProcessor({ size: { shortest_edge: 100_000 }, do_center_crop: false });
    const error = (() => {
      try {
        uncropped.preprocess(img);
      } catch (e) {
        return e as ImageLimitError;
      }
    })();
    expect(error).toBeInstanceOf(ImageLimitError);
    expect(error?.message).toMatch(/^photo\.jpg: the resize of 64x48 would be 133333x100000/);
    expect(error?.limit).toBe(MAX_IMAGE_PIXELS_ERROR);
    const bigCrop = new BitImageProcessor({ crop_size: { height: 20_000, width: 20_000 } });
    expect(() => bigCrop.preprocess(img)).toThrow(/^photo\.jpg: the center crop/);
  });
});

// Rows [top, top + height) and columns [left, left + width) of an (.., width, 3) image.
function sliceWindow(
  data: Uint8Array,
  width: number,
  win: { left: number; top: number; width: number; height: number },
): Uint8Array {
  const out = new Uint8Array(win.width * win.height * 3);
  for (let y = 0; y < win.height; y++) {
    const s = ((win.top + y) * width + win.left) * 3;
    out.set(data.subarray(s, s + win.width * 3), y * win.width * 3);
  }
  return out;
}
