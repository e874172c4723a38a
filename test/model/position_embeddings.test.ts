import { describe, expect, it } from 'vitest';
import {
  keysCubic,
  positionEmbeddingsFor,
  positionEmbeddingsFor64,
  resampleWeights,
  type ResampleWeights,
} from '../../src/model/position_embeddings.js';

/** The weights of output i as a dense row over the input (clamped taps add up on the border). */
function denseRow(f: ResampleWeights, i: number): number[] {
  const row = new Array<number>(f.inSize).fill(0);
  for (let t = 0; t < f.taps; t++) row[f.index[i * f.taps + t]] += f.weight[i * f.taps + t];
  return row;
}

function expectRow(f: ResampleWeights, i: number, expected: number[]): void {
  const row = denseRow(f, i);
  expect(row.length).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) expect(row[k]).toBeCloseTo(expected[k], 14);
}

/** A [1 + s*s, D] table with distinct values everywhere. */
function table(side: number, dim: number, seed = 1): Float64Array {
  const t = new Float64Array((1 + side * side) * dim);
  let s = seed;
  for (let i = 0; i < t.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    t[i] = s / 2147483648 - 0.5;
  }
  return t;
}

describe('the bicubic kernel', () => {
  it('is Keys cubic convolution: 1 at 0, 0 at the integers, a = -0.5 by default', () => {
    expect(keysCubic(0)).toBe(1);
    for (const x of [1, -1, 2, -2, 2.5, 7]) expect(keysCubic(x)).toBe(0);
    // (a + 2)|x|^3 - (a + 3)|x|^2 + 1 with a = -0.5 at 0.5; a|x|^3 - 5a|x|^2 + 8a|x| - 4a at 1.5.
    expect(keysCubic(0.5)).toBeCloseTo(1.5 * 0.125 - 2.5 * 0.25 + 1, 15);
    expect(keysCubic(-1.5)).toBeCloseTo(-0.5 * 3.375 + 2.5 * 2.25 - 4 * 1.5 + 2, 15);
    expect(keysCubic(0.5, -0.75)).toBeCloseTo(1.25 * 0.125 - 2.25 * 0.25 + 1, 15);
  });
});

