// The model classes, named as in transformers. Dinov2WithRegistersModel holds the module tree
// (embeddings, encoder.layer.N, layernorm); the classifier and the backbone add their heads.
import { GpuMemory } from '../gpu/buffers.js';
import { DeviceInfo, defaultDevice } from '../gpu/device.js';
import { KernelCache } from '../gpu/kernel.js';
import { Recorder } from '../gpu/recorder.js';
import { GpuTensor } from '../gpu/tensor.js';
import type { Dinov2Config } from '../io/config.js';
import { Embeddings } from './embeddings.js';
import { checkHeadMask, checkMask, checkPixelValues, ForwardOptions, InputError, TensorLike } from './inputs.js';
import { Layer, LayerScratch } from './layer.js';
import { LayerNorm } from './layernorm.js';
import { Linear } from './linear.js';
import { ParameterSet, TensorSource } from './parameters.js';

export interface LoadOptions {
  /** Defaults to one device shared by every model. */
  device?: DeviceInfo;
  /** Name of the checkpoint in error messages. */
  file?: string;
  /** Called after each tensor is uploaded. */
  onProgress?: (done: number, total: number) => void;
}

export interface BaseModelOutput {
  last_hidden_state: GpuTensor; // [B, T, D]
  pooler_output: GpuTensor; // [B, D]: the cls token after the final layernorm
  hidden_states?: GpuTensor[]; // L + 1 of [B, T, D]; [0] is the embeddings output
  attentions?: GpuTensor[]; // L of [B, heads, T, T]
}

export interface ImageClassifierOutput {
  logits: GpuTensor; // [B, num_labels]
  hidden_states?: GpuTensor[];
  attentions?: GpuTensor[];
}

export interface BackboneOutput {
  feature_maps: GpuTensor[]; // per out_features: [B, D, H/p, W/p] (or [B, T, D] without reshape_hidden_states)
  hidden_states?: GpuTensor[];
  attentions?: GpuTensor[];
}

/** Statistics of the last forward. */
export interface ForwardStats {
  dispatches: number;
}

interface EncoderRun {
  hidden: GPUBuffer; // the final residual stream [B * T, D]
  stages: Map<number, GPUBuffer>; // hidden_states[i] copies that were asked for
  attentions: GPUBuffer[];
  batch: number;
  height: number;
  width: number;
  tokens: number;
}

function disposeAll(o: { [k: string]: GpuTensor | GpuTensor[] | undefined }): void {
  for (const v of Object.values(o)) {
    if (Array.isArray(v)) v.forEach((t) => t.dispose());
    else v?.dispose();
  }
}

/** The shared machinery of the three classes: the module tree, its weights and the encoder pass. */
export abstract class Dinov2PreTrainedModel {
  readonly memory: GpuMemory;
  readonly kernels: KernelCache;
  readonly params: ParameterSet;
  readonly embeddings: Embeddings;
  readonly layers: Layer[];
  readonly layernorm: LayerNorm;
  lastStats: ForwardStats = { dispatches: 0 };
  private disposed = false;

  constructor(
    readonly config: Dinov2Config,
    readonly deviceInfo: DeviceInfo,
    basePrefix: string,
  ) {
    this.memory = new GpuMemory(deviceInfo.device);
    this.kernels = KernelCache.forDevice(deviceInfo.device);
    this.params = new ParameterSet(basePrefix);
    this.embeddings = new Embeddings(this.params, 'embeddings', config);
    this.layers = Array.from({ length: config.num_hidden_layers }, (_, i) => new Layer(this.params, `encoder.layer.${i}`, config));
    this.layernorm = new LayerNorm(this.params, 'layernorm', config.hidden_size, config.layer_norm_eps);
  }

  get device(): GPUDevice {
    return this.deviceInfo.device;
  }

  /** Bytes of GPU memory this model holds now (weights, cached position tables, live outputs). */
  get bytesAllocated(): number {
    return this.memory.bytesAllocated;
  }

  loadWeights(source: TensorSource, options: LoadOptions, ignore?: (key: string) => boolean): void {
    this.params.validate(source, options.file ?? 'model.safetensors', ignore);
    this.params.upload(this.memory, source, options.onProgress);
  }

  protected output(buffer: GPUBuffer, dims: number[], name: string): GpuTensor {
    return new GpuTensor(this.memory, buffer, dims, name);
  }

  protected newBuffer(label: string, floats: number): GPUBuffer {
    return this.memory.create(label, floats * 4);
  }

