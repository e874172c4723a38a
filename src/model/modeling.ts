// The model classes, named as in transformers. PreTrainedModel holds the module tree (the encoder:
// embeddings, the layers; the final norm), its weights and its workspaces, for DINOv2 and DINOv3
// alike; each class adds its head (src/model/heads.ts) and asks one forward for the outputs it
// returns. DINOv3's classes are in src/model/modeling_dinov3.ts.
import { GpuMemory } from '../gpu/buffers.js';
import { type DeviceInfo, defaultDevice } from '../gpu/device.js';
import { watchDevice } from '../gpu/errors.js';
import { KernelCache } from '../gpu/kernel.js';
import { Recorder, Workspace } from '../gpu/recorder.js';
import type { StorageType } from '../gpu/shaders.js';
import { DisposedError, GpuTensor } from '../gpu/tensor.js';
import { ConfigError, type Dinov2Config } from '../io/config.js';
import { isDinov3, type ModelConfig } from '../io/model_config.js';
import type { PretrainedSource } from '../io/hub.js';
import type { OpenedCheckpoint } from '../io/pretrained.js';
import { streamOf, type TensorSource, type TensorStream } from '../io/tensors.js';
import { LruCache } from '../gpu/lru.js';
import { Encoder, type Prepared } from './encoder.js';
import {
  loadModel,
  loadOpened,
  type ModelBuilder,
  openChecked,
  type PretrainedOptions,
  type WeightOptions,
} from './from_pretrained.js';
import { BackboneHead, ClassificationHead } from './heads.js';
import { type ForwardOptions, InputError, type TensorLike } from './inputs.js';
import { LayerNorm } from './layernorm.js';
import { classificationLoss, problemTypeFor } from './loss.js';
import type { Linear } from './linear.js';
import { CallOutputs } from './outputs.js';
import { ParameterSet } from './parameters.js';
import { dtypeOf, type DtypeOption, type ModelDtype } from './precision.js';

export interface LoadOptions {
  /** Defaults to one device shared by every model. */
  device?: DeviceInfo;
  /** Name of the checkpoint in error messages. */
  file?: string;
  /** Called after each tensor is uploaded. */
  onProgress?: (done: number, total: number) => void;
  /** 'fp32' (default), 'fp16' (needs shader-f16) or 'fp16-emulated': see src/model/precision.ts. */
  dtype?: DtypeOption;
}

export interface BaseModelOutput {
  last_hidden_state: GpuTensor; // [B, T, D]
  pooler_output: GpuTensor; // [B, D]: the cls token after the final layernorm
  hidden_states?: GpuTensor[]; // L + 1 of [B, T, D]; [0] is the embeddings output
  attentions?: GpuTensor[]; // L of [B, heads, T, T]
}

export interface ImageClassifierOutput {
  /** With `labels`: the loss transformers computes for them (src/model/loss.ts), a float32 scalar (dims []). */
  loss?: GpuTensor;
  logits: GpuTensor; // [B, num_labels]
  hidden_states?: GpuTensor[];
  attentions?: GpuTensor[];
}

export interface BackboneOutput {
  feature_maps: GpuTensor[]; // per out_features: [B, D, H/p, W/p] (or [B, T, D] without reshape_hidden_states)
  hidden_states?: GpuTensor[];
  attentions?: GpuTensor[];
}

/** Everything one forward can produce. */
export interface AllOutputs extends BaseModelOutput {
  logits?: GpuTensor;
  feature_maps: GpuTensor[];
}

/** Statistics of the last forward. */
export interface ForwardStats {
  dispatches: number;
}

/** What a forward computes besides hidden_states and attentions (each only when asked). */
interface Wanted {
  /** last_hidden_state and pooler_output. */
  sequence?: boolean;
  /** The classification head's logits. */
  classifier?: ClassificationHead;
  /** Feature maps of these stages (the backbone head). */
  featureMaps?: number[];
}

type Outputs = Partial<AllOutputs>;

/**
 * Input shapes (batch, height, width) whose scratch buffers and shape uniforms stay on the GPU
 * between forwards, least recently used dropped first: two, so that alternating between two sizes
 * (a batch and its remainder, two image sizes) allocates nothing; `releaseWorkspaces()` frees them.
 */
const WORKSPACE_CACHE_SIZE = 2;

export function disposeAll(o: { [k: string]: GpuTensor | GpuTensor[] | undefined }): void {
  for (const v of Object.values(o)) {
    if (Array.isArray(v)) v.forEach((t) => t.dispose());
    else v?.dispose();
  }
}

