import type { Recorder } from '../gpu/recorder.js';
import type { StorageType } from '../gpu/shaders.js';
import type { ModelConfig } from '../io/model_config.js';
import {
  Attention,
  type AttentionShape,
  attentionSpec,
  type ProbsChunk,
  type RopeBinding,
} from './attention.js';
import { LayerNorm } from './layernorm.js';
import { Mlp } from './mlp.js';
import type { Parameter } from './packing.js';
import type { ParameterSet } from './parameters.js';

/** Scratch shared by the layers of one forward (from the workspace of its input shape, see Recorder). */
export interface LayerScratch {
  // qkv, context and mlpHidden hold the layer's storage type (f16 with dtype 'fp16').
  qkv: GPUBuffer; // [rows, 3D]
  context: GPUBuffer; // [rows, D]
  stats: GPUBuffer; // [B, heads, T] x (max, sum)
  mlpHidden: GPUBuffer; // [rows, mlp hidden]
}

/**
 * `encoder.layer.N` (Dinov2WithRegistersLayer) or `layer.N` (DINOv3ViTLayer), pre-norm with
 * layer-scaled residuals:
 *   x = x + layer_scale1(attention(norm1(x)))
 *   x = x + layer_scale2(mlp(norm2(x)))
 * norm1 and norm2 run as the prologue of the projection that follows them, so a layer is five
 * dispatches: qkv (norm1), attention, dense (+λ1, +x), fc1 (norm2, +act), fc2 (+λ2, +x).
 */
export class Layer {
  readonly norm1: LayerNorm;
  readonly attention: Attention;
  readonly layerScale1: Parameter;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly layerScale2: Parameter;

  constructor(
    params: ParameterSet,
    key: string,
    config: ModelConfig,
    /** Storage of the projection weights and of qkv, context and the MLP hidden layer (src/model/precision.ts). */
    readonly storage: StorageType = 'f32',
  ) {
    const d = config.hidden_size;
    this.norm1 = new LayerNorm(params, `${key}.norm1`, d, config.layer_norm_eps);
    this.attention = new Attention(params, attentionSpec(config, `${key}.attention`), storage);
    this.layerScale1 = params.vector4(`${key}.layer_scale1.lambda1`, d);
    this.norm2 = new LayerNorm(params, `${key}.norm2`, d, config.layer_norm_eps);
    this.mlp = new Mlp(params, `${key}.mlp`, config, storage);
    this.layerScale2 = params.vector4(`${key}.layer_scale2.lambda1`, d);
  }

  /**
   * Updates the residual stream `x` [B * T, D] in place; writes the probabilities to `probs` when
   * given; `rope`: DINOv3's rotary table of this call's grid.
   */
  forward(
    rec: Recorder,
    x: GPUBuffer,
    shape: AttentionShape,
    headMask: GPUBufferBinding,
    s: LayerScratch,
    probs?: ProbsChunk[],
    rope?: RopeBinding,
  ): void {
    const rows = shape.batch * shape.tokens;
    const half = this.storage;
    this.attention.qkv.forward(rec, x, rows, s.qkv, { norm: this.norm1, types: { Y: half } });
    this.attention.attend(rec, s.qkv, headMask, shape, s.context, s.stats, probs, rope);
    this.attention.dense.forward(rec, s.context, rows, x, {
      residualScale: this.layerScale1,
      types: { X: half },
    });
    this.mlp.forward(rec, x, rows, s.mlpHidden, x, this.layerScale2, this.norm2);
  }
}