  /** Records embeddings + every layer into `rec`; hidden_states copies for `stages` (all when asked). */
  protected encode(rec: Recorder, pixelValues: TensorLike, options: ForwardOptions, stages: Set<number>): EncoderRun {
    if (this.disposed) throw new Error('this model was disposed');
    const c = this.config;
    const { data, batch, height, width } = checkPixelValues(pixelValues, c.num_channels, c.patch_size);
    const shape = { batch, height, width };
    const { patches, tokens } = this.embeddings.grid(shape);
    const mask = checkMask(options.bool_masked_pos, batch, patches, this.embeddings.mask !== undefined);
    const align = this.device.limits.minStorageBufferOffsetAlignment / 4;
    const headRow = Math.ceil(c.num_attention_heads / align) * align;
    const headMask = checkHeadMask(options.head_mask, c.num_hidden_layers, c.num_attention_heads, headRow);

    const rows = batch * tokens;
    const { gridH, gridW } = this.embeddings.grid(shape);
    rec.setInput({ batch, tokens, height, width, grid_h: gridH, grid_w: gridW, patches });
    const d = c.hidden_size;
    const upload = (label: string, values: Float32Array | Uint32Array) => {
      const buffer = rec.scratchBuffer(label, values.byteLength);
      this.memory.write(buffer, values);
      return buffer;
    };
    const pixels = upload('pixel_values', data);
    const maskBuffer = upload('bool_masked_pos', mask);
    const headMaskBuffer = upload('head_mask', headMask);

    const hidden = this.newBuffer('hidden', rows * d);
    const stageBuffers = new Map<number, GPUBuffer>();
    const keepStage = (i: number) => {
      if (!stages.has(i)) return;
      const copy = this.newBuffer(`hidden_states.${i}`, rows * d);
      rec.copy(hidden, 0, copy, 0, rows * d * 4);
      stageBuffers.set(i, copy);
    };

    this.embeddings.forward(rec, pixels, shape, maskBuffer, hidden);
    keepStage(0);
    const scratch: LayerScratch = {
      qkv: rec.scratchBuffer('qkv', rows * 3 * d * 4),
      context: rec.scratchBuffer('context', rows * d * 4),
      stats: rec.scratchBuffer('attention stats', batch * c.num_attention_heads * tokens * 8),
      mlpHidden: rec.scratchBuffer('mlp hidden', rows * this.layers[0].mlp.hiddenFeatures * 4),
    };
    const attentions: GPUBuffer[] = [];
    this.layers.forEach((layer, i) => {
      const probs = options.output_attentions
        ? this.newBuffer(`attentions.${i}`, batch * c.num_attention_heads * tokens * tokens)
        : undefined;
      if (probs) attentions.push(probs);
      const headMaskRow = { buffer: headMaskBuffer, offset: i * headRow * 4, size: c.num_attention_heads * 4 };
      layer.forward(rec, hidden, { batch, tokens }, headMaskRow, scratch, probs);
      keepStage(i + 1);
    });
    return { hidden, stages: stageBuffers, attentions, batch, height, width, tokens };
  }