/** The shared machinery of the model classes: the module tree, its weights and the forward. */
export abstract class PreTrainedModel<C extends ModelConfig = ModelConfig> {
  memory: GpuMemory;
  kernels: KernelCache;
  readonly params: ParameterSet;
  readonly encoder: Encoder;
  readonly layernorm: LayerNorm;
  lastStats: ForwardStats = { dispatches: 0 };
  private disposed = false;
  private loadedFrom = 'model.safetensors';
  private ignoreKeys: ((key: string) => boolean) | undefined;
  /** Scratch buffers and shape uniforms per input shape ('BxHxW'), freed when evicted. */
  private readonly workspaces = new LruCache<string, Workspace>(WORKSPACE_CACHE_SIZE, (w) => w.release());
  /** from_pretrained: the checkpoint's preprocessor_config.json (parsed JSON), when it has one. */
  preprocessorConfig: unknown;
  /** from_pretrained: where the files came from (the cache snapshot, the folder, the URL). */
  source: string | undefined;

  /**
   * Loads a checkpoint from a hub id ("facebook/dinov2-with-registers-small", "@revision"
   * optional), an http(s) folder URL, a local folder (Node) or a FileSystemDirectoryHandle /
   * File list (browser), streaming its weights into the GPU (src/model/from_pretrained.ts).
   */
  static async from_pretrained<M extends PreTrainedModel>(
    this: { build: ModelBuilder<M> },
    source: PretrainedSource,
    options: PretrainedOptions = {},
  ): Promise<M> {
    return loadOpened(await openChecked(source, options), options, this.build);
  }

  /** A model from a checkpoint already opened by openPretrained (AutoModel picks the class first). */
  static async fromOpened<M extends PreTrainedModel>(
    this: { build: ModelBuilder<M> },
    opened: OpenedCheckpoint,
    options: PretrainedOptions = {},
  ): Promise<M> {
    return loadOpened(opened, options, this.build);
  }

  /** A model from config.json and a checkpoint in memory (a SafetensorsFile, or shards behind one face). */
  static async fromCheckpoint<M extends PreTrainedModel>(
    this: { build: ModelBuilder<M> },
    config: ModelConfig,
    source: TensorSource,
    options: LoadOptions = {},
  ): Promise<M> {
    return loadModel(this.build, config, streamOf(source), {
      ...options,
      file: options.file ?? 'model.safetensors',
      onTensor: options.onProgress,
    });
  }

  constructor(
    readonly config: C,
    public deviceInfo: DeviceInfo,
    basePrefix: string,
    /** Storage of the block weights and activations: 'f32', or half precision with dtype 'fp16' (precision.ts). */
    readonly storage: StorageType = 'f32',
  ) {
    this.memory = new GpuMemory(deviceInfo.device);
    this.kernels = KernelCache.forDevice(deviceInfo.device);
    this.params = new ParameterSet(basePrefix);
    this.encoder = new Encoder(this.params, config, storage);
    // DINOv2's `layernorm`, DINOv3's `norm`.
    const norm = isDinov3(config) ? 'norm' : 'layernorm';
    this.layernorm = new LayerNorm(this.params, norm, config.hidden_size, config.layer_norm_eps);
  }

  get embeddings() {
    return this.encoder.embeddings;
  }

  get layers() {
    return this.encoder.layers;
  }

  get device(): GPUDevice {
    return this.deviceInfo.device;
  }

  /** The dtype the model was loaded with: 'fp32', 'fp16' or 'fp16-emulated'. */
  get dtype(): ModelDtype {
    return dtypeOf(this.storage);
  }

  /**
   * Bytes of GPU memory this model holds now: weights, cached position tables, the workspaces of
   * the last two input shapes (`workspaceBytes`) and live outputs.
   */
  get bytesAllocated(): number {
    return this.memory.bytesAllocated;
  }

  /** Bytes held by the cached workspaces (scratch buffers and shape uniforms of recent input shapes). */
  get workspaceBytes(): number {
    let n = 0;
    for (const w of this.workspaces.values()) n += w.bytes;
    return n;
  }

  /** Input shapes whose workspaces are cached, as 'BxHxW' (e.g. '2x224x224'), least recently used first. */
  get workspaceShapes(): string[] {
    return [...this.workspaces.keys()];
  }

  /**
   * Frees the cached workspaces: the scratch memory kept for the next forward of a recent shape
   * (the next forward of any shape makes its own again). Safe while calls are in flight.
   */
  releaseWorkspaces(): void {
    this.workspaces.clear();
  }

