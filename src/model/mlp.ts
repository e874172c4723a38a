import type { Recorder } from '../gpu/recorder.js';
import type { StorageType } from '../gpu/shaders.js';
import { ACTIVATION_CODES } from './activations.js';
import type { Dinov2Config } from '../io/config.js';
import { mlpHiddenSize } from '../io/config.js';
import type { LayerNorm } from './layernorm.js';
import { Linear } from './linear.js';
import type { Parameter } from './packing.js';
import type { ParameterSet } from './parameters.js';

/**
 * `encoder.layer.N.mlp`: fc1 -> hidden_act -> fc2 (Dinov2WithRegistersMLP), or, with
 * use_swiglu_ffn, weights_in -> silu(x1) * x2 -> weights_out (Dinov2WithRegistersSwiGLUFFN).
 * The activation is fused into the first projection, layer_scale2 and the residual into the second.
 */
export class Mlp {
  readonly fcIn: Linear;
  readonly fcOut: Linear;
  readonly hiddenFeatures: number;
  private readonly act: number;
  private readonly swiglu: boolean;

  constructor(
    params: ParameterSet,
    key: string,
    config: Dinov2Config,
    /** Storage of the weights and of the hidden layer (src/model/precision.ts). */
    readonly storage: StorageType = 'f32',
  ) {
    const d = config.hidden_size;
    this.hiddenFeatures = mlpHiddenSize(config);
    this.swiglu = config.use_swiglu_ffn;
    this.act = this.swiglu ? 0 : ACTIVATION_CODES[config.hidden_act];
    if (this.swiglu) {
      this.fcIn = new Linear(params, `${key}.weights_in`, 2 * this.hiddenFeatures, d, { glu: true, storage });
      this.fcOut = new Linear(params, `${key}.weights_out`, d, this.hiddenFeatures, { storage });
    } else {
      this.fcIn = new Linear(params, `${key}.fc1`, this.hiddenFeatures, d, { storage });
      this.fcOut = new Linear(params, `${key}.fc2`, d, this.hiddenFeatures, { storage });
    }
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
      glu: this.swiglu,
      norm,
      types: { Y: this.storage },
    });
    this.fcOut.forward(rec, hidden, rows, residual, {
      residualScale: layerScale,
      types: { X: this.storage },
    });
  }
}
