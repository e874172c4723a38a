// The task heads beside the encoder, modules like Layer: each declares its parameters and records
// its dispatches (shaders/heads.wgsl, linear.wgsl, layernorm.wgsl) into the forward's Recorder.
import type { Recorder } from '../gpu/recorder.js';
import type { Dinov2Config } from '../io/config.js';
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
function prefixTokens(config: Dinov2Config): number {
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
 * Dinov2WithRegistersBackbone's head: a stage's hidden states, layernormed with the final layernorm
 * when apply_layernorm, and with reshape_hidden_states the patch tokens (cls and registers dropped)
 * as [B, D, H/p, W/p]; else the whole sequence [B, T, D].
 */
export class BackboneHead {
  constructor(
    private readonly config: Dinov2Config,
    private readonly layernorm: LayerNorm,
  ) {}

  /** The dims of one feature map. */
  dims(shape: HeadShape): number[] {
    const d = this.config.hidden_size;
    return this.config.reshape_hidden_states
      ? [shape.batch, d, shape.gridH, shape.gridW]
      : [shape.batch, shape.tokens, d];
  }

  /** `stage` [B * T, D] → `map` (dims()), named `name`: at most two dispatches, or a copy. */
  forward(rec: Recorder, stage: GPUBuffer, shape: HeadShape, map: GPUBuffer, name: string): void {
    const c = this.config;
    const d = c.hidden_size;
    const rows = shape.batch * shape.tokens;
    if (!c.reshape_hidden_states) {
      if (c.apply_layernorm) this.layernorm.forward(rec, stage, rows, map);
      else rec.copy(stage, 0, map, 0, rows * d * 4);
      return;
    }
    let normed = stage;
    if (c.apply_layernorm) {
      normed = rec.scratchBuffer(`${name} normed`, rows * d * 4);
      this.layernorm.forward(rec, stage, rows, normed);
    }
    rec.dispatch(
      'heads',
      'patch_tokens_to_map',
      { D: d, PREFIX: prefixTokens(c), THREADS: HEAD_THREADS },
      { hidden: normed, feature_map: map, shape: rec.shape({ rows }) },
      [Math.ceil(shape.patches / HEAD_THREADS), d, shape.batch],
    );
  }
}