  /**
   * One forward, recorded into one command encoder and submitted once: the base outputs always,
   * the classifier's logits and the backbone's feature maps when asked.
   */
  protected run(label: string, pixelValues: TensorLike, options: RunOptions): AllOutputs {
    const c = this.config;
    const d = c.hidden_size;
    const indices = options.out_indices ?? [];
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i > c.num_hidden_layers) {
        throw new InputError(`out_indices: ${i} is not a stage index (0..${c.num_hidden_layers})`);
      }
    }
    const stages = new Set<number>(indices);
    if (options.output_hidden_states) for (let i = 0; i <= c.num_hidden_layers; i++) stages.add(i);

    const rec = new Recorder(this.memory, this.kernels, label);
    const run = this.encode(rec, pixelValues, options, stages);
    const rows = run.batch * run.tokens;
    const prefix = 1 + c.num_register_tokens; // cls and registers precede the patch tokens
    const last = this.newBuffer('last_hidden_state', rows * d);
    this.layernorm.forward(rec, run.hidden, rows, last);
    const pooled = this.newBuffer('pooler_output', run.batch * d);
    for (let b = 0; b < run.batch; b++) rec.copy(last, b * run.tokens * d * 4, pooled, b * d * 4, d * 4);

    let logits: GpuTensor | undefined;
    if (options.classifier) {
      const input = rec.scratchBuffer('classifier input', run.batch * 2 * d * 4);
      rec.dispatch(
        'heads',
        'cls_and_patch_mean',
        { D: d, PREFIX: prefix },
        { hidden: last, pooled: input, shape: rec.shape({ rows: run.batch }) },
        [Math.ceil(d / 256), run.batch],
      );
      const buffer = this.newBuffer('logits', run.batch * c.num_labels);
      options.classifier.forward(rec, input, run.batch, buffer);
      logits = this.output(buffer, [run.batch, c.num_labels], 'logits');
    }

    // Backbone: feature maps of the asked stages, layernormed and reshaped as configured.
    const { gridH, gridW } = this.embeddings.grid(run);
    const feature_maps = indices.map((i, j) => {
      const name = `feature_maps.${j}`;
      const stage = run.stages.get(i)!;
      if (!c.reshape_hidden_states) {
        const out = this.newBuffer(name, rows * d);
        if (c.apply_layernorm) this.layernorm.forward(rec, stage, rows, out);
        else rec.copy(stage, 0, out, 0, rows * d * 4);
        return this.output(out, [run.batch, run.tokens, d], name);
      }
      let normed = stage;
      if (c.apply_layernorm) {
        normed = rec.scratchBuffer(`${name} normed`, rows * d * 4);
        this.layernorm.forward(rec, stage, rows, normed);
      }
      const map = this.newBuffer(name, run.batch * d * gridH * gridW);
      rec.dispatch(
        'heads',
        'patch_tokens_to_map',
        { D: d, PREFIX: prefix },
        { hidden: normed, feature_map: map, shape: rec.shape({ rows }) },
        [Math.ceil((gridH * gridW) / 256), d, run.batch],
      );
      return this.output(map, [run.batch, d, gridH, gridW], name);
    });

    rec.submit();
    this.lastStats = { dispatches: rec.dispatches };
    this.memory.destroy(run.hidden);

    let hidden_states: GpuTensor[] | undefined;
    if (options.output_hidden_states) {
      const dims = [run.batch, run.tokens, d];
      hidden_states = [...run.stages.keys()].sort((a, b) => a - b).map((i) => this.output(run.stages.get(i)!, dims, `hidden_states.${i}`));
    } else {
      for (const b of run.stages.values()) this.memory.destroy(b);
    }
    const attentionDims = [run.batch, c.num_attention_heads, run.tokens, run.tokens];
    const attentions = options.output_attentions ? run.attentions.map((b, i) => this.output(b, attentionDims, `attentions.${i}`)) : undefined;
    return {
      last_hidden_state: this.output(last, [run.batch, run.tokens, d], 'last_hidden_state'),
      pooler_output: this.output(pooled, [run.batch, d], 'pooler_output'),
      hidden_states,
      attentions,
      logits,
      feature_maps,
    };
  }

  /** Frees every GPU buffer of the model; outputs still held are freed too. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.embeddings.release(this.memory);
    this.memory.destroyAll();
  }
}

interface RunOptions extends ForwardOptions {
  out_indices?: number[];
  classifier?: Linear;
}

/** Everything one forward can produce. */
export interface AllOutputs extends BaseModelOutput {
  logits?: GpuTensor;
  feature_maps: GpuTensor[];
}

function basePrefix(config: Dinov2Config): string {
  return config.model_type === 'dinov2' ? 'dinov2' : 'dinov2_with_registers';
}

/**
 * The base model and the backbone read bare keys, or the prefixed keys of a classification
 * checkpoint with its classifier ignored (as transformers loads a base model from one).
 */
async function loadBase<M extends Dinov2PreTrainedModel>(
  cls: new (config: Dinov2Config, deviceInfo: DeviceInfo, prefix: string) => M,
  config: Dinov2Config,
  source: TensorSource,
  options: LoadOptions,
): Promise<M> {
  const prefixed = source.names.some((n) => n.startsWith(`${basePrefix(config)}.`));
  const model = new cls(config, options.device ?? (await defaultDevice()), prefixed ? `${basePrefix(config)}.` : '');
  model.loadWeights(source, options, (k) => prefixed && k.startsWith('classifier.'));
  return model;
}

/** Drops the outputs a class does not return, freeing their buffers. */
function pick<K extends keyof AllOutputs>(all: AllOutputs, keep: K[]): Pick<AllOutputs, K> {
  const out = {} as Pick<AllOutputs, K>;
  for (const key of Object.keys(all) as (keyof AllOutputs)[]) {
    if ((keep as (keyof AllOutputs)[]).includes(key)) (out as Record<string, unknown>)[key] = all[key];
    else disposeAll({ [key]: all[key] as GpuTensor | GpuTensor[] | undefined });
  }
  return out;
}

/** The bare encoder: last_hidden_state and pooler_output (hidden_states and attentions when asked). */
export class Dinov2WithRegistersModel extends Dinov2PreTrainedModel {
  static async fromCheckpoint(config: Dinov2Config, source: TensorSource, options: LoadOptions = {}): Promise<Dinov2WithRegistersModel> {
    return loadBase(this, config, source, options);
  }

