// The task heads beside the encoder, modules like Layer: each declares its parameters and records
// its dispatches (shaders/heads.wgsl, linear.wgsl, layernorm.wgsl) into the forward's Recorder.
import type { Recorder } from '../gpu/recorder.js';
import type { Dinov2Config } from '../io/config.js';
import { isDinov3, type ModelConfig } from '../io/model_config.js';
import type { LayerNorm } from './layernorm.js';
import { Linear } from './linear.js';
import type { ParameterSet } from './parameters.js';

/** heads.wgsl's workgroup size (its THREADS override), and what the grids below divide by. */
export const HEAD_THREADS = 256;

/** The sizes of one call that the heads read. */
export interface HeadShape {
  batch: number;
  tokens: number;
  patches: number;
  gridH: number;
  gridW: number;
}

/** Tokens before the patch tokens: cls and the registers. */
function prefixTokens(config: ModelConfig): number {
  return 1 + config.num_register_tokens;
}

/**
 * Dinov2WithRegistersForImageClassification's head: logits = classifier(cat[cls, mean of the patch
 * tokens]) on the final layernormed sequence; the mean leaves out cls and the registers.
 */
export class ClassificationHead {
  readonly classifier: Linear;

  constructor(
    params: ParameterSet,
    private readonly config: Dinov2Config,
  ) {
    this.classifier = new Linear(
      params.withPrefix(''),
      'classifier',
      config.num_labels,
      2 * config.hidden_size,
    );
  }

  /** `sequence` [B * T, D] (layernormed) → `logits` [B, num_labels]: two dispatches. */
  forward(rec: Recorder, sequence: GPUBuffer, shape: HeadShape, logits: GPUBuffer): void {
    const d = this.config.hidden_size;
    const input = rec.scratchBuffer('classifier input', shape.batch * 2 * d * 4);
    rec.dispatch(
      'heads',
      'cls_and_patch_mean',
      { D: d, PREFIX: prefixTokens(this.config), THREADS: HEAD_THREADS },
      { hidden: sequence, pooled: input, shape: rec.shape({ rows: shape.batch }) },
      [Math.ceil(d / HEAD_THREADS), shape.batch],
    );
    this.classifier.forward(rec, input, shape.batch, logits);
  }
}

/**
 * The backbone head: a stage's hidden states as a feature map.
 *   Dinov2WithRegistersBackbone: layernormed with the final layernorm when apply_layernorm; with
 *     reshape_hidden_states the patch tokens (cls and registers dropped) as [B, D, H/p, W/p], else
 *     the whole sequence [B, T, D].
 *   DINOv3ViTBackbone: normed with the final norm when apply_layernorm, and the last stage always;
 *     the patch tokens only in both cases: [B, D, H/p, W/p] with reshape_hidden_states, else
 *     [B, H/p * W/p, D].
 */
export class BackboneHead {
  private readonly dinov3: boolean;

  constructor(
    private readonly config: ModelConfig,
    private readonly layernorm: LayerNorm,
  ) {
    this.dinov3 = isDinov3(config);
  }

  /** The dims of one feature map. */
  dims(shape: HeadShape): number[] {
    const d = this.config.hidden_size;
    if (this.config.reshape_hidden_states) return [shape.batch, d, shape.gridH, shape.gridW];
    return [shape.batch, this.dinov3 ? shape.patches : shape.tokens, d];
  }

  /** `hidden` [B * T, D] as it is after stage `stage` → `map` (dims()), named `name`: at most two dispatches, or copies. */
  forward(
    rec: Recorder,
    hidden: GPUBuffer,
    stage: number,
    shape: HeadShape,
    map: GPUBuffer,
    name: string,
  ): void {
    const c = this.config;
    const d = c.hidden_size;
    const rows = shape.batch * shape.tokens;
    const norm = c.apply_layernorm || (this.dinov3 && stage === c.num_hidden_layers);
    if (!c.reshape_hidden_states && !this.dinov3) {
      if (norm) this.layernorm.forward(rec, hidden, rows, map);
      else rec.copy(hidden, 0, map, 0, rows * d * 4);
      return;
    }
    let normed = hidden;
    if (norm) {
      normed = rec.scratchBuffer(`${name} normed`, rows * d * 4);
      this.layernorm.forward(rec, hidden, rows, normed);
    }
    const prefix = prefixTokens(c);
    if (!c.reshape_hidden_states) {
      // DINOv3 without reshape: each image's patch rows, cls and registers dropped.
      const bytes = shape.patches * d * 4;
      for (let b = 0; b < shape.batch; b++)
        rec.copy(normed, (b * shape.tokens + prefix) * d * 4, map, b * bytes, bytes);
      return;
    }
    rec.dispatch(
      'heads',
      'patch_tokens_to_map',
      { D: d, PREFIX: prefix, THREADS: HEAD_THREADS },
      { hidden: normed, feature_map: map, shape: rec.shape({ rows }) },
      [Math.ceil(shape.patches / HEAD_THREADS), d, shape.batch],
    );
  }
}
