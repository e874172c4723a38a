// The model classes, named as in transformers. Dinov2WithRegistersModel holds the module tree
// (embeddings, encoder.layer.N, layernorm); the classifier and the backbone add their heads.
import { GpuLimitError, GpuMemory } from '../gpu/buffers.js';
import { watchDevice } from '../gpu/errors.js';
import { type DeviceInfo, defaultDevice } from '../gpu/device.js';
import { KernelCache } from '../gpu/kernel.js';
import { Recorder, Workspace } from '../gpu/recorder.js';
import { storageBytes, type StorageType } from '../gpu/shaders.js';
import { DisposedError, GpuTensor } from '../gpu/tensor.js';
import type { Dinov2Config } from '../io/config.js';
import { Embeddings } from './embeddings.js';
import {
  checkHeadMask,
  checkMask,
  checkPixelValues,
  type ForwardOptions,
  InputError,
  type TensorLike,
} from './inputs.js';
import type { ProbsChunk } from './attention.js';
import { checkForwardFits } from './budget.js';
import { Layer, type LayerScratch } from './layer.js';
import { LayerNorm } from './layernorm.js';
import { Linear } from './linear.js';
import { ParameterSet, type TensorSource } from './parameters.js';
import type { PretrainedSource } from '../io/hub.js';
import type { OpenedCheckpoint } from '../io/pretrained.js';
import { loadOpened, type ModelBuilder, openChecked, type PretrainedOptions } from './from_pretrained.js';
import { blockStorage, dtypeOf, type DtypeOption, type ModelDtype, parseDtype } from './precision.js';

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
  attentions: ProbsChunk[][]; // per layer, when asked
}

/** The inputs, checked, and the sizes that follow from them. */
interface Prepared {
  data: Float32Array;
  batch: number;
  height: number;
  width: number;
  gridH: number;
  gridW: number;
  patches: number;
  tokens: number;
  rows: number; // batch * tokens
  mask: Uint32Array;
  headMask: Float32Array;
  headRow: number; // floats per layer row of headMask (aligned for binding offsets)
}

/**
 * Input shapes (batch, height, width) whose scratch buffers and shape uniforms stay on the GPU
 * between forwards, least recently used dropped first: two, so that alternating between two sizes
 * (a batch and its remainder, two image sizes) allocates nothing; `releaseWorkspaces()` frees them.
 */
const WORKSPACE_CACHE_SIZE = 2;

/** Allocates an output buffer of the current call (freed if the call fails). */
type Alloc = (name: string, floats: number) => GPUBuffer;

function disposeAll(o: { [k: string]: GpuTensor | GpuTensor[] | undefined }): void {
  for (const v of Object.values(o)) {
    if (Array.isArray(v)) v.forEach((t) => t.dispose());
    else v?.dispose();
  }
}

/** The shared machinery of the three classes: the module tree, its weights and the encoder pass. */
export abstract class Dinov2PreTrainedModel {
  memory: GpuMemory;
  kernels: KernelCache;
  readonly params: ParameterSet;
  readonly embeddings: Embeddings;
  readonly layers: Layer[];
  readonly layernorm: LayerNorm;
  lastStats: ForwardStats = { dispatches: 0 };
  private disposed = false;
  private loadedFrom = 'model.safetensors';
  private ignoreKeys: ((key: string) => boolean) | undefined;
  /** Scratch buffers and shape uniforms per input shape, most recently used last (WORKSPACE_CACHE_SIZE at most). */
  private readonly workspaces = new Map<string, Workspace>();
  /** from_pretrained: the checkpoint's preprocessor_config.json (parsed JSON), when it has one. */
  preprocessorConfig: unknown;
  /** from_pretrained: where the files came from (the cache snapshot, the folder, the URL). */
  source: string | undefined;

  /**
   * Loads a checkpoint from a hub id ("facebook/dinov2-with-registers-small", "@revision"
   * optional), an http(s) folder URL, a local folder (Node) or a FileSystemDirectoryHandle /
   * File list (browser), streaming its weights into the GPU (src/model/from_pretrained.ts).
   */
  static async from_pretrained<M>(
    this: { fromOpened(opened: OpenedCheckpoint, options: PretrainedOptions): Promise<M> },
    source: PretrainedSource,
    options: PretrainedOptions = {},
  ): Promise<M> {
    return this.fromOpened(await openChecked(source, options), options);
  }

