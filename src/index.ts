export * from './gpu/device.js';
export { GpuTensor } from './gpu/tensor.js';
export { GpuLimitError } from './gpu/buffers.js';
export * from './io/safetensors.js';
export * from './io/config.js';
export * from './model/inputs.js';
export { CheckpointError } from './model/parameters.js';
export type { TensorSource } from './io/tensors.js';
export * from './model/modeling.js';
export * from './model/auto.js';
export { positionEmbeddingsFor } from './model/position_embeddings.js';
export * from './gpu/errors.js';
export type { PretrainedOptions } from './model/from_pretrained.js';
export type { TensorStream } from './io/tensors.js';
export { DEFAULT_ENDPOINT, type HubOptions, type PretrainedSource, type CheckpointFiles } from './io/hub.js';
export { HttpError, NetworkError } from './io/http.js';
export {
  downloadPretrained,
  openPretrained,
  type DownloadedFile,
  type OpenedCheckpoint,
} from './io/pretrained.js';
export { poolEmbeddings, pooledSize, POOLINGS, type Pooling } from './model/pooling.js';
export { BROWSER_CACHE_NAME, clearBrowserCache } from './io/cache_browser.js';
export { KernelTimer } from './gpu/timing.js';
export type { KernelTime } from './gpu/timing.js';
