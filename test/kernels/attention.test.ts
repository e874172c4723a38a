import { describe, expect, it } from 'vitest';
import { Attention } from '../../src/model/attention.js';
import { ParameterSet } from '../../src/model/parameters.js';
import { expectClose } from '../helpers/compare.js';
import { random, randomArray, runOnGpu } from '../helpers/gpu.js';
import { attention } from '../helpers/reference_ops.js';

async function check(batch: number, tokens: number, heads: number, headDim: number, seed: number, withMask: boolean) {
  const rand = random(seed);
  const d = heads * headDim;
  // Peaky attention: scores spread over several units.
  const qkv = randomArray(batch * tokens * 3 * d, rand, -2, 2);
  const headMask = withMask ? Float32Array.from({ length: heads }, (_, h) => (h % 3 === 1 ? 0 : 0.5 + h / heads)) : new Float32Array(heads).fill(1);
  const attn = new Attention(new ParameterSet(), 'attention', d, heads, true);
  const { context, probs } = await runOnGpu(
    ({ memory, rec }) => {
      const qkvBuf = memory.upload('qkv', qkv);
      const maskBuf = memory.upload('head_mask', headMask);
      const ctx = memory.create('context', batch * tokens * d * 4);
      const stats = memory.create('stats', batch * heads * tokens * 8);
      const p = memory.create('probs', batch * heads * tokens * tokens * 4);
      attn.attend(rec, qkvBuf, { buffer: maskBuf, offset: 0, size: heads * 4 }, { batch, tokens }, ctx, stats, [{ buffer: p, firstBlock: 0, blocks: batch * heads }]);
      return { context: ctx, probs: p };
    },
    { context: batch * tokens * d, probs: batch * heads * tokens * tokens },
  );
  const ref = attention(qkv, batch, tokens, heads, headDim, headMask);
  const name = `attention B${batch} T${tokens} H${heads} hd${headDim}`;
  return Math.max(expectClose(context, ref.context, `${name} context`), expectClose(probs, ref.probs, `${name} probs`));
}

describe('attention.wgsl: flash attention and the probabilities rebuilt from its statistics, against float64', () => {
  const cases: [number, number, number, number][] = [
    [1, 1, 1, 4],
    [1, 5, 1, 1],
    [2, 21, 4, 16], // 1 + 4 registers + 4x4 patches
    [1, 19, 3, 16],
    [1, 70, 2, 8],
    [2, 37, 6, 10], // head dim not a multiple of 4
    [1, 131, 5, 6],
    [1, 261, 6, 64], // ViT-S/14 at 224: 1 + 4 + 256 tokens
  ];
  for (const [i, [b, t, h, hd]] of cases.entries()) {
    it(`B=${b} T=${t} heads=${h} head_dim=${hd}`, async () => {
      expect(await check(b, t, h, hd, 50 + i, false)).toBeLessThan(1e-5);
    });
  }
  it('head_mask multiplies the probabilities (and so the context) per head', async () => {
    expect(await check(2, 23, 4, 8, 99, true)).toBeLessThan(1e-5);
  });
});
