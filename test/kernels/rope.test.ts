// DINOv3's 2D RoPE as attention.wgsl applies it (q and k of the patch tokens rotated as they are
// read) against its float64 twin (src/model/rope.ts's tables, rotated in float64, then the float64
// attention), on grids of one row, one column and odd non-square shapes, with and without
// registers, over several head sizes.
import { describe, expect, it } from 'vitest';
import { Attention, plainAttention } from '../../src/model/attention.js';
import { ParameterSet } from '../../src/model/parameters.js';
import { applyRope64, RopeEmbedding, ropeTables64 } from '../../src/model/rope.js';
import { runAttention } from '../helpers/attention_run.js';
import { expectClose } from '../helpers/compare.js';
import { random, randomArray, runOnGpu } from '../helpers/gpu.js';
import { attention64, splitQkv } from '../reference/ops_f64.js';

interface Case {
  batch: number;
  gridH: number;
  gridW: number;
  /** cls + registers: the tokens not rotated. */
  prefix: number;
  heads: number;
  headDim: number;
  theta: number;
}

async function check(c: Case, seed: number): Promise<number> {
  const { batch, gridH, gridW, prefix, heads, headDim, theta } = c;
  const tokens = prefix + gridH * gridW;
  const d = heads * headDim;
  const rand = random(seed);
  const qkv = randomArray(batch * tokens * 3 * d, rand, -2, 2);
  const attn = new Attention(new ParameterSet(), plainAttention(d, heads));
  const embedding = new RopeEmbedding(headDim, theta);
  const { context, probs } = await runAttention(
    attn,
    qkv,
    new Float32Array(heads).fill(1),
    batch,
    tokens,
    runOnGpu,
    { embedding, gridH, gridW, prefix },
  );
  // The twin: q and k of every patch token rotated per head in float64, then plain attention.
  const [q, k, v] = splitQkv(qkv, batch * tokens, d).map((t) => Float64Array.from(t));
  const tables = ropeTables64(gridH, gridW, headDim, theta);
  for (let b = 0; b < batch; b++) {
    for (let t = prefix; t < tokens; t++) {
      for (let h = 0; h < heads; h++) {
        const offset = (b * tokens + t) * d + h * headDim;
        applyRope64(q, offset, tables, t - prefix);
        applyRope64(k, offset, tables, t - prefix);
      }
    }
  }
  const ref = attention64(q, k, v, { batch, tokens, heads, headDim });
  const name = `rope ${JSON.stringify(c)}`;
  return Math.max(
    expectClose(context, ref.context, `${name} context`),
    expectClose(probs, ref.probs, `${name} probs`),
  );
}

describe('attention.wgsl with RoPE against float64', () => {
  const cases: Case[] = [
    { batch: 1, gridH: 1, gridW: 7, prefix: 1, heads: 2, headDim: 8, theta: 100 }, // 1 x n
    { batch: 2, gridH: 9, gridW: 1, prefix: 5, heads: 3, headDim: 4, theta: 100 }, // n x 1, one frequency
    { batch: 1, gridH: 3, gridW: 5, prefix: 5, heads: 2, headDim: 16, theta: 100 }, // non-square
    { batch: 3, gridH: 7, gridW: 2, prefix: 1, heads: 1, headDim: 12, theta: 10000 },
    { batch: 1, gridH: 4, gridW: 6, prefix: 3, heads: 2, headDim: 64, theta: 7.5 }, // ViT-S/16's head size
    { batch: 1, gridH: 5, gridW: 3, prefix: 2, heads: 1, headDim: 20, theta: 100 }, // d/4 odd
  ];
  for (const [i, c] of cases.entries()) {
    it(`B=${c.batch} grid ${c.gridH}x${c.gridW} prefix ${c.prefix} heads=${c.heads} head_dim=${c.headDim} θ=${c.theta}`, async () => {
      expect(await check(c, 800 + i)).toBeLessThan(1e-5);
    });
  }

  it('the table is the float64 one rounded to float32, (cos, sin) per patch and frequency, made once per grid', async () => {
    const embedding = new RopeEmbedding(12, 100);
    const { table } = await runOnGpu(
      ({ memory }) => {
        const t = embedding.table(memory, 3, 5);
        expect(embedding.table(memory, 3, 5), 'the same grid: the cached table').toBe(t);
        expect(embedding.table(memory, 5, 3), 'another grid: another table').not.toBe(t);
        return { table: t };
      },
      { table: 3 * 5 * 6 * 2 },
    );
    const { cos, sin } = ropeTables64(3, 5, 12, 100);
    const expected = new Float32Array(cos.length * 2);
    cos.forEach((c, i) => {
      expected[2 * i] = c;
      expected[2 * i + 1] = sin[i];
    });
    expect(table).toEqual(expected);
  });
});