  constructor(
    readonly config: Dinov2Config,
    public deviceInfo: DeviceInfo,
    basePrefix: string,
    /** Storage of the block weights and activations: 'f32', or half precision with dtype 'fp16' (precision.ts). */
    readonly storage: StorageType = 'f32',
  ) {
    this.memory = new GpuMemory(deviceInfo.device);
    this.kernels = KernelCache.forDevice(deviceInfo.device);
    this.params = new ParameterSet(basePrefix);
    this.embeddings = new Embeddings(this.params, 'embeddings', config);
    this.layers = Array.from(
      { length: config.num_hidden_layers },
      (_, i) => new Layer(this.params, `encoder.layer.${i}`, config, storage),
    );
    this.layernorm = new LayerNorm(this.params, 'layernorm', config.hidden_size, config.layer_norm_eps);
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
    for (const w of this.workspaces.values()) w.release();
    this.workspaces.clear();
  }

  /** The workspace of this input shape, made (evicting the least recently used) when not cached. */
  private takeWorkspace(key: string): Workspace {
    let workspace = this.workspaces.get(key);
    if (workspace) {
      this.workspaces.delete(key);
    } else {
      workspace = new Workspace(this.memory);
      if (this.workspaces.size >= WORKSPACE_CACHE_SIZE) {
        // Freeing buffers that submitted work still uses is safe: WebGPU frees them after that work.
        const [oldest, old] = this.workspaces.entries().next().value as [string, Workspace];
        this.workspaces.delete(oldest);
        old.release();
      }
    }
    this.workspaces.set(key, workspace);
    return workspace;
  }

  /** Drops a workspace after a failed call: a buffer in it may be invalid (out of memory), so it is not reused. */
  private dropWorkspace(key: string, workspace: Workspace): void {
    if (this.workspaces.get(key) === workspace) this.workspaces.delete(key);
    workspace.release();
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
    source: TensorSource,
    options: LoadOptions,
    ignore?: (key: string) => boolean,
  ): Promise<void> {
    this.loadedFrom = options.file ?? this.loadedFrom;
    this.ignoreKeys = ignore;
    this.params.validate(source, this.loadedFrom, ignore);
    const error = await this.params.upload(this.memory, source, options.onProgress, this.kernels);
    if (error) throw error;
    await this.device.queue.onSubmittedWorkDone();
  }

  /** Every check of the inputs, before any GPU work. */
  private prepare(pixelValues: TensorLike, options: RunOptions): Prepared {
    if (this.disposed) throw new Error('this model was disposed');
    watchDevice(this.device).check('forward');
    const c = this.config;
    const { data, batch, height, width } = checkPixelValues(pixelValues, c.num_channels, c.patch_size);
    const { gridH, gridW, patches, tokens } = this.embeddings.grid({ batch, height, width });
    const mask = checkMask(options.bool_masked_pos, batch, patches, this.embeddings.mask !== undefined);
    const align = this.device.limits.minStorageBufferOffsetAlignment / 4;
    const headRow = Math.ceil(c.num_attention_heads / align) * align;
    const headMask = checkHeadMask(options.head_mask, c.num_hidden_layers, c.num_attention_heads, headRow);
    for (const i of options.out_indices ?? []) {
      if (!Number.isInteger(i) || i < 0 || i > c.num_hidden_layers) {
        throw new InputError(`out_indices: ${i} is not a stage index (0..${c.num_hidden_layers})`);
      }
    }
    checkForwardFits(
      c,
      { batch, height, width, patches, tokens },
      {
        output_attentions: options.output_attentions,
        classifier: options.classifier !== undefined,
        blockBytes: storageBytes(this.storage),
      },
      this.device.limits,
    );
    return {
      data,
      batch,
      height,
      width,
      gridH,
      gridW,
      patches,
      tokens,
      rows: batch * tokens,
      mask,
      headMask,
      headRow,
    };
  }

