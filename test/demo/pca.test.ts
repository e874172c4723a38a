// The demo's PCA in float64: eigenpairs checked against their definition (A·v = λ·v) and against
// a full Jacobi decomposition of the covariance, on both of its paths (Gram matrix when patches <
// channels, scatter matrix otherwise), and the paper's RGB picture with its foreground threshold.
import { describe, expect, it } from 'vitest';
import { jacobiEigen, pca, pcaPicture, topEigen } from '../../demo/src/views/pca.js';
import { random } from '../helpers/gpu.js';

/** n points in d dimensions: variances `spread` along random orthonormal axes, plus small noise. */
function cloud(n: number, d: number, spread: number[], seed: number): Float64Array {
  const rand = random(seed);
  const axes: number[][] = [];
  for (let a = 0; a < spread.length; a++) {
    let v = Array.from({ length: d }, () => rand());
    for (const u of axes) {
      const dot = v.reduce((s, x, i) => s + x * u[i], 0);
      v = v.map((x, i) => x - dot * u[i]);
    }
    const norm = Math.hypot(...v);
    axes.push(v.map((x) => x / norm));
  }
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x[i * d + j] = 3 + 0.01 * rand();
    spread.forEach((s, a) => {
      const c = s * rand() * Math.sqrt(3); // uniform with variance s²
      for (let j = 0; j < d; j++) x[i * d + j] += c * axes[a][j];
    });
  }
  return x;
}

/** Covariance [d, d] (n − 1 denominator) and the data centered. */
function covariance(x: Float64Array, n: number, d: number): { cov: Float64Array; xc: Float64Array } {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
  const xc = x.map((v, i) => v - mean[i % d]);
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < d; r++)
      for (let c = 0; c < d; c++) cov[r * d + c] += (xc[i * d + r] * xc[i * d + c]) / (n - 1);
  return { cov, xc };
}

describe('jacobiEigen: A·v = λ·v, values descending, vectors orthonormal', () => {
  it('on a random symmetric 7x7', () => {
    const rand = random(3);
    const p = 7;
    const a = new Float64Array(p * p);
    for (let i = 0; i < p; i++) for (let j = i; j < p; j++) a[i * p + j] = a[j * p + i] = rand();
    const { values, vectors } = jacobiEigen(a, p);
    for (let k = 0; k < p; k++) {
      if (k) expect(values[k]).toBeLessThanOrEqual(values[k - 1]);
      for (let i = 0; i < p; i++) {
        let av = 0;
        for (let j = 0; j < p; j++) av += a[i * p + j] * vectors[j * p + k];
        expect(av).toBeCloseTo(values[k] * vectors[i * p + k], 12);
      }
      for (let l = 0; l < p; l++) {
        let dot = 0;
        for (let i = 0; i < p; i++) dot += vectors[i * p + k] * vectors[i * p + l];
        expect(dot).toBeCloseTo(k === l ? 1 : 0, 12);
      }
    }
  });
});

