import type { Recorder } from '../gpu/recorder.js';
import type { StorageType } from '../gpu/shaders.js';
import { Linear } from './linear.js';
import type { ParameterSet } from './parameters.js';

/** Threads per workgroup of `attention.probs`; the widest query block `attention.flash` tries, in groups of 4. */
const PROBS_THREADS = 256;
const MAX_QUERY_GROUPS = 8;

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
  /** The last plan and the limits it was made for (the same for every forward on one device). */
  private planned:
    | { limits: GPUSupportedLimits; plan: { constants: Record<string, number>; queryBlock: number } }
    | undefined;

  constructor(
    params: ParameterSet,
    key: string,
    readonly hidden: number,
    readonly heads: number,
    qkvBias: boolean,
    /** Storage of the projection weights, of qkv and of the context (src/model/precision.ts). */
    readonly storage: StorageType = 'f32',
  ) {
    this.headDim = hidden / heads;
    this.qkv = new Linear(
      params,
      ['query', 'key', 'value'].map((k) => `${key}.attention.${k}`),
      3 * hidden,
      hidden,
      { bias: qkvBias, storage },
    );
    this.dense = new Linear(params, `${key}.output.dense`, hidden, hidden, { storage });
  }

  /**
   * Blocks of attention.flash (see the WGSL): 4 * QUERY_GROUPS queries per workgroup, 8 * KEY_GROUPS
   * keys per block, the largest that fit the device's workgroup memory, queries first. Depends only
   * on the head size and the device, so it is made once per device.
   */
  plan(limits: GPUSupportedLimits): { constants: Record<string, number>; queryBlock: number } {
    if (this.planned?.limits !== limits) this.planned = { limits, plan: this.makePlan(limits) };
    return this.planned.plan;
  }

  private makePlan(limits: GPUSupportedLimits): { constants: Record<string, number>; queryBlock: number } {
    const hd = this.headDim;
    const dimColumns = Math.ceil(hd / 16);
    // attention.wgsl's workgroup arrays, in vec4, sized here and set as its overrides: q [hd][qg];
    // k [hd][2 kg] sharing one tile with v [8 kg][4 dimColumns]; p [8 kg][qg]; block maxima [kg][qg].
    const tiles = (qg: number, kg: number) => ({
      Q_TILE: hd * qg,
      KV_TILE: 8 * kg * 4 * dimColumns,
      P_TILE: 8 * kg * qg,
      MAX_TILE: kg * qg,
    });
    const bytes = (qg: number, kg: number) => 16 * Object.values(tiles(qg, kg)).reduce((a, b) => a + b, 0);
    const maxThreads = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
    for (let qg = MAX_QUERY_GROUPS; qg >= 1; qg /= 2) {
      for (let kg = 4; kg >= 1; kg /= 2) {
        if (
          bytes(qg, kg) > limits.maxComputeWorkgroupStorageSize ||
          qg * Math.max(kg, dimColumns) > maxThreads
        )
          continue;
        const queryBlock = 4 * qg;
        const constants = {
          HEADS: this.heads,
          HEAD_DIM: hd,
          QUERY_GROUPS: qg,
          KEY_GROUPS: kg,
          DIM_COLUMNS: dimColumns,
          QUERY_BLOCK: queryBlock,
          ...tiles(qg, kg),
          THREADS: PROBS_THREADS,
        };
        return { constants, queryBlock };
      }
    }
    throw new Error(
      `attention: head dim ${hd} needs ${bytes(1, 1)} bytes of workgroup memory and ${dimColumns} threads per workgroup; ` +
        `this device allows ${limits.maxComputeWorkgroupStorageSize} and ${maxThreads}`,
    );
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
    const { constants: c, queryBlock } = this.plan(rec.memory.device.limits);
    const uniform = rec.shape({ rows: shape.batch * shape.tokens, batch: shape.batch, tokens: shape.tokens });
    const types = { A: this.storage };
    rec.dispatch(
      'attention',
      'flash',
      c,
      { qkv, head_mask: headMask, context, stats, shape: uniform },
      [Math.ceil(shape.tokens / queryBlock), this.heads, shape.batch],
      types,
    );
    for (const chunk of probs ?? []) {
      rec.dispatch(
        'attention',
        'probs',
        { ...c, BLOCK0: chunk.firstBlock },
        { qkv, head_mask: headMask, stats, probs_out: chunk.buffer, shape: uniform },
        [Math.ceil(shape.tokens / PROBS_THREADS), shape.tokens, chunk.blocks],
        types,
      );
    }
  }
}
