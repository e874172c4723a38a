// from_pretrained: a checkpoint opened by src/io/pretrained.ts (config.json, preprocessor_config.json,
// safetensors headers) becomes a model whose weights stream from the source into the GPU: the
// module tree is built from config.json, checked against the headers, then every tensor's bytes
// go to the GPU as they arrive (ParameterSet.uploadStream) and are packed there.
import { DeviceInfo, defaultDevice } from '../gpu/device.js';
import type { Dinov2Config } from '../io/config.js';
import type { HubOptions } from '../io/hub.js';
import type { PretrainedSource } from '../io/hub.js';
import { openPretrained, type OpenedCheckpoint } from '../io/pretrained.js';
import type { Dinov2PreTrainedModel } from './modeling.js';

export interface PretrainedOptions extends HubOptions {
  /** Defaults to one device shared by every model. */
  device?: DeviceInfo;
  /**
   * The dtype the model computes in. The kernels compute in float32, so 'float32' (and 'auto', as
   * transformers spells "whatever the checkpoint has") are accepted; F16, BF16 and F64 weights are
   * widened to float32 exactly (F64 rounded) as they are uploaded.
   */
  dtype?: 'float32' | 'auto';
  /** Called after each parameter is in place: (done, total). */
  onTensor?: (done: number, total: number) => void;
  /** Submit pack work and wait for the GPU after this many bytes (default 64 MiB). */
  flushBytes?: number;
}

/** Builds the module tree for a checkpoint whose tensor names are `names`; `ignore` names checkpoint keys the class leaves unused. */
export type ModelBuilder<M> = (config: Dinov2Config, device: DeviceInfo, names: string[]) => { model: M; ignore?: (key: string) => boolean };

export function checkDtype(dtype: string | undefined): void {
  if (dtype !== undefined && dtype !== 'float32' && dtype !== 'auto') {
    throw new Error(`dtype ${JSON.stringify(dtype)}: the kernels compute in float32; pass 'float32' or 'auto' (F16, BF16 and F64 checkpoints load either way)`);
  }
}

/** Checks the options, then opens the checkpoint (config, preprocessor config, safetensors headers). */
export async function openChecked(source: PretrainedSource, options: PretrainedOptions): Promise<OpenedCheckpoint> {
  checkDtype(options.dtype);
  return openPretrained(source, options);
}

export async function loadOpened<M extends Dinov2PreTrainedModel>(opened: OpenedCheckpoint, options: PretrainedOptions, build: ModelBuilder<M>): Promise<M> {
  checkDtype(options.dtype);
  const device = options.device ?? (await defaultDevice());
  const { model, ignore } = build(opened.config, device, opened.weights.names);
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
