import { Recorder } from '../gpu/recorder.js';
import { Linear } from './linear.js';
import { ParameterSet } from './parameters.js';

/** Threads per attention workgroup, and the widest key block tried. */
const ATTENTION_THREADS = 256;
const MAX_KEY_BLOCK = 64;

export interface AttentionShape {
  batch: number;
  tokens: number;
}

/** Part of an attention map [B, heads, T, T]: `blocks` whole (batch, head) blocks from `firstBlock`. */
export interface ProbsChunk {
  buffer: GPUBuffer;
  firstBlock: number;
  blocks: number;
}

/**
 * `encoder.layer.N.attention`: Dinov2WithRegistersAttention = self-attention (query, key, value
 * fused into one projection) + output.dense. The dense projection's epilogue applies layer_scale1
 * and the residual add (its Parameter is given by the layer).
 */
export class Attention {
  readonly qkv: Linear;
  readonly dense: Linear;
  readonly headDim: number;

  constructor(
    params: ParameterSet,
    key: string,
    readonly hidden: number,
    readonly heads: number,
    qkvBias: boolean,
  ) {
    this.headDim = hidden / heads;
    this.qkv = new Linear(
      params,
      ['query', 'key', 'value'].map((k) => `${key}.attention.${k}`),
      3 * hidden,
      hidden,
      { bias: qkvBias },
    );
    this.dense = new Linear(params, `${key}.output.dense`, hidden, hidden);
  }

  plan(shape: AttentionShape, limits: GPUSupportedLimits): { constants: Record<string, number>; queryBlock: number } {
    const chunks = Math.ceil(this.headDim / 4);
    const queryBlock = Math.floor(ATTENTION_THREADS / chunks);
    if (queryBlock < 1) throw new Error(`attention: head dim ${this.headDim} is wider than ${4 * ATTENTION_THREADS}`);
    // Workgroup memory: q [QB, hd], k and v [KB, hd], scores [QB, KB], f32 each.
    let keyBlock = MAX_KEY_BLOCK;
    const bytes = (kb: number) => 4 * (queryBlock * this.headDim + 2 * kb * this.headDim + queryBlock * kb);
    while (keyBlock > 1 && bytes(keyBlock) > limits.maxComputeWorkgroupStorageSize) keyBlock /= 2;
    if (bytes(keyBlock) > limits.maxComputeWorkgroupStorageSize) {
      throw new Error(`attention: head dim ${this.headDim} needs more workgroup memory than this device has`);
    }
    const constants = {
      HEADS: this.heads,
      HEAD_DIM: this.headDim,
      THREADS: ATTENTION_THREADS,
      KEY_BLOCK: keyBlock,
    };
    return { constants, queryBlock };
  }

  /**
   * context = attention(qkv) for every token; with `probs`, also the attention probabilities
   * [B, heads, T, T] as transformers returns them (after head_mask), in one or more chunks.
   */
  attend(
    rec: Recorder,
    qkv: GPUBuffer,
    headMask: GPUBufferBinding,
    shape: AttentionShape,
    context: GPUBuffer,
    stats: GPUBuffer,
    probs?: ProbsChunk[],
  ): void {
    const { constants: c, queryBlock } = this.plan(shape, rec.memory.device.limits);
    const uniform = rec.shape({ rows: shape.batch * shape.tokens, batch: shape.batch, tokens: shape.tokens });
    rec.dispatch('attention', 'flash', c, { qkv, head_mask: headMask, context, stats, shape: uniform }, [
      Math.ceil(shape.tokens / queryBlock),
      this.heads,
      shape.batch,
    ]);
    for (const chunk of probs ?? []) {
      rec.dispatch('attention', 'probs', { ...c, BLOCK0: chunk.firstBlock }, { qkv, head_mask: headMask, stats, probs_out: chunk.buffer, shape: uniform }, [
        Math.ceil(shape.tokens / ATTENTION_THREADS),
        shape.tokens,
        chunk.blocks,
      ]);
    }
  }
}
