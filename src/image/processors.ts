// The image processor a preprocessor_config.json names (its image_processor_type), or DINOv2's
// when it names none. A type this library does not implement is an error, never a silent
// fallback to another processor's numerics.
import { DINOv3ViTImageProcessor, parseDINOv3ImageProcessorConfig } from './dinov3_processor.js';
import { BitImageProcessor, parseImageProcessorConfig } from './processor.js';

export type ImageProcessor = BitImageProcessor | DINOv3ViTImageProcessor;

/** transformers' image_processor_type names, slow and fast, for the processors implemented here. */
export const IMAGE_PROCESSOR_TYPES = {
  BitImageProcessor: 'dinov2',
  BitImageProcessorFast: 'dinov2',
  DINOv3ViTImageProcessor: 'dinov3',
  DINOv3ViTImageProcessorFast: 'dinov3',
} as const;

/** The model families' processors, for a preprocessor_config.json that names none (or is absent). */
export type ProcessorFamily = 'dinov2' | 'dinov3';

/**
 * The processor of a parsed preprocessor_config.json: the one its image_processor_type names, or
 * `family`'s (default DINOv2's) when it names none; undefined: `family`'s defaults.
 */
export function imageProcessorFromConfig(
  json: unknown,
  source = 'preprocessor_config.json',
  family: ProcessorFamily = 'dinov2',
): ImageProcessor {
  const type = (json as { image_processor_type?: unknown } | null | undefined)?.image_processor_type;
  if (type === undefined || type === null) {
    if (family === 'dinov3')
      return new DINOv3ViTImageProcessor(
        json === undefined ? {} : parseDINOv3ImageProcessorConfig(json, source),
      );
    return new BitImageProcessor(json === undefined ? {} : parseImageProcessorConfig(json, source));
  }
  const named =
    typeof type === 'string' && Object.hasOwn(IMAGE_PROCESSOR_TYPES, type)
      ? IMAGE_PROCESSOR_TYPES[type as keyof typeof IMAGE_PROCESSOR_TYPES]
      : undefined;
  if (named === 'dinov2') return new BitImageProcessor(parseImageProcessorConfig(json, source));
  if (named === 'dinov3') return new DINOv3ViTImageProcessor(parseDINOv3ImageProcessorConfig(json, source));
  throw new Error(
    `${source}: image_processor_type ${JSON.stringify(type)} is not implemented by dinov2-webgpu ` +
      `(implemented: ${Object.keys(IMAGE_PROCESSOR_TYPES).join(', ')})`,
  );
}
