// The model classes, named as in transformers. Dinov2WithRegistersModel holds the module tree
// (embeddings, encoder.layer.N, layernorm); the classifier and the backbone add their heads.
import { GpuMemory } from '../gpu/buffers.js';
import { DeviceInfo, defaultDevice } from '../gpu/device.js';
import { KernelCache } from '../gpu/kernel.js';
import { Recorder } from '../gpu/recorder.js';
import { GpuTensor } from '../gpu/tensor.js';
import type { Dinov2Config } from '../io/config.js';
import { Embeddings } from './embeddings.js';
import { checkHeadMask, checkMask, checkPixelValues, ForwardOptions, TensorLike } from './inputs.js';
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
    this.kernels = new KernelCache(deviceInfo.device);
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
    const d = c.hidden_size;
    const pixels = rec.scratchBuffer('pixel_values', data.byteLength);
    this.device.queue.writeBuffer(pixels, 0, data.buffer, data.byteOffset, data.byteLength);
    const maskBuffer = rec.scratchBuffer('bool_masked_pos', mask.byteLength);
    this.device.queue.writeBuffer(maskBuffer, 0, mask);
    const headMaskBuffer = rec.scratchBuffer('head_mask', headMask.byteLength);
    this.device.queue.writeBuffer(headMaskBuffer, 0, headMask);

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
      normed: rec.scratchBuffer('normed', rows * d * 4),
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

  protected hiddenStateTensors(run: EncoderRun, wanted: boolean): GpuTensor[] | undefined {
    if (!wanted) return undefined;
    const dims = [run.batch, run.tokens, this.config.hidden_size];
    return [...run.stages.keys()].sort((a, b) => a - b).map((i) => this.output(run.stages.get(i)!, dims, `hidden_states.${i}`));
  }

  protected attentionTensors(run: EncoderRun): GpuTensor[] | undefined {
    if (!run.attentions.length) return undefined;
    const dims = [run.batch, this.config.num_attention_heads, run.tokens, run.tokens];
    return run.attentions.map((b, i) => this.output(b, dims, `attentions.${i}`));
  }

  protected recorder(label: string): Recorder {
    return new Recorder(this.memory, this.kernels, label);
  }

  protected finish(rec: Recorder): void {
    rec.submit();
    this.lastStats = { dispatches: rec.dispatches };
  }

  /** Frees every GPU buffer of the model; outputs still held are freed too. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.embeddings.release(this.memory);
    this.memory.destroyAll();
  }
}

function allStages(config: Dinov2Config, wanted: boolean | undefined): Set<number> {
  return new Set(wanted ? Array.from({ length: config.num_hidden_layers + 1 }, (_, i) => i) : []);
}

/** The bare encoder: last_hidden_state and pooler_output. */
export class Dinov2WithRegistersModel extends Dinov2PreTrainedModel {
  /** Loads weights from a base checkpoint (bare keys) or from a classification checkpoint (prefixed, head ignored). */
  static async fromCheckpoint(config: Dinov2Config, source: TensorSource, options: LoadOptions = {}): Promise<Dinov2WithRegistersModel> {
    return loadBase(this, config, source, options);
  }

