// The demo's attention maps: which row and which columns of attentions[layer] [B, heads, T, T]
// each map reads, with T = 1 cls + R registers + h*w patches.
import { describe, expect, it } from 'vitest';
import {
  attentionShares,
  attentionToPatches,
  clsAttention,
  registerAttention,
} from '../../demo/src/views/attention.js';
import { tokenLayout } from '../../demo/src/views/tokens.js';

/** A tensor whose every value names its position: v(b, h, q, k) = b*1e6 + h*1e4 + q*100 + k (k < 100). */
function labelled(batch: number, heads: number, t: number): Float32Array {
  const out = new Float32Array(batch * heads * t * t);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let q = 0; q < t; q++)
        for (let k = 0; k < t; k++) out[((b * heads + h) * t + q) * t + k] = b * 1e6 + h * 1e4 + q * 100 + k;
  return out;
}

/** Rows that are softmaxes of seeded logits, as attention probabilities are. */
function softmaxRows(batch: number, heads: number, t: number, seed = 1): Float32Array {
  const out = new Float32Array(batch * heads * t * t);
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 4;
  for (let r = 0; r < batch * heads * t; r++) {
    const logits = Array.from({ length: t }, rand);
    const max = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - max));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, k) => (out[r * t + k] = v / sum));
  }
  return out;
}

describe('attention maps read the right row and the patch columns, on a 3x5 grid with 2 registers', () => {
  const layout = tokenLayout(2, 3, 5); // T = 1 + 2 + 15 = 18
  const dims = [2, 3, 18, 18];
  const att = labelled(2, 3, 18);

  it('the layout: tokens, first patch, patches', () => {
    expect(layout).toEqual({ registers: 2, gridH: 3, gridW: 5, patches: 15, firstPatch: 3, tokens: 18 });
  });

  it('cls of head h: row 0, columns 3..17 in row-major grid order', () => {
    const map = clsAttention(att, dims, layout, 1, 1);
    expect(map.length).toBe(15);
    for (let r = 0; r < 3; r++)
      for (let c = 0; c < 5; c++) expect(map[r * 5 + c]).toBe(1e6 + 1e4 + 0 * 100 + (3 + r * 5 + c));
  });

  it('the mean over heads is the mean of the per-head maps, in float64', () => {
    const mean = clsAttention(att, dims, layout, 'mean', 0);
    const heads = [0, 1, 2].map((h) => clsAttention(att, dims, layout, h, 0));
    mean.forEach((v, i) => expect(v).toBeCloseTo((heads[0][i] + heads[1][i] + heads[2][i]) / 3, 9));
  });

  it('register r reads row 1 + r', () => {
    const map = registerAttention(att, dims, layout, 1, 2, 0);
    expect(map[0]).toBe(2e4 + 2 * 100 + 3);
    expect(map[14]).toBe(2e4 + 2 * 100 + 17);
    expect(attentionToPatches(att, dims, layout, 2, 2, 0)).toEqual(map);
  });

  it('rejects heads, registers, queries, batches and dims out of range', () => {
    expect(() => clsAttention(att, dims, layout, 3)).toThrow(/head 3/);
    expect(() => registerAttention(att, dims, layout, 2, 'mean')).toThrow(/register 2/);
    expect(() => attentionToPatches(att, dims, layout, 18, 0)).toThrow(/query token 18/);
    expect(() => clsAttention(att, dims, layout, 0, 2)).toThrow(/batch 2/);
    expect(() => clsAttention(att, [2, 3, 17, 17], layout, 0)).toThrow(/not \[B, heads, 18, 18\]/);
  });
});

describe('where attention goes: cls, registers and patches share each row', () => {
  it('shares sum to 1 for softmax rows (no registers: plain DINOv2)', () => {
    for (const registers of [0, 4]) {
      const layout = tokenLayout(registers, 4, 2);
      const att = softmaxRows(1, 2, layout.tokens);
      const dims = [1, 2, layout.tokens, layout.tokens];
      for (const head of [0, 1, 'mean'] as const) {
        const s = attentionShares(att, dims, layout, 0, head);
        expect(s.cls + s.registers + s.patches).toBeCloseTo(1, 6);
        if (registers === 0) expect(s.registers).toBe(0);
        const map = clsAttention(att, dims, layout, head);
        expect(map.reduce((a, b) => a + b, 0)).toBeCloseTo(s.patches, 9);
      }
    }
  });
});