describe('pca against the full eigen-decomposition of the covariance', () => {
  // [n, d]: fewer patches than channels (Gram path), more (scatter path), and a grid-like 37 x 23.
  const shapes: [number, number][] = [
    [30, 60],
    [90, 12],
    [37, 23],
  ];
  for (const [n, d] of shapes) {
    it(`${n} points in ${d} dimensions`, () => {
      const x = cloud(n, d, [5, 3, 2, 0.5], n * d);
      const got = pca(x, n, d, 3);
      expect(got.converged).toBe(true);
      const { cov, xc } = covariance(x, n, d);
      const ref = jacobiEigen(cov, d);
      let trace = 0;
      for (let j = 0; j < d; j++) trace += cov[j * d + j];
      for (let k = 0; k < 3; k++) {
        expect(got.eigenvalues[k]).toBeCloseTo(ref.values[k], 9);
        expect(got.explained[k]).toBeCloseTo(ref.values[k] / trace, 9);
        // Scores are the centered data along the reference eigenvector, up to the sign.
        const proj = Array.from({ length: n }, (_, i) => {
          let s = 0;
          for (let j = 0; j < d; j++) s += xc[i * d + j] * ref.vectors[j * d + k];
          return s;
        });
        const col = Array.from({ length: n }, (_, i) => got.scores[i * 3 + k]);
        const sign = Math.sign(col.reduce((a, v, i) => a + v * proj[i], 0));
        col.forEach((v, i) => expect(v).toBeCloseTo(sign * proj[i], 8));
        // The sign convention: skewed positive.
        expect(col.reduce((a, v) => a + v ** 3, 0)).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it('topEigen of a diagonal matrix: the largest entries, unit vectors', () => {
    const m = 6;
    const a = new Float64Array(m * m);
    [1, 9, 4, 7, 2, 3].forEach((v, i) => (a[i * m + i] = v));
    const { values, vectors, converged } = topEigen(a, m, 3);
    expect(converged).toBe(true);
    expect(values.map((v) => +v.toFixed(10))).toEqual([9, 7, 4]);
    expect(Math.abs(vectors[1 * 3 + 0])).toBeCloseTo(1, 10);
    expect(Math.abs(vectors[3 * 3 + 1])).toBeCloseTo(1, 10);
    expect(Math.abs(vectors[2 * 3 + 2])).toBeCloseTo(1, 10);
  });

  it('degenerate input gives zeros, not NaN: identical rows, one row, rank one', () => {
    const same = new Float64Array(5 * 4).fill(2);
    const p = pca(same, 5, 4);
    expect(Array.from(p.scores).every((v) => v === 0)).toBe(true);
    expect(p.eigenvalues).toEqual([0, 0, 0]);
    expect(pca(Float64Array.from([1, 2, 3]), 1, 3).eigenvalues).toEqual([0, 0, 0]);
    const rank1 = Float64Array.from({ length: 6 * 3 }, (_, i) => Math.floor(i / 3) * [1, 2, 3][i % 3]);
    const r = pca(rank1, 6, 3);
    expect(Array.from(r.scores).every(Number.isFinite)).toBe(true);
    expect(r.explained[0]).toBeCloseTo(1, 12);
    expect(r.eigenvalues[1]).toBeCloseTo(0, 10);
  });
});

describe("pcaPicture: the DINOv2 paper's RGB of the first three components", () => {
  const n = 48;
  const d = 16;
  // Two groups: 12 "object" patches far from 36 "background" ones along one axis.
  const x = cloud(n, d, [1, 0.8, 0.6, 0.4], 9);
  for (let i = 0; i < 12; i++) x[i * d] += 12;

  it('without a threshold: every patch shown, each channel min-max scaled to 0..255', () => {
    const pic = pcaPicture(x, n, d);
    expect(pic.second).toBeUndefined();
    expect(Array.from(pic.foreground).every((f) => f === 1)).toBe(true);
    for (let c = 0; c < 3; c++) {
      const ch = Array.from({ length: n }, (_, i) => pic.rgba[i * 4 + c]);
      expect(Math.min(...ch)).toBe(0);
      expect(Math.max(...ch)).toBe(255);
      ch.forEach((v, i) => {
        const s = pic.first.scores.filter((_, j) => j % 3 === c);
        const t = (pic.first.scores[i * 3 + c] - Math.min(...s)) / (Math.max(...s) - Math.min(...s));
        expect(v).toBe(Math.round(255 * t));
      });
    }
    for (let i = 0; i < n; i++) expect(pic.rgba[i * 4 + 3]).toBe(255);
  });

  it('the smaller group comes out positive on the first component, and a threshold keeps exactly it', () => {
    const pic = pcaPicture(x, n, d, 0.5);
    for (let i = 0; i < n; i++) expect(pic.foreground[i]).toBe(i < 12 ? 1 : 0);
    expect(pic.second).toBeDefined();
    // The second PCA is that of the foreground rows alone.
    const fg = x.slice(0, 12 * d);
    expect(pic.second!.eigenvalues).toEqual(pca(fg, 12, d).eigenvalues);
    for (let i = 12; i < n; i++)
      expect(Array.from(pic.rgba.subarray(i * 4, i * 4 + 4))).toEqual([0, 0, 0, 255]);
  });

  it('a threshold that keeps fewer than two patches paints those with the first PCA', () => {
    const pic = pcaPicture(x, n, d, 0.9999);
    expect(pic.second).toBeUndefined();
    expect(pic.foreground.reduce((a, b) => a + b, 0)).toBeLessThan(2);
  });
});
