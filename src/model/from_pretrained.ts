// from_pretrained: a checkpoint opened by src/io/pretrained.ts (config.json, preprocessor_config.json,
// safetensors headers) becomes a model whose weights stream from the source into the GPU: the
// module tree is built from config.json, checked against the headers, then every tensor's bytes
// go to the GPU as they arrive (ParameterSet.uploadStream) and are packed there.
import { type DeviceInfo, defaultDevice } from '../gpu/device.js';
import type { Dinov2Config } from '../io/config.js';
import type { HubOptions } from '../io/hub.js';
import type { PretrainedSource } from '../io/hub.js';
import { openPretrained, type OpenedCheckpoint } from '../io/pretrained.js';
import type { StorageType } from '../gpu/shaders.js';
import type { Dinov2PreTrainedModel } from './modeling.js';
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

/** Builds the module tree for a checkpoint whose tensor names are `names`; `ignore` names checkpoint keys the class leaves unused. */
export type ModelBuilder<M> = (
  config: Dinov2Config,
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

export async function loadOpened<M extends Dinov2PreTrainedModel>(
  opened: OpenedCheckpoint,
  options: PretrainedOptions,
  build: ModelBuilder<M>,
): Promise<M> {
  const dtype = parseDtype(options.dtype);
  const device = options.device ?? (await defaultDevice());
  const { model, ignore } = build(
    opened.config,
    device,
    opened.weights.names,
    blockStorage(dtype, device.device),
  );
  try {
    model.params.validate(opened.weights, opened.weightsLabel, ignore);
    await model.params.uploadStream(model.memory, opened.weights, opened.weightsLabel, {
      signal: options.signal,
      kernels: model.kernels,
      onTensor: options.onTensor,
      flushBytes: options.flushBytes,
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.preprocessorConfig = opened.preprocessorConfig;
  model.source = opened.files.location ?? opened.files.label;
  return model;
}