  /** Weights larger than one binding of this device, held in several buffers (one dispatch each): label and piece count. */
  get splitWeights(): { name: string; pieces: number }[] {
    return this.params.all.filter((p) => p.pieces).map((p) => ({ name: p.label, pieces: p.pieces!.length }));
  }

  /**
   * Validates, then uploads; resolves once the GPU has converted and packed the weights (a GPU error
   * while packing rejects). Returning earlier would leave pack work running, and a process that
   * exits with it in flight can crash Dawn.
   */
  async loadWeights(
    weights: TensorSource | TensorStream,
    options: WeightOptions,
    ignore?: (key: string) => boolean,
  ): Promise<void> {
    this.loadedFrom = options.file ?? this.loadedFrom;
    this.ignoreKeys = ignore;
    this.params.validate(weights, this.loadedFrom, ignore);
    await this.params.upload(this.memory, weights, {
      ...options,
      file: this.loadedFrom,
      kernels: this.kernels,
    });
  }

  /**
   * One forward, recorded into one command encoder and submitted once, computing only what
   * `wanted` and the options ask for. Rejects (typed) when the inputs are wrong, a buffer would
   * exceed the device's limits, the GPU reports an error or the device is lost; a rejected call
   * leaves no buffer behind (its workspace is dropped too).
   */
  protected async run(
    label: string,
    pixelValues: TensorLike,
    options: ForwardOptions,
    wanted: Wanted,
  ): Promise<Outputs> {
    if (this.disposed) throw new Error('this model was disposed');
    watchDevice(this.device).check('forward');
    const c = this.config;
    // config.output_attentions / output_hidden_states are the defaults, as in transformers.
    options = {
      ...options,
      output_attentions: options.output_attentions ?? c.output_attentions,
      output_hidden_states: options.output_hidden_states ?? c.output_hidden_states,
    };
    for (const i of wanted.featureMaps ?? []) {
      if (!Number.isInteger(i) || i < 0 || i > c.num_hidden_layers) {
        throw new InputError(`out_indices: ${i} is not a stage index (0..${c.num_hidden_layers})`);
      }
    }
    const p = this.encoder.prepare(this.device.limits, pixelValues, options, wanted.classifier !== undefined);
    // Calls of the same shape share this workspace, even while an earlier one is still in flight on
    // the GPU. That is correct because recording is synchronous from here through rec.submit() (no
    // await in between: keep it so), and the queue runs writeBuffer and submits in the order they
    // were issued: this call's uploads (pixel_values, masks) land after the work an earlier call
    // submitted, and every scratch buffer is written by this call before it reads it.
    const key = `${p.batch}x${p.height}x${p.width}`;
    const workspace = this.workspaces.get(key) ?? this.workspaces.set(key, new Workspace(this.memory));
    const rec = new Recorder(this.memory, this.kernels, label, workspace);
    const out = new CallOutputs(this.memory);
    try {
      const outputs = this.record(rec, out, p, options, wanted);
      const submitted = rec.submit();
      this.lastStats = { dispatches: rec.dispatches };
      const error = await submitted;
      out.submitted(error);
      if (error) throw error;
      if (this.disposed) throw new DisposedError(`${label}: the model was disposed while this call ran`);
      return outputs;
    } catch (e) {
      rec.abandon();
      this.workspaces.delete(key, workspace);
      out.release();
      throw e;
    }
  }