  /**
   * Buffers for an attention map [B, heads, T, T]: one, or several holding whole (batch, head)
   * blocks each when the map is larger than one binding (or buffer) may be.
   */
  private attentionChunks(alloc: Alloc, name: string, p: Prepared): ProbsChunk[] {
    const limits = this.device.limits;
    const blockBytes = p.tokens * p.tokens * 4;
    const perChunk = Math.floor(
      Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / blockBytes,
    );
    if (perChunk < 1) {
      throw new GpuLimitError(
        `${name}: one head's ${p.tokens}x${p.tokens} attention map (${blockBytes} bytes) exceeds this device's binding limit`,
      );
    }
    const total = p.batch * this.config.num_attention_heads;
    const chunks: ProbsChunk[] = [];
    for (let first = 0; first < total; first += perChunk) {
      const blocks = Math.min(perChunk, total - first);
      chunks.push({
        buffer: alloc(`${name}[${first}..${first + blocks})`, blocks * p.tokens * p.tokens),
        firstBlock: first,
        blocks,
      });
    }
    return chunks;
  }

  /** Records embeddings + every layer into `rec`; hidden_states copies for `stages`. */
  private encode(
    rec: Recorder,
    alloc: Alloc,
    p: Prepared,
    options: RunOptions,
    stages: Set<number>,
  ): EncoderRun {
    const c = this.config;
    const d = c.hidden_size;
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
      this.memory.write(buffer, values);
      return buffer;
    };
    const pixels = upload('pixel_values', p.data);
    const maskBuffer = upload('bool_masked_pos', p.mask);
    const headMaskBuffer = upload('head_mask', p.headMask);

    const hidden = rec.scratchBuffer('hidden', p.rows * d * 4);
    const stageBuffers = new Map<number, GPUBuffer>();
    const keepStage = (i: number) => {
      if (!stages.has(i)) return;
      const copy = alloc(`hidden_states.${i}`, p.rows * d);
      rec.copy(hidden, 0, copy, 0, p.rows * d * 4);
      stageBuffers.set(i, copy);
    };

