import type { Recorder } from '../gpu/recorder.js';
import type { StorageType } from '../gpu/shaders.js';
import { isDinov3, mlpFeatures, type ModelConfig } from '../io/model_config.js';
import { ACTIVATION_CODES } from './activations.js';
import type { LayerNorm } from './layernorm.js';
import { Linear } from './linear.js';
import type { Parameter } from './packing.js';
import type { ParameterSet } from './parameters.js';

/**
 * `encoder.layer.N.mlp` (DINOv2) or `layer.N.mlp` (DINOv3):
 *   DINOv2   fc1 -> hidden_act -> fc2 (Dinov2WithRegistersMLP), or with use_swiglu_ffn
 *            weights_in -> silu(x1) * x2 -> weights_out (Dinov2WithRegistersSwiGLUFFN)
 *   DINOv3   up_proj -> hidden_act -> down_proj, or with use_gated_mlp
 *            [gate_proj; up_proj] -> hidden_act(gate) * up -> down_proj (DINOv3ViTGatedMLP);
 *            mlp_bias covers every linear.
 * The gated pair is one projection whose halves linear.wgsl interleaves (the gate first), the
 * activation is fused into the first projection, layer_scale2 and the residual into the second.
 */
export class Mlp {
  readonly fcIn: Linear;
  readonly fcOut: Linear;
  readonly hiddenFeatures: number;
  private readonly act: number;
  private readonly gated: boolean;

  constructor(
    params: ParameterSet,
    key: string,
    config: ModelConfig,
    /** Storage of the weights and of the hidden layer (src/model/precision.ts). */
    readonly storage: StorageType = 'f32',
  ) {
    const d = config.hidden_size;
    const h = mlpFeatures(config);
    this.hiddenFeatures = h;
    const v3 = isDinov3(config);
    this.gated = v3 ? config.use_gated_mlp : config.use_swiglu_ffn;
    this.act = ACTIVATION_CODES[v3 || !this.gated ? config.hidden_act : 'silu'];
    const bias = v3 ? config.mlp_bias : true;
    const [inKeys, outKey] = v3
      ? [this.gated ? ['gate_proj', 'up_proj'] : 'up_proj', 'down_proj']
      : [this.gated ? 'weights_in' : 'fc1', this.gated ? 'weights_out' : 'fc2'];
    const name = (k: string | string[]) => (Array.isArray(k) ? k.map((x) => `${key}.${x}`) : `${key}.${k}`);
    const width = this.gated ? 2 * h : h;
    this.fcIn = new Linear(params, name(inKeys), width, d, { bias, glu: this.gated, storage });
    this.fcOut = new Linear(params, name(outKey), d, h, { bias, storage });
  }

  /** residual += layerScale * mlp(norm(x)); `hidden` holds [rows, hiddenFeatures] scratch. */
  forward(
    rec: Recorder,
    x: GPUBuffer,
    rows: number,
    hidden: GPUBuffer,
    residual: GPUBuffer,
    layerScale: Parameter,
    norm: LayerNorm,
  ): void {
    this.fcIn.forward(rec, x, rows, hidden, {
      act: this.act,
      glu: this.gated,
      norm,
      types: { Y: this.storage },
    });
    this.fcOut.forward(rec, hidden, rows, residual, {
      residualScale: layerScale,
      types: { X: this.storage },
    });
  }
}