  /** The dispatches of one forward: the encoder, with hidden_states and feature maps taken at their stages, then the heads. */
  private record(
    rec: Recorder,
    out: CallOutputs,
    p: Prepared,
    options: ForwardOptions,
    wanted: Wanted,
  ): Outputs {
    const c = this.config;
    const d = c.hidden_size;
    const sequenceDims = [p.batch, p.tokens, d];
    const maps = wanted.featureMaps ?? [];
    const backbone = new BackboneHead(c, this.layernorm);
    const feature_maps: GpuTensor[] = [];
    const hidden_states: GpuTensor[] = [];
    const attentions: GpuTensor[] = [];
    const hidden = this.encoder.forward(rec, p, {
      attentions: options.output_attentions
        ? (i) => {
            const [map, chunks] = out.attentionMap(
              `attentions.${i}`,
              p.batch,
              c.num_attention_heads,
              p.tokens,
            );
            attentions.push(map);
            return chunks;
          }
        : undefined,
      stage: (i, h) => {
        if (options.output_hidden_states) {
          const copy = out.tensor(`hidden_states.${i}`, sequenceDims);
          rec.copy(h, 0, copy.buffer, 0, p.rows * d * 4);
          hidden_states.push(copy);
        }
        maps.forEach((stage, j) => {
          if (stage !== i) return;
          const name = `feature_maps.${j}`;
          feature_maps[j] = out.tensor(name, backbone.dims(p));
          backbone.forward(rec, h, i, p, feature_maps[j].buffer, name);
        });
      },
    });
    const outputs: Outputs = {
      hidden_states: options.output_hidden_states ? hidden_states : undefined,
      attentions: options.output_attentions ? attentions : undefined,
    };
    if (wanted.featureMaps) outputs.feature_maps = feature_maps;
    if (!wanted.sequence && !wanted.classifier) return outputs;
    // The final layernorm: an output of the base model, scratch for the classifier alone.
    const last = wanted.sequence ? out.tensor('last_hidden_state', sequenceDims) : undefined;
    const sequence = last?.buffer ?? rec.scratchBuffer('sequence output', p.rows * d * 4);
    this.layernorm.forward(rec, hidden, p.rows, sequence);
    if (last) {
      const pooled = out.tensor('pooler_output', [p.batch, d]);
      for (let b = 0; b < p.batch; b++)
        rec.copy(sequence, b * p.tokens * d * 4, pooled.buffer, b * d * 4, d * 4);
      outputs.last_hidden_state = last;
      outputs.pooler_output = pooled;
    }
    if (wanted.classifier) {
      outputs.logits = out.tensor('logits', [p.batch, wanted.classifier.classifier.outFeatures]);
      wanted.classifier.forward(rec, sequence, p, outputs.logits.buffer);
    }
    return outputs;
  }

  /**
   * Brings the model back after its device was lost (or onto another device): weights are
   * uploaded again from `source`, which must hold the same checkpoint.
   */
  async reload(source: TensorSource, options: LoadOptions = {}): Promise<void> {
    if (this.disposed) throw new Error('this model was disposed');
    const deviceInfo = options.device ?? (await defaultDevice());
    this.releaseWorkspaces();
    this.encoder.release();
    this.memory.destroyAll();
    this.deviceInfo = deviceInfo;
    this.memory = new GpuMemory(deviceInfo.device);
    this.kernels = KernelCache.forDevice(deviceInfo.device);
    const file = options.file ?? this.loadedFrom;
    await this.loadWeights(streamOf(source), { file, onTensor: options.onProgress }, this.ignoreKeys);
  }

  /** Frees every GPU buffer of the model; outputs still held are freed too. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseWorkspaces();
    this.encoder.release();
    this.memory.destroyAll();
  }
}

/** The DINOv2 classes' counterpart of transformers' Dinov2WithRegistersPreTrainedModel. */
export abstract class Dinov2PreTrainedModel extends PreTrainedModel<Dinov2Config> {}

function basePrefix(config: Dinov2Config): string {
  return config.model_type === 'dinov2' ? 'dinov2' : 'dinov2_with_registers';
}

/** A DINOv2 class given another family's config.json: a clear error naming the class that loads it. */
export function dinov2Only(config: ModelConfig, cls: string): Dinov2Config {
  if (isDinov3(config)) {
    throw new ConfigError(
      'model_type',
      `${cls} runs DINOv2 checkpoints; this config.json is DINOv3's (model_type "dinov3_vit"): load it with DINOv3ViTModel, DINOv3ViTBackbone or AutoModel`,
    );
  }
  return config;
}

/**
 * The base model and the backbone read bare keys, or the prefixed keys of a classification
 * checkpoint with its classifier ignored (as transformers loads a base model from one).
 */
function baseBuilder<M extends Dinov2PreTrainedModel>(
  cls: (new (
    config: Dinov2Config,
    deviceInfo: DeviceInfo,
    prefix: string,
    storage: StorageType,
  ) => M) & {
    name: string;
  },
): ModelBuilder<M> {
  return (modelConfig, device, names, storage) => {
    const config = dinov2Only(modelConfig, cls.name);
    const prefixed = names.some((n) => n.startsWith(`${basePrefix(config)}.`));
    return {
      model: new cls(config, device, prefixed ? `${basePrefix(config)}.` : '', storage),
      ignore: (k) => prefixed && k.startsWith('classifier.'),
    };
  };
}

type WithIndices = ForwardOptions & { out_indices?: number[] };

/** The bare encoder: last_hidden_state and pooler_output (hidden_states and attentions when asked). */
export class Dinov2WithRegistersModel extends Dinov2PreTrainedModel {
  static readonly build: ModelBuilder<Dinov2WithRegistersModel> = baseBuilder(Dinov2WithRegistersModel);