    this.embeddings.forward(rec, pixels, p, maskBuffer, hidden);
    keepStage(0);
    const half = storageBytes(this.storage);
    const scratch: LayerScratch = {
      qkv: rec.scratchBuffer('qkv', p.rows * 3 * d * half),
      context: rec.scratchBuffer('context', p.rows * d * half),
      stats: rec.scratchBuffer('attention stats', p.batch * c.num_attention_heads * p.tokens * 8),
      mlpHidden: rec.scratchBuffer('mlp hidden', p.rows * this.layers[0].mlp.hiddenFeatures * half),
    };
    const attentions: ProbsChunk[][] = [];
    this.layers.forEach((layer, i) => {
      const probs = options.output_attentions ? this.attentionChunks(alloc, `attentions.${i}`, p) : undefined;
      if (probs) attentions.push(probs);
      const headMaskRow = {
        buffer: headMaskBuffer,
        offset: i * p.headRow * 4,
        size: c.num_attention_heads * 4,
      };
      layer.forward(rec, hidden, { batch: p.batch, tokens: p.tokens }, headMaskRow, scratch, probs);
      keepStage(i + 1);
    });
    return { hidden, stages: stageBuffers, attentions };
  }

  /**
   * One forward, recorded into one command encoder and submitted once: the base outputs always,
   * the classifier's logits and the backbone's feature maps when asked. Rejects (typed) when the
   * inputs are wrong, a buffer would exceed the device's limits, the GPU reports an error or the
   * device is lost; a rejected call leaves no buffer behind (its workspace is dropped too).
   */
  protected async run(label: string, pixelValues: TensorLike, options: RunOptions): Promise<AllOutputs> {
    const c = this.config;
    const d = c.hidden_size;
    const p = this.prepare(pixelValues, options);
    const indices = options.out_indices ?? [];
    const stages = new Set<number>(indices);
    if (options.output_hidden_states) for (let i = 0; i <= c.num_hidden_layers; i++) stages.add(i);

    const owned: GPUBuffer[] = [];
    const alloc: Alloc = (name, floats) => {
      const buffer = this.memory.create(name, floats * 4);
      owned.push(buffer);
      return buffer;
    };
    // Calls of the same shape share this workspace, even while an earlier one is still in flight on
    // the GPU. That is correct because recording is synchronous from here through rec.submit() (no
    // await in between: keep it so), and the queue runs writeBuffer and submits in the order they
    // were issued: this call's uploads (pixel_values, masks) land after the work an earlier call
    // submitted, and every scratch buffer is written by this call before it reads it.
    const workspaceKey = `${p.batch}x${p.height}x${p.width}`;
    const workspace = this.takeWorkspace(workspaceKey);
    const rec = new Recorder(this.memory, this.kernels, label, workspace);
    const prefix = 1 + c.num_register_tokens; // cls and registers precede the patch tokens
    let tensors: Omit<AllOutputs, 'hidden_states' | 'attentions'> & {
      stages: Map<number, GPUBuffer>;
      attentions: ProbsChunk[][];
    };
    try {
      const run = this.encode(rec, alloc, p, options, stages);
      const last = alloc('last_hidden_state', p.rows * d);
      this.layernorm.forward(rec, run.hidden, p.rows, last);
      const pooled = alloc('pooler_output', p.batch * d);
      for (let b = 0; b < p.batch; b++) rec.copy(last, b * p.tokens * d * 4, pooled, b * d * 4, d * 4);

      let logits: GPUBuffer | undefined;
      if (options.classifier) {
        const input = rec.scratchBuffer('classifier input', p.batch * 2 * d * 4);
        rec.dispatch(
          'heads',
          'cls_and_patch_mean',
          { D: d, PREFIX: prefix },
          { hidden: last, pooled: input, shape: rec.shape({ rows: p.batch }) },
          [Math.ceil(d / 256), p.batch],
        );
        logits = alloc('logits', p.batch * c.num_labels);
        options.classifier.forward(rec, input, p.batch, logits);
      }

      // Backbone: feature maps of the asked stages, layernormed and reshaped as configured.
      const maps = indices.map((i, j) => {
        const name = `feature_maps.${j}`;
        const stage = run.stages.get(i)!;
        if (!c.reshape_hidden_states) {
          const out = alloc(name, p.rows * d);
          if (c.apply_layernorm) this.layernorm.forward(rec, stage, p.rows, out);
          else rec.copy(stage, 0, out, 0, p.rows * d * 4);
          return { buffer: out, dims: [p.batch, p.tokens, d] };
        }
        let normed = stage;
        if (c.apply_layernorm) {
          normed = rec.scratchBuffer(`${name} normed`, p.rows * d * 4);
          this.layernorm.forward(rec, stage, p.rows, normed);
        }
        const map = alloc(name, p.batch * d * p.patches);
        rec.dispatch(
          'heads',
          'patch_tokens_to_map',
          { D: d, PREFIX: prefix },
          { hidden: normed, feature_map: map, shape: rec.shape({ rows: p.rows }) },
          [Math.ceil(p.patches / 256), d, p.batch],
        );
        return { buffer: map, dims: [p.batch, d, p.gridH, p.gridW] };
      });
      const failure = rec.submit();
      const out = (buffer: GPUBuffer, dims: number[], name: string) =>
        new GpuTensor(this.memory, buffer, dims, name, failure);
      tensors = {
        last_hidden_state: out(last, [p.batch, p.tokens, d], 'last_hidden_state'),
        pooler_output: out(pooled, [p.batch, d], 'pooler_output'),
        logits: logits && out(logits, [p.batch, c.num_labels], 'logits'),
        feature_maps: maps.map((m, j) => out(m.buffer, m.dims, `feature_maps.${j}`)),
        stages: run.stages,
        attentions: run.attentions,
      };
      this.lastStats = { dispatches: rec.dispatches };
      const error = await failure;
      if (error) throw error;
      if (this.disposed) throw new DisposedError(`${label}: the model was disposed while this call ran`);
    } catch (e) {
      rec.abandon();
      this.dropWorkspace(workspaceKey, workspace);
      for (const buffer of owned) this.memory.destroy(buffer);
      throw e;
    }

    const { stages: stageBuffers, attentions: attentionChunks, ...rest } = tensors;
    let hidden_states: GpuTensor[] | undefined;
    if (options.output_hidden_states) {
      const dims = [p.batch, p.tokens, d];
      hidden_states = [...stageBuffers.keys()]
        .sort((a, b) => a - b)
        .map((i) => new GpuTensor(this.memory, stageBuffers.get(i)!, dims, `hidden_states.${i}`));
    } else {
      for (const b of stageBuffers.values()) this.memory.destroy(b);
    }
    const attentionDims = [p.batch, c.num_attention_heads, p.tokens, p.tokens];
    const attentions = options.output_attentions
      ? attentionChunks.map(
          (chunks, i) =>
            new GpuTensor(
              this.memory,
              chunks.map((ch) => ({ buffer: ch.buffer, length: ch.blocks * p.tokens * p.tokens })),
              attentionDims,
              `attentions.${i}`,
            ),
        )
      : undefined;
    return { ...rest, hidden_states, attentions };
  }

  /**
   * Brings the model back after its device was lost (or onto another device): weights are
   * uploaded again from `source`, which must hold the same checkpoint.
   */
  async reload(source: TensorSource, options: LoadOptions = {}): Promise<void> {
    if (this.disposed) throw new Error('this model was disposed');
    const deviceInfo = options.device ?? (await defaultDevice());
    this.releaseWorkspaces();
    this.embeddings.release(this.memory);
    this.memory.destroyAll();
    this.deviceInfo = deviceInfo;
    this.memory = new GpuMemory(deviceInfo.device);
    this.kernels = KernelCache.forDevice(deviceInfo.device);
    await this.loadWeights(source, { ...options, file: options.file ?? this.loadedFrom }, this.ignoreKeys);
  }

  /** Frees every GPU buffer of the model; outputs still held are freed too. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseWorkspaces();
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
  cls: new (config: Dinov2Config, deviceInfo: DeviceInfo, prefix: string, storage: StorageType) => M,
  config: Dinov2Config,
  source: TensorSource,
  options: LoadOptions,
): Promise<M> {
  const prefixed = source.names.some((n) => n.startsWith(`${basePrefix(config)}.`));
  const device = options.device ?? (await defaultDevice());
  const model = new cls(
    config,
    device,
    prefixed ? `${basePrefix(config)}.` : '',
    blockStorage(parseDtype(options.dtype), device.device),
  );
  await model.loadWeights(source, options, (k) => prefixed && k.startsWith('classifier.'));
  return model;
}

/** loadBase's choice of prefix and ignored keys, for a checkpoint streamed by from_pretrained. */
function baseBuilder<M extends Dinov2PreTrainedModel>(
  cls: new (config: Dinov2Config, deviceInfo: DeviceInfo, prefix: string, storage: StorageType) => M,
): ModelBuilder<M> {
  return (config, device, names, storage) => {
    const prefixed = names.some((n) => n.startsWith(`${basePrefix(config)}.`));
    return {
      model: new cls(config, device, prefixed ? `${basePrefix(config)}.` : '', storage),
      ignore: (k) => prefixed && k.startsWith('classifier.'),
    };
  };
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
  static async fromCheckpoint(
    config: Dinov2Config,
    source: TensorSource,
    options: LoadOptions = {},
  ): Promise<Dinov2WithRegistersModel> {
    return loadBase(this, config, source, options);
  }

  static async fromOpened(
    opened: OpenedCheckpoint,
    options: PretrainedOptions = {},
  ): Promise<Dinov2WithRegistersModel> {
    return loadOpened(opened, options, baseBuilder(this));
  }

  async forward(pixel_values: TensorLike, options: ForwardOptions = {}): Promise<BaseModelOutput> {
    return pick(await this.run('Dinov2WithRegistersModel.forward', pixel_values, options), [
      'last_hidden_state',
      'pooler_output',
      'hidden_states',
      'attentions',
    ]);
  }

  /** The base outputs plus feature maps for `out_indices` (the command line's `infer`). */
  async forwardAll(
    pixel_values: TensorLike,
    options: ForwardOptions & { out_indices?: number[] } = {},
  ): Promise<AllOutputs> {
    return this.run('Dinov2WithRegistersModel.forwardAll', pixel_values, options);
  }
}

