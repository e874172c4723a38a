// The encoder of one forward: the inputs checked (before any GPU work), then embeddings and every
// layer recorded into the forward's Recorder, the residual stream updated in place.
import type { Recorder } from '../gpu/recorder.js';
import { storageBytes, type StorageType } from '../gpu/shaders.js';
import { isDinov3, type ModelConfig } from '../io/model_config.js';
import type { ProbsChunk, RopeBinding } from './attention.js';
import { checkForwardFits, encoderScratch, scratchBytes } from './budget.js';
import { Embeddings } from './embeddings.js';
import type { HeadShape } from './heads.js';
import {
  checkHeadMask,
  checkMask,
  checkPixelValues,
  type ForwardOptions,
  type TensorLike,
} from './inputs.js';
import { Layer } from './layer.js';
import type { ParameterSet } from './parameters.js';
import { RopeEmbedding } from './rope.js';

/** The inputs, checked, and the sizes that follow from them. */
export interface Prepared extends HeadShape {
  data: Float32Array;
  height: number;
  width: number;
  rows: number; // batch * tokens
  mask: Uint32Array;
  headMask: Float32Array;
  headRow: number; // floats per layer row of headMask (aligned for binding offsets)
}

/** What the encoder does at each stage (0: the embeddings' output, i: after layer i). */
export interface StageHooks {
  /** Where layer i (from 0) writes its attention probabilities, when they are asked for. */
  attentions?: (layer: number) => ProbsChunk[];
  /** Called with the residual stream [B * T, D] as it is after stage i. */
  stage?: (i: number, hidden: GPUBuffer) => void;
}

/**
 * The embeddings and the layers (`encoder.layer.N` in DINOv2, `layer.N` in DINOv3), and DINOv3's
 * `rope_embeddings`, which has no weights.
 */
export class Encoder {
  readonly embeddings: Embeddings;
  readonly layers: Layer[];
  readonly rope: RopeEmbedding | undefined;

  constructor(
    params: ParameterSet,
    private readonly config: ModelConfig,
    private readonly storage: StorageType,
  ) {
    this.embeddings = new Embeddings(params, 'embeddings', config);
    const prefix = isDinov3(config) ? 'layer' : 'encoder.layer';
    this.layers = Array.from(
      { length: config.num_hidden_layers },
      (_, i) => new Layer(params, `${prefix}.${i}`, config, storage),
    );
    this.rope = isDinov3(config)
      ? new RopeEmbedding(config.hidden_size / config.num_attention_heads, config.rope_theta)
      : undefined;
  }

  /** Every check of the inputs, before any GPU work; `classifier`: the call runs the classification head. */
  prepare(
    limits: GPUSupportedLimits,
    pixelValues: TensorLike,
    options: ForwardOptions,
    classifier: boolean,
  ): Prepared {
    const c = this.config;
    const { data, batch, height, width } = checkPixelValues(pixelValues, c.num_channels, c.patch_size);
    const { gridH, gridW, patches, tokens } = this.embeddings.grid({ batch, height, width });
    const mask = checkMask(options.bool_masked_pos, batch, patches, this.embeddings.mask !== undefined);
    const align = limits.minStorageBufferOffsetAlignment / 4;
    const headRow = Math.ceil(c.num_attention_heads / align) * align;
    const headMask = checkHeadMask(options.head_mask, c.num_hidden_layers, c.num_attention_heads, headRow);
    checkForwardFits(
      c,
      { batch, height, width, patches, tokens },
      {
        output_attentions: options.output_attentions,
        classifier,
        blockBytes: storageBytes(this.storage),
      },
      limits,
    );
    const rows = batch * tokens;
    return { data, batch, height, width, gridH, gridW, patches, tokens, rows, mask, headMask, headRow };
  }

  /** Records embeddings + every layer into `rec`; returns the final residual stream [B * T, D]. */
  forward(rec: Recorder, p: Prepared, hooks: StageHooks): GPUBuffer {
    const c = this.config;
    rec.setInput({
      batch: p.batch,
      tokens: p.tokens,
      height: p.height,
      width: p.width,
      grid_h: p.gridH,
      grid_w: p.gridW,
      patches: p.patches,
    });
    const upload = (label: string, values: Float32Array | Uint32Array) => {
      const buffer = rec.scratchBuffer(label, values.byteLength);
      rec.memory.write(buffer, values);
      return buffer;
    };
    const pixels = upload('pixel_values', p.data);
    const maskBuffer = upload('bool_masked_pos', p.mask);
    const headMaskBuffer = upload('head_mask', p.headMask);

    const sizes = encoderScratch(c, p, storageBytes(this.storage));
    const take = (s: (typeof sizes)[keyof typeof sizes]) => rec.scratchBuffer(s.name, scratchBytes(s));
    const hidden = take(sizes.hidden);
    this.embeddings.forward(rec, pixels, p, maskBuffer, hidden);
    hooks.stage?.(0, hidden);
    const scratch = {
      qkv: take(sizes.qkv),
      context: take(sizes.context),
      stats: take(sizes.stats),
      mlpHidden: take(sizes.mlpHidden),
    };
    const rope: RopeBinding | undefined = this.rope && {
      table: this.rope.table(rec.memory, p.gridH, p.gridW),
      prefix: 1 + c.num_register_tokens,
    };
    this.layers.forEach((layer, i) => {
      const headMaskRow = {
        buffer: headMaskBuffer,
        offset: i * p.headRow * 4,
        size: c.num_attention_heads * 4,
      };
      const probs = hooks.attentions?.(i);
      layer.forward(rec, hidden, { batch: p.batch, tokens: p.tokens }, headMaskRow, scratch, probs, rope);
      hooks.stage?.(i + 1, hidden);
    });
    return hidden;
  }

  /** Frees the tables cached per patch grid (position embeddings, RoPE). */
  release(): void {
    this.embeddings.release();
    this.rope?.release();
  }
}
