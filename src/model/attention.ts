import type { Recorder } from '../gpu/recorder.js';
import type { StorageType } from '../gpu/shaders.js';
import { isDinov3, type ModelConfig } from '../io/model_config.js';
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

/** DINOv3's rotary position embedding for one call: the (cos, sin) table of its patch grid (src/model/rope.ts). */
export interface RopeBinding {
  table: GPUBuffer;
  /** Tokens before the patch tokens (cls and registers): not rotated. */
  prefix: number;
}

/** Sizes and checkpoint keys of an attention: q, k, v (fused in this order) and the output projection. */
export interface AttentionSpec {
  hidden: number;
  heads: number;
  qkv: string[];
  /** Per q, k, v: whether the checkpoint has its bias. */
  qkvBias: boolean[];
  dense: string;
  denseBias: boolean;
}

/** The attention of the layer at `key` (`encoder.layer.N.attention`, `layer.N.attention`), as config.json describes it. */
export function attentionSpec(config: ModelConfig, key: string): AttentionSpec {
  const sizes = { hidden: config.hidden_size, heads: config.num_attention_heads };
  if (isDinov3(config)) {
    return {
      ...sizes,
      qkv: ['q_proj', 'k_proj', 'v_proj'].map((k) => `${key}.${k}`),
      qkvBias: [config.query_bias, config.key_bias, config.value_bias],
      dense: `${key}.o_proj`,
      denseBias: config.proj_bias,
    };
  }
  return {
    ...sizes,
    qkv: ['query', 'key', 'value'].map((k) => `${key}.attention.${k}`),
    qkvBias: [config.qkv_bias, config.qkv_bias, config.qkv_bias],
    dense: `${key}.output.dense`,
    denseBias: true,
  };
}

/** An attention of `hidden` features in `heads` heads under the keys attention.{q,k,v,o}, every bias: for running attend() alone. */
export function plainAttention(hidden: number, heads: number): AttentionSpec {
  const keys = ['q', 'k', 'v'].map((k) => `attention.${k}`);
  return { hidden, heads, qkv: keys, qkvBias: [true, true, true], dense: 'attention.o', denseBias: true };
}

/**
 * The attention of a layer, its projections fused: q, k and v into one [3D] projection, then the
 * output projection, whose epilogue applies layer_scale1 and the residual add (its Parameter is
 * given by the layer).
 *   DINOv2 `encoder.layer.N.attention`: attention.{query,key,value} (biases by qkv_bias) and
 *          output.dense (Dinov2WithRegistersAttention).
 *   DINOv3 `layer.N.attention`: {q,k,v}_proj with biases by query_bias, key_bias, value_bias (an
 *          absent bias is zero in the fused one) and o_proj by proj_bias (DINOv3ViTAttention);
 *          2D RoPE rotates q and k of the patch tokens as attention.wgsl reads them.
 */
export class Attention {
  readonly qkv: Linear;
  readonly dense: Linear;
  readonly headDim: number;
  /** The last plan and the limits it was made for (the same for every forward on one device). */
  private planned:
    | { limits: GPUSupportedLimits; plan: { constants: Record<string, number>; queryBlock: number } }
    | undefined;

  readonly hidden: number;
  readonly heads: number;

  constructor(
    params: ParameterSet,
    spec: AttentionSpec,
    /** Storage of the projection weights, of qkv and of the context (src/model/precision.ts). */
    readonly storage: StorageType = 'f32',
  ) {
    const d = spec.hidden;
    this.hidden = d;
    this.heads = spec.heads;
    this.headDim = d / this.heads;
    this.qkv = new Linear(params, spec.qkv, 3 * d, d, { bias: spec.qkvBias, storage });
    this.dense = new Linear(params, spec.dense, d, d, { bias: spec.denseBias, storage });
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
    rope?: RopeBinding,
  ): void {
    const planned = this.plan(rec.memory.device.limits);
    const queryBlock = planned.queryBlock;
    const c = { ...planned.constants, ROPE: rope ? 1 : 0, ROPE_PREFIX: rope?.prefix ?? 0 };
    // Without RoPE the table is never read; the binding still needs a buffer, and head_mask serves.
    const ropeTable = rope?.table ?? headMask.buffer;
    const uniform = rec.shape({ rows: shape.batch * shape.tokens, batch: shape.batch, tokens: shape.tokens });
    const types = { A: this.storage };
    rec.dispatch(
      'attention',
      'flash',
      c,
      { qkv, head_mask: headMask, context, stats, rope: ropeTable, shape: uniform },
      [Math.ceil(shape.tokens / queryBlock), this.heads, shape.batch],
      types,
    );
    for (const chunk of probs ?? []) {
      rec.dispatch(
        'attention',
        'probs',
        { ...c, BLOCK0: chunk.firstBlock },
        { qkv, head_mask: headMask, stats, probs_out: chunk.buffer, rope: ropeTable, shape: uniform },
        [Math.ceil(shape.tokens / PROBS_THREADS), shape.tokens, chunk.blocks],
        types,
      );
    }
  }
}