  async forward(pixel_values: TensorLike, options: ForwardOptions = {}): Promise<BaseModelOutput> {
    const label = 'Dinov2WithRegistersModel.forward';
    return (await this.run(label, pixel_values, options, { sequence: true })) as BaseModelOutput;
  }

  /** The base outputs plus feature maps for `out_indices` (the command line's `infer`). */
  async forwardAll(pixel_values: TensorLike, options: WithIndices = {}): Promise<AllOutputs> {
    const wanted = { sequence: true, featureMaps: options.out_indices ?? [] };
    return (await this.run(
      'Dinov2WithRegistersModel.forwardAll',
      pixel_values,
      options,
      wanted,
    )) as AllOutputs;
  }
}

/**
 * Dinov2WithRegistersForImageClassification: logits = classifier(cat[cls, mean of the patch
 * tokens]) on the final layernormed sequence (src/model/heads.ts).
 */
export class Dinov2WithRegistersForImageClassification extends Dinov2PreTrainedModel {
  static readonly build: ModelBuilder<Dinov2WithRegistersForImageClassification> = (
    c,
    device,
    _n,
    storage,
  ) => ({
    model: new Dinov2WithRegistersForImageClassification(
      dinov2Only(c, 'Dinov2WithRegistersForImageClassification'),
      device,
      storage,
    ),
  });
  readonly head: ClassificationHead;

  constructor(config: Dinov2Config, deviceInfo: DeviceInfo, storage: StorageType = 'f32') {
    super(config, deviceInfo, `${basePrefix(config)}.`, storage);
    this.head = new ClassificationHead(this.params, config);
  }

  get classifier(): Linear {
    return this.head.classifier;
  }

  /** With `labels` ([B] classes, or targets shaped as the logits), also the loss (src/model/loss.ts). */
  async forward(
    pixel_values: TensorLike,
    options: ForwardOptions & { labels?: TensorLike<ArrayLike<number | bigint>> } = {},
  ): Promise<ImageClassifierOutput> {
    const { labels, ...rest } = options;
    const problem = labels && problemTypeFor(this.config.num_labels, labels, this.config.problem_type);
    const label = 'Dinov2WithRegistersForImageClassification.forward';
    const outputs = (await this.run(label, pixel_values, rest, {
      classifier: this.head,
    })) as ImageClassifierOutput;
    if (!labels || !problem) return outputs;
    try {
      const loss = classificationLoss(await outputs.logits.read(), outputs.logits.dims, labels, problem);
      const buffer = this.memory.upload('loss', Float32Array.of(loss));
      return { loss: new GpuTensor(this.memory, buffer, [], 'loss'), ...outputs };
    } catch (e) {
      disposeAll({ ...outputs });
      throw e;
    }
  }

  /** Logits with the base outputs and feature maps for `out_indices` (the command line's `infer`). */
  async forwardAll(pixel_values: TensorLike, options: WithIndices = {}): Promise<AllOutputs> {
    const wanted = { sequence: true, classifier: this.head, featureMaps: options.out_indices ?? [] };
    const label = 'Dinov2WithRegistersForImageClassification.forwardAll';
    return (await this.run(label, pixel_values, options, wanted)) as AllOutputs;
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
          .map((e, index) => ({
            index,
            score: e / sum,
            label: this.config.id2label[index] ?? `LABEL_${index}`,
          }))
          .sort((a, b) => b.score - a.score)
          .slice(0, k),
      );
    }
    return out;
  }
}

/**
 * Dinov2WithRegistersBackbone: feature maps of the stages in out_features (stage 0 = embeddings),
 * by the backbone head (src/model/heads.ts).
 */
export class Dinov2WithRegistersBackbone extends Dinov2PreTrainedModel {
  static readonly build: ModelBuilder<Dinov2WithRegistersBackbone> = baseBuilder(Dinov2WithRegistersBackbone);

  /** `out_indices` overrides the config's for this call (indices into stage_names). */
  async forward(pixel_values: TensorLike, options: WithIndices = {}): Promise<BackboneOutput> {
    const wanted = { featureMaps: options.out_indices ?? this.config.out_indices };
    const outputs = await this.run('Dinov2WithRegistersBackbone.forward', pixel_values, options, wanted);
    return outputs as BackboneOutput;
  }

  async forwardAll(pixel_values: TensorLike, options: WithIndices = {}): Promise<AllOutputs> {
    const wanted = { sequence: true, featureMaps: options.out_indices ?? this.config.out_indices };
    return (await this.run(
      'Dinov2WithRegistersBackbone.forwardAll',
      pixel_values,
      options,
      wanted,
    )) as AllOutputs;
  }
}
