// Token layout, token norms and patch similarity of the demo's views.
import { describe, expect, it } from 'vitest';
import { patchNorms, summarizeNorms, tokenNorms } from '../../demo/src/views/norms.js';
import { cosineSimilarities, patchAt } from '../../demo/src/views/similarity.js';
import { layoutFor, patchFeatures, tokenLayout } from '../../demo/src/views/tokens.js';

describe('token layout', () => {
  it('follows the image size and patch size (floor, as the patch embedding does)', () => {
    expect(layoutFor({ num_register_tokens: 4, patch_size: 14 }, 224, 224)).toMatchObject({
      gridH: 16,
      gridW: 16,
      tokens: 261,
      firstPatch: 5,
    });
    expect(layoutFor({ num_register_tokens: 0, patch_size: 14 }, 230, 100)).toMatchObject({
      gridH: 16,
      gridW: 7,
      tokens: 113,
      firstPatch: 1,
    });
  });
  it('rejects what is not a grid', () => {
    expect(() => tokenLayout(-1, 2, 2)).toThrow(/registers/);
    expect(() => tokenLayout(0, 0, 2)).toThrow(/gridH/);
    expect(() => tokenLayout(0, 2, 1.5)).toThrow(/gridW/);
  });
  it('patchFeatures takes the patch rows of the asked image of the batch', () => {
    const layout = tokenLayout(1, 1, 2); // tokens: cls, reg, p0, p1
    const d = 3;
    const hidden = Float32Array.from({ length: 2 * 4 * d }, (_, i) => i);
    expect(Array.from(patchFeatures(hidden, [2, 4, d], layout, 0))).toEqual([6, 7, 8, 9, 10, 11]);
    expect(Array.from(patchFeatures(hidden, [2, 4, d], layout, 1))).toEqual([18, 19, 20, 21, 22, 23]);
    expect(() => patchFeatures(hidden, [2, 5, d], layout)).toThrow(/not \[B, 4, D\]/);
  });
});

describe('token norms', () => {
  const layout = tokenLayout(2, 2, 2); // 7 tokens
  const d = 2;
  // cls (3,4) -> 5; registers (0,1) (6,8); patches (1,0) (0,2) (30,40) (0,1.5)
  const hidden = Float32Array.from([3, 4, 0, 1, 6, 8, 1, 0, 0, 2, 30, 40, 0, 1.5]);
  it('are Euclidean, per token', () => {
    expect(Array.from(tokenNorms(hidden, [1, 7, d], layout))).toEqual([5, 1, 10, 1, 2, 50, 1.5]);
    expect(Array.from(patchNorms(hidden, [1, 7, d], layout))).toEqual([1, 2, 50, 1.5]);
  });
  it('the summary finds the high-norm patch', () => {
    const s = summarizeNorms(tokenNorms(hidden, [1, 7, d], layout), layout);
    expect(s).toEqual({ cls: 5, registers: [1, 10], patchMedian: 1.75, patchMax: 50, outliers: [2] });
  });
});

describe('cosine similarity of patches', () => {
  const features = Float64Array.from([1, 0, 0, 1, -1, 0, 2, 2, 0, 0]); // 5 patches, d = 2; the last is zero
  it('is 1 to itself, -1 opposite, 0 orthogonal, cos 45° between, and 0 for a zero vector', () => {
    const s = cosineSimilarities(features, 5, 2, 0);
    expect(s[0]).toBe(1);
    expect(s[1]).toBe(0);
    expect(s[2]).toBe(-1);
    expect(s[3]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(s[4]).toBe(0);
    expect(Array.from(cosineSimilarities(features, 5, 2, 4))).toEqual([0, 0, 0, 0, 0]);
  });
  it('rejects a patch outside the grid', () => {
    expect(() => cosineSimilarities(features, 5, 2, 5)).toThrow(/patch 5/);
  });
  it('patchAt maps a point of the picture to its patch (row-major, clamped)', () => {
    expect(patchAt(0, 0, 3, 5)).toBe(0);
    expect(patchAt(0.99, 0.99, 3, 5)).toBe(14);
    expect(patchAt(0.5, 0.5, 3, 5)).toBe(1 * 5 + 2);
    expect(patchAt(1, 1, 3, 5)).toBe(14);
    expect(patchAt(-0.1, 0.4, 3, 5)).toBe(5);
  });
});
