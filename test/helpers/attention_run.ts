import type { Attention } from '../../src/model/attention.js';
import type { RopeEmbedding } from '../../src/model/rope.js';
import { type Harness, runOnGpu } from './gpu.js';

/**
 * attn.attend on `qkv` [batch * tokens, 3 * D] with one head-mask row; reads back the context and
 * every probability. `rope`: DINOv3's rotary embedding for a gridH x gridW grid after `prefix` tokens.
 */
export function runAttention(
  attn: Attention,
  qkv: Float32Array,
  headMask: Float32Array,
  batch: number,
  tokens: number,
  run: typeof runOnGpu = runOnGpu,
  rope?: { embedding: RopeEmbedding; gridH: number; gridW: number; prefix: number },
): Promise<Record<string, Float32Array>> {
  const { heads, hidden: d } = attn;
  return run(
    ({ memory, rec }: Harness) => {
      const qkvBuf = memory.upload('qkv', qkv);
      const maskBuf = memory.upload('head_mask', headMask);
      const ctx = memory.create('context', batch * tokens * d * 4);
      const stats = memory.create('stats', batch * heads * tokens * 8);
      const p = memory.create('probs', batch * heads * tokens * tokens * 4);
      attn.attend(
        rec,
        qkvBuf,
        { buffer: maskBuf, offset: 0, size: heads * 4 },
        { batch, tokens },
        ctx,
        stats,
        [{ buffer: p, firstBlock: 0, blocks: batch * heads }],
        rope && { table: rope.embedding.table(memory, rope.gridH, rope.gridW), prefix: rope.prefix },
      );
      return { context: ctx, probs: p };
    },
    { context: batch * tokens * d, probs: batch * heads * tokens * tokens },
  );
}
