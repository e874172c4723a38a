// The one load path. A checkpoint (opened by src/io/pretrained.ts: config.json,
// preprocessor_config.json, safetensors headers; or in memory, read as a stream) becomes a model
// whose weights stream from the source into the GPU: the module tree is built from config.json,
// checked against the headers, then every tensor's bytes go to the GPU as they arrive
// (ParameterSet.upload) and are packed there.
import { type DeviceInfo, defaultDevice } from '../gpu/device.js';
import type { StorageType } from '../gpu/shaders.js';
import type { ModelConfig } from '../io/model_config.js';
import type { HubOptions, PretrainedSource } from '../io/hub.js';
import { type OpenedCheckpoint, openPretrained } from '../io/pretrained.js';
import type { TensorStream } from '../io/tensors.js';
import { blockStorage, type DtypeOption, parseDtype } from './precision.js';

export interface PretrainedOptions extends HubOptions {
  /** Defaults to one device shared by every model. */
  device?: DeviceInfo;
  /**
   * How the model stores its weights and activations (src/model/precision.ts): 'fp32' (default;
   * also spelled 'float32', and 'auto'), 'fp16' (also 'float16'; the block weights and activations in
   * half precision, f32 arithmetic; needs the adapter's shader-f16) or 'fp16-emulated' (fp16's
   * values on any adapter). Checkpoints stored as F16, BF16 or F64 load with any of them: weights
   * are converted exactly (F64 rounded) as they are uploaded.
   */
  dtype?: DtypeOption;
  /** Called after each parameter is in place: (done, total). */
  onTensor?: (done: number, total: number) => void;
  /** Submit pack work and wait for the GPU after this many bytes (default 64 MiB). */
  flushBytes?: number;
}

/** How the weights reach the model (ParameterSet.upload's options, less the model's own kernels). */
export interface WeightOptions {
  /** The checkpoint's name in error messages. */
  file?: string;
  onTensor?: (done: number, total: number) => void;
  signal?: AbortSignal;
  flushBytes?: number;
}

/** What the loader needs of a model: the model classes (src/model/modeling.ts) are such. */
export interface LoadableModel {
  loadWeights(
    weights: TensorStream,
    options: WeightOptions,
    ignore?: (key: string) => boolean,
  ): Promise<void>;
  dispose(): void;
  preprocessorConfig: unknown;
  source: string | undefined;
}

/** Builds the module tree for a checkpoint whose tensor names are `names`; `ignore` names checkpoint keys the class leaves unused. */
export type ModelBuilder<M> = (
  config: ModelConfig,
  device: DeviceInfo,
  names: string[],
  storage: StorageType,
) => { model: M; ignore?: (key: string) => boolean };

/** Checks the options, then opens the checkpoint (config, preprocessor config, safetensors headers). */
export async function openChecked(
  source: PretrainedSource,
  options: PretrainedOptions,
): Promise<OpenedCheckpoint> {
  parseDtype(options.dtype); // a wrong dtype fails before anything is downloaded
  return openPretrained(source, options);
}

/** Builds the model for `config` on its device and streams `weights` into it; a failure frees it. */
export async function loadModel<M extends LoadableModel>(
  build: ModelBuilder<M>,
  config: ModelConfig,
  weights: TensorStream,
  options: WeightOptions & { device?: DeviceInfo; dtype?: DtypeOption },
): Promise<M> {
  const dtype = parseDtype(options.dtype);
  const device = options.device ?? (await defaultDevice());
  const { model, ignore } = build(config, device, weights.names, blockStorage(dtype, device.device));
  try {
    await model.loadWeights(weights, options, ignore);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** loadModel for a checkpoint opened by openPretrained, keeping its preprocessor config and origin. */
export async function loadOpened<M extends LoadableModel>(
  opened: OpenedCheckpoint,
  options: PretrainedOptions,
  build: ModelBuilder<M>,
): Promise<M> {
  const model = await loadModel(build, opened.config, opened.weights, {
    ...options,
    file: opened.weightsLabel,
  });
  model.preprocessorConfig = opened.preprocessorConfig;
  model.source = opened.files.location ?? opened.files.label;
  return model;
}