describe('resampleWeights', () => {
  it('is the identity when the size does not change, with or without antialias', () => {
    for (const antialias of [true, false]) {
      const f = resampleWeights(5, 5, antialias);
      for (let i = 0; i < 5; i++)
        expectRow(
          f,
          i,
          [0, 1, 2, 3, 4].map((k) => (k === i ? 1 : 0)),
        );
    }
  });

  it('antialiased weights of every output sum to one, growing and shrinking', () => {
    for (const [n, m] of [
      [4, 9],
      [4, 3],
      [37, 5],
      [16, 31],
      [3, 1],
      [1, 4],
      [7, 2],
    ]) {
      const f = resampleWeights(n, m, true);
      for (let i = 0; i < m; i++) {
        const row = denseRow(f, i);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
      }
    }
  });

  it('4-tap bicubic weights (no antialias) sum to one as well', () => {
    for (const [n, m] of [
      [4, 9],
      [4, 3],
      [37, 5],
      [2, 3],
    ]) {
      const f = resampleWeights(n, m, false);
      expect(f.taps).toBe(4);
      for (let i = 0; i < m; i++) expect(denseRow(f, i).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    }
  });

  it('antialias, 2 -> 4 (hand-checked): the window is clipped to the input and renormalised', () => {
    // Output 0: center 0.25, taps 0 and 1 at distances 0.25 and 1.25: keys = 111/128 and -9/128,
    // divided by their sum 102/128.
    const f = resampleWeights(2, 4, true);
    expect(f.taps).toBe(5); // ceil(support 2) * 2 + 1
    expectRow(f, 0, [37 / 34, -3 / 34]);
    expectRow(f, 3, [-3 / 34, 37 / 34]);
    // Output 1: center 0.75: distances 0.25 and 0.75 from the two samples' centres 0.5, 1.5 ... after
    // the +0.5 shift: tap 0 at (0 - 0.75 + 0.5) = -0.25, tap 1 at 0.75.
    const w0 = keysCubic(-0.25);
    const w1 = keysCubic(0.75);
    expectRow(f, 1, [w0 / (w0 + w1), w1 / (w0 + w1)]);
  });

  it('antialias, 4 -> 2 (hand-checked): support stretched to 4, distances divided by the scale 2', () => {
    const f = resampleWeights(4, 2, true);
    expect(f.taps).toBe(9); // ceil(4) * 2 + 1
    // Output 0: center 1, window [0, 4): distances (j + 0.5 - 1) / 2 = -0.25, 0.25, 0.75, 1.25.
    const w = [-0.25, 0.25, 0.75, 1.25].map((x) => keysCubic(x));
    const total = w.reduce((a, b) => a + b, 0);
    expectRow(
      f,
      0,
      w.map((x) => x / total),
    );
    expectRow(f, 1, w.map((x) => x / total).reverse());
  });

  it('no antialias, 2 -> 4 (hand-checked): a = -0.75 at source -0.25, taps clamped onto the border', () => {
    // x = 0.5 * 0.5 - 0.5 = -0.25: x0 = -1, t = 0.75. Taps -2, -1, 0 all land on sample 0.
    // Weights at distances 1.75, 0.75, 0.25, 1.25: -0.03515625, 0.26171875, 0.87890625, -0.10546875.
    const f = resampleWeights(2, 4, false);
    expectRow(f, 0, [-0.03515625 + 0.26171875 + 0.87890625, -0.10546875]);
    // x = 1.5 * 0.5 - 0.5 = 0.25: x0 = 0, t = 0.25: taps -1 (-> 0), 0, 1, 2 (-> 1).
    expectRow(f, 1, [-0.10546875 + 0.87890625, 0.26171875 - 0.03515625]);
  });

  it('no antialias, 5 -> 2: no stretching of the kernel when shrinking (it aliases)', () => {
    // x = 2.5 * 0.5 - 0.5 = 0.75: x0 = 0, t = 0.75: taps -1 (-> 0), 0, 1, 2 at distances 1.75, 0.75,
    // 0.25, 1.25; samples 3 and 4 take no part.
    const f = resampleWeights(5, 2, false);
    expectRow(f, 0, [-0.03515625 + 0.26171875, 0.87890625, -0.10546875, 0, 0]);
    // x = 2.5 * 1.5 - 0.5 = 3.25: x0 = 3, t = 0.25: taps 2, 3, 4, 5 (-> 4).
    expectRow(f, 1, [0, 0, -0.10546875, 0.87890625, 0.26171875 - 0.03515625]);
  });
});

describe('positionEmbeddingsFor', () => {
  const dim = 3;
  const patch = 14;

  it('returns the table unchanged for the checkpoint grid on a square input', () => {
    const t = table(4, dim);
    expect(Array.from(positionEmbeddingsFor64(t, dim, patch, 56, 56, true))).toEqual(Array.from(t));
    // 60 px floors to the same 4 x 4 grid; still square, still skipped.
    expect(Array.from(positionEmbeddingsFor64(t, dim, patch, 60, 60, false))).toEqual(Array.from(t));
    const f32 = positionEmbeddingsFor(Float32Array.from(t), dim, patch, 56, 56, true);
    expect(f32).toBeInstanceOf(Float32Array);
    expect(Array.from(f32)).toEqual(Array.from(Float32Array.from(t)));
  });

  it('resamples when the patch count matches but the input is not square (transformers compares pixels)', () => {
    // 4 x 4 grid of 16 positions; a 28 x 112 input also has 16 patches, laid out 2 x 8.
    const t = table(4, dim);
    const out = positionEmbeddingsFor64(t, dim, patch, 28, 112, true);
    expect(out.length).toBe((1 + 16) * dim);
    expect(Array.from(out)).not.toEqual(Array.from(t));
    // 56 x 60 floors to 4 x 4 patches: interpolated, but onto the same grid, so the identity.
    const same = positionEmbeddingsFor64(t, dim, patch, 56, 60, true);
    for (let i = 0; i < t.length; i++) expect(same[i]).toBeCloseTo(t[i], 15);
  });

  it('keeps row 0 (cls) and resamples the grid separably, rows (y) and columns (x) independently', () => {
    const side = 4;
    const t = table(side, dim, 7);
    for (const antialias of [true, false]) {
      for (const [h, w] of [
        [42, 70],
        [112, 112],
        [28, 56],
        [98, 42],
      ]) {
        const gh = Math.floor(h / patch);
        const gw = Math.floor(w / patch);
        const out = positionEmbeddingsFor64(t, dim, patch, h, w, antialias);
        expect(out.length).toBe((1 + gh * gw) * dim);
        expect(Array.from(out.subarray(0, dim))).toEqual(Array.from(t.subarray(0, dim)));
        // Dense 2-D sum out[y, x] = sum_{a, b} wh[y][a] ww[x][b] in[a, b].
        const fh = resampleWeights(side, gh, antialias);
        const fw = resampleWeights(side, gw, antialias);
        for (let y = 0; y < gh; y++) {
          const rh = denseRow(fh, y);
          for (let x = 0; x < gw; x++) {
            const rw = denseRow(fw, x);
            for (let c = 0; c < dim; c++) {
              let ref = 0;
              for (let a = 0; a < side; a++)
                for (let b = 0; b < side; b++) ref += rh[a] * rw[b] * t[(1 + a * side + b) * dim + c];
              expect(out[(1 + y * gw + x) * dim + c]).toBeCloseTo(ref, 13);
            }
          }
        }
      }
    }
  });

  it('a constant grid stays constant, shrinking and growing', () => {
    const side = 5;
    const t = new Float64Array((1 + side * side) * 2).fill(0.25);
    for (const antialias of [true, false]) {
      for (const [h, w] of [
        [14, 14],
        [28, 70],
        [140, 42],
        [210, 210],
      ]) {
        const out = positionEmbeddingsFor64(t, 2, patch, h, w, antialias);
        for (const v of out) expect(v).toBeCloseTo(0.25, 14);
      }
    }
  });

  it('rejects a table whose patch rows are not a square grid, and inputs smaller than a patch', () => {
    expect(() => positionEmbeddingsFor64(new Float64Array(6 * dim), dim, patch, 28, 42, true)).toThrow(
      /square/,
    );
    expect(() => positionEmbeddingsFor64(table(2, dim), dim, patch, 13, 28, true)).toThrow(/patch/);
  });
});