/**
 * Dinov2WithRegistersForImageClassification: logits = classifier(cat[cls, mean of the patch
 * tokens]) on the final layernormed sequence; the mean leaves out cls and the registers.
 */
export class Dinov2WithRegistersForImageClassification extends Dinov2PreTrainedModel {
  readonly classifier: Linear;

  constructor(config: Dinov2Config, deviceInfo: DeviceInfo, storage: StorageType = 'f32') {
    super(config, deviceInfo, `${basePrefix(config)}.`, storage);
    this.classifier = new Linear(
      this.params.withPrefix(''),
      'classifier',
      config.num_labels,
      2 * config.hidden_size,
    );
  }

  static async fromCheckpoint(
    config: Dinov2Config,
    source: TensorSource,
    options: LoadOptions = {},
  ): Promise<Dinov2WithRegistersForImageClassification> {
    const device = options.device ?? (await defaultDevice());
    const model = new this(config, device, blockStorage(parseDtype(options.dtype), device.device));
    await model.loadWeights(source, options);
    return model;
  }

  static async fromOpened(
    opened: OpenedCheckpoint,
    options: PretrainedOptions = {},
  ): Promise<Dinov2WithRegistersForImageClassification> {
    return loadOpened(opened, options, (config, device, _names, storage) => ({
      model: new this(config, device, storage),
    }));
  }