  async forward(pixel_values: TensorLike, options: ForwardOptions = {}): Promise<BaseModelOutput> {
    const rec = this.recorder('Dinov2WithRegistersModel.forward');
    const run = this.encode(rec, pixel_values, options, allStages(this.config, options.output_hidden_states));
    const d = this.config.hidden_size;
    const rows = run.batch * run.tokens;
    const last = this.newBuffer('last_hidden_state', rows * d);
    this.layernorm.forward(rec, run.hidden, rows, last);
    const pooled = this.newBuffer('pooler_output', run.batch * d);
    for (let b = 0; b < run.batch; b++) rec.copy(last, b * run.tokens * d * 4, pooled, b * d * 4, d * 4);
    this.finish(rec);
    this.memory.destroy(run.hidden);
    return {
      last_hidden_state: this.output(last, [run.batch, run.tokens, d], 'last_hidden_state'),
      pooler_output: this.output(pooled, [run.batch, d], 'pooler_output'),
      hidden_states: this.hiddenStateTensors(run, !!options.output_hidden_states),
      attentions: this.attentionTensors(run),
    };
  }
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
    const rec = this.recorder('Dinov2WithRegistersForImageClassification.forward');
    const run = this.encode(rec, pixel_values, options, allStages(this.config, options.output_hidden_states));
    const d = this.config.hidden_size;
    const rows = run.batch * run.tokens;
    const sequence = rec.scratchBuffer('sequence_output', rows * d * 4);
    this.layernorm.forward(rec, run.hidden, rows, sequence);
    const pooled = rec.scratchBuffer('classifier input', run.batch * 2 * d * 4);
    rec.dispatch(
      'heads',
      'cls_and_patch_mean',
      { BATCH: run.batch, TOKENS: run.tokens, D: d, PREFIX: 1 + this.config.num_register_tokens },
      { hidden: sequence, pooled },
      [Math.ceil(d / 256), run.batch],
    );
    const logits = this.newBuffer('logits', run.batch * this.config.num_labels);
    this.classifier.forward(rec, pooled, run.batch, logits);
    this.finish(rec);
    this.memory.destroy(run.hidden);
    return {
      logits: this.output(logits, [run.batch, this.config.num_labels], 'logits'),
      hidden_states: this.hiddenStateTensors(run, !!options.output_hidden_states),
      attentions: this.attentionTensors(run),
    };
  }

  /** The k most likely labels per image, from logits read back. */
  async topK(logits: GpuTensor, k = 5): Promise<{ label: string; index: number; score: number }[][]> {
    const data = await logits.read();
    const [batch, n] = logits.dims;
    const out: { label: string; index: number; score: number }[][] = [];
    for (let b = 0; b < batch; b++) {
      const row = data.subarray(b * n, (b + 1) * n);
      const max = Math.max(...row);
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
    const c = this.config;
    const indices = options.out_indices ?? c.out_indices;
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i > c.num_hidden_layers) throw new Error(`out_indices: ${i} is not a stage (0..${c.num_hidden_layers})`);
    }
    const stages = allStages(c, options.output_hidden_states);
    for (const i of indices) stages.add(i);
    const rec = this.recorder('Dinov2WithRegistersBackbone.forward');
    const run = this.encode(rec, pixel_values, options, stages);
    const d = c.hidden_size;
    const rows = run.batch * run.tokens;
    const { gridH, gridW } = this.embeddings.grid(run);
    const featureMaps = indices.map((i) => {
      const stage = run.stages.get(i)!;
      let normed = stage;
      if (c.apply_layernorm) {
        normed = c.reshape_hidden_states ? rec.scratchBuffer(`feature_maps ${i} normed`, rows * d * 4) : this.newBuffer(`feature_maps.${i}`, rows * d);
        this.layernorm.forward(rec, stage, rows, normed);
      } else if (!c.reshape_hidden_states) {
        normed = this.newBuffer(`feature_maps.${i}`, rows * d);
        rec.copy(stage, 0, normed, 0, rows * d * 4);
      }
      if (!c.reshape_hidden_states) return this.output(normed, [run.batch, run.tokens, d], `feature_maps.${i}`);
      const map = this.newBuffer(`feature_maps.${i}`, run.batch * d * gridH * gridW);
      rec.dispatch(
        'heads',
        'patch_tokens_to_map',
        { BATCH: run.batch, TOKENS: run.tokens, D: d, PREFIX: 1 + c.num_register_tokens, GRID_H: gridH, GRID_W: gridW },
        { hidden: normed, feature_map: map },
        [Math.ceil((gridH * gridW) / 256), d, run.batch],
      );
      return this.output(map, [run.batch, d, gridH, gridW], `feature_maps.${i}`);
    });
    this.finish(rec);
    this.memory.destroy(run.hidden);
    const keep = options.output_hidden_states;
    if (!keep) for (const b of run.stages.values()) this.memory.destroy(b);
    return {
      feature_maps: featureMaps,
      hidden_states: this.hiddenStateTensors(run, !!keep),
      attentions: this.attentionTensors(run),
    };
  }
}

export { disposeAll };