  async forward(pixel_values: TensorLike, options: ForwardOptions = {}): Promise<BaseModelOutput> {
    return pick(this.run('Dinov2WithRegistersModel.forward', pixel_values, options), ['last_hidden_state', 'pooler_output', 'hidden_states', 'attentions']);
  }

  /** The base outputs plus feature maps for `out_indices` (the command line's `infer`). */
  async forwardAll(pixel_values: TensorLike, options: ForwardOptions & { out_indices?: number[] } = {}): Promise<AllOutputs> {
    return this.run('Dinov2WithRegistersModel.forwardAll', pixel_values, options);
  }
}

/**
 * Dinov2WithRegistersForImageClassification: logits = classifier(cat[cls, mean of the patch
 * tokens]) on the final layernormed sequence; the mean leaves out cls and the registers.
 */
export class Dinov2WithRegistersForImageClassification extends Dinov2PreTrainedModel {
  readonly classifier: Linear;

  constructor(config: Dinov2Config, deviceInfo: DeviceInfo) {
    super(config, deviceInfo, `${basePrefix(config)}.`);
    this.classifier = new Linear(this.params.withPrefix(''), 'classifier', config.num_labels, 2 * config.hidden_size);
  }

  static async fromCheckpoint(config: Dinov2Config, source: TensorSource, options: LoadOptions = {}): Promise<Dinov2WithRegistersForImageClassification> {
    const model = new this(config, options.device ?? (await defaultDevice()));
    model.loadWeights(source, options);
    return model;
  }

  async forward(pixel_values: TensorLike, options: ForwardOptions = {}): Promise<ImageClassifierOutput> {
    const all = this.run('Dinov2WithRegistersForImageClassification.forward', pixel_values, { ...options, classifier: this.classifier });
    return pick(all, ['logits', 'hidden_states', 'attentions']) as ImageClassifierOutput;
  }

  /** Logits with the base outputs and feature maps for `out_indices` (the command line's `infer`). */
  async forwardAll(pixel_values: TensorLike, options: ForwardOptions & { out_indices?: number[] } = {}): Promise<AllOutputs> {
    return this.run('Dinov2WithRegistersForImageClassification.forwardAll', pixel_values, { ...options, classifier: this.classifier });
  }

  /** The k most likely labels per image (softmax of the logits, read back). */
  async topK(logits: GpuTensor, k = 5): Promise<{ label: string; index: number; score: number }[][]> {
    const data = await logits.read();
    const [batch, n] = logits.dims;
    const out: { label: string; index: number; score: number }[][] = [];
    for (let b = 0; b < batch; b++) {
      const row = data.subarray(b * n, (b + 1) * n);
      const max = row.reduce((m, v) => Math.max(m, v), -Infinity);
      const exps = Array.from(row, (v) => Math.exp(v - max));
      const sum = exps.reduce((a, v) => a + v, 0);
      out.push(
        exps
          .map((e, index) => ({ index, score: e / sum, label: this.config.id2label[index] ?? `LABEL_${index}` }))
          .sort((a, b) => b.score - a.score)
          .slice(0, k),
      );
    }
    return out;
  }
}

/**
 * Dinov2WithRegistersBackbone: feature maps of the stages in out_features (stage 0 = embeddings),
 * layernormed with the final layernorm when apply_layernorm, and with reshape_hidden_states the patch
 * tokens (cls and registers dropped) as [B, D, H/p, W/p].
 */
export class Dinov2WithRegistersBackbone extends Dinov2PreTrainedModel {
  static async fromCheckpoint(config: Dinov2Config, source: TensorSource, options: LoadOptions = {}): Promise<Dinov2WithRegistersBackbone> {
    return loadBase(this, config, source, options);
  }

  /** `out_indices` overrides the config's for this call (indices into stage_names). */
  async forward(pixel_values: TensorLike, options: ForwardOptions & { out_indices?: number[] } = {}): Promise<BackboneOutput> {
    const all = this.run('Dinov2WithRegistersBackbone.forward', pixel_values, { ...options, out_indices: options.out_indices ?? this.config.out_indices });
    return pick(all, ['feature_maps', 'hidden_states', 'attentions']);
  }

  async forwardAll(pixel_values: TensorLike, options: ForwardOptions & { out_indices?: number[] } = {}): Promise<AllOutputs> {
    return this.run('Dinov2WithRegistersBackbone.forwardAll', pixel_values, { ...options, out_indices: options.out_indices ?? this.config.out_indices });
  }
}

export { disposeAll };