  async forward(pixel_values: TensorLike, options: ForwardOptions = {}): Promise<ImageClassifierOutput> {
    const all = await this.run('Dinov2WithRegistersForImageClassification.forward', pixel_values, {
      ...options,
      classifier: this.classifier,
    });
    return pick(all, ['logits', 'hidden_states', 'attentions']) as ImageClassifierOutput;
  }

  /** Logits with the base outputs and feature maps for `out_indices` (the command line's `infer`). */
  async forwardAll(
    pixel_values: TensorLike,
    options: ForwardOptions & { out_indices?: number[] } = {},
  ): Promise<AllOutputs> {
    return this.run('Dinov2WithRegistersForImageClassification.forwardAll', pixel_values, {
      ...options,
      classifier: this.classifier,
    });
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
 * layernormed with the final layernorm when apply_layernorm, and with reshape_hidden_states the patch
 * tokens (cls and registers dropped) as [B, D, H/p, W/p].
 */
export class Dinov2WithRegistersBackbone extends Dinov2PreTrainedModel {
  static async fromCheckpoint(
    config: Dinov2Config,
    source: TensorSource,
    options: LoadOptions = {},
  ): Promise<Dinov2WithRegistersBackbone> {
    return loadBase(this, config, source, options);
  }

  static async fromOpened(
    opened: OpenedCheckpoint,
    options: PretrainedOptions = {},
  ): Promise<Dinov2WithRegistersBackbone> {
    return loadOpened(opened, options, baseBuilder(this));
  }

  /** `out_indices` overrides the config's for this call (indices into stage_names). */
  async forward(
    pixel_values: TensorLike,
    options: ForwardOptions & { out_indices?: number[] } = {},
  ): Promise<BackboneOutput> {
    const all = await this.run('Dinov2WithRegistersBackbone.forward', pixel_values, {
      ...options,
      out_indices: options.out_indices ?? this.config.out_indices,
    });
    return pick(all, ['feature_maps', 'hidden_states', 'attentions']);
  }

  async forwardAll(
    pixel_values: TensorLike,
    options: ForwardOptions & { out_indices?: number[] } = {},
  ): Promise<AllOutputs> {
    return this.run('Dinov2WithRegistersBackbone.forwardAll', pixel_values, {
      ...options,
      out_indices: options.out_indices ?? this.config.out_indices,
    });
  }
}

export { disposeAll };
