// The package's browser entry (export conditions "browser" and "default"); src/node.ts is the Node
// entry, the same API with the Node platform installed. Its declarations (dist/types/index.d.ts)
// serve both.
/// <reference types="@webgpu/types" preserve="true" />
export * from './gpu/device.js';
export { DisposedError, GpuTensor } from './gpu/tensor.js';
export { GpuLimitError } from './gpu/buffers.js';
export * from './io/safetensors.js';
export * from './io/config.js';
export * from './model/inputs.js';
export { CheckpointError } from './model/parameters.js';
export type { TensorSource } from './io/tensors.js';
export * from './model/modeling.js';
export * from './model/modeling_dinov3.js';
export * from './model/auto.js';
export { positionEmbeddingsFor } from './model/position_embeddings.js';
export * from './gpu/errors.js';
export type { PretrainedOptions } from './model/from_pretrained.js';
export type { TensorStream } from './io/tensors.js';
export { DEFAULT_ENDPOINT, type HubOptions, type PretrainedSource, type CheckpointFiles } from './io/hub.js';
export { HttpError, NetworkError, TimeoutError } from './io/http.js';
export { UnsafeNameError } from './io/names.js';
export { VerificationError } from './io/verify.js';
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
export { MissingDependencyError } from './optional_dependency.js';
export {
  DINOv3ViTImageProcessor,
  DINOV3_PROCESSOR_DEFAULTS,
  type DINOv3ImageProcessorConfig,
} from './image/dinov3_processor.js';
export { IMAGE_PROCESSOR_TYPES, type ImageProcessor, imageProcessorFromConfig } from './image/processors.js';
export { type Dinov3Config, parseDinov3Config } from './io/config_dinov3.js';
export { isDinov3, type ModelConfig, mlpFeatures, parseModelConfig } from './io/model_config.js';
export { ropeTables64, type RopeTables } from './model/rope.js';
export { ImageError, ImageLimitError } from './image/errors.js';
export { MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS_ERROR } from './image/limits.js';
export {
  BitImageProcessor,
  parseImageProcessorConfig,
  DINOV2_PROCESSOR_DEFAULTS,
} from './image/processor.js';
export type { ImageProcessorConfig, ProcessedImage } from './image/processor.js';
export type { RgbImage } from './image/rgb_image.js';
export {
  load_image,
  type ImageInput,
  type LoadImageOptions,
  type PixelValues,
} from './image/load_image.js';
export * from './pipelines.js';
