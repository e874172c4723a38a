import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadImageNode } from '../image/decode_node.js';
import { BitImageProcessor, DINOV2_PROCESSOR_DEFAULTS } from '../image/processor.js';
import { DINOv3ViTImageProcessor } from '../image/dinov3_processor.js';
import type { ImageProcessor } from '../image/processors.js';
import { AutoImageProcessor } from '../model/auto.js';
import { writeSafetensors } from '../io/safetensors.js';
import { type CommandSpec, type ParsedArgs, required, UsageError } from './args.js';
import { imageOptions, imageError, IMAGE_OPTIONS } from './model_source.js';
import { checkOutputPath, outputFormat, writeFileAtomic } from './output.js';

export const PREPROCESS_COMMAND: CommandSpec = {
  name: 'preprocess',
  summary:
    "Runs transformers' image processor (BitImageProcessor, or DINOv3ViTImageProcessor as the checkpoint names) on one image and writes pixel_values [1, 3, H, W] as safetensors.",
  positional: 'IMAGE',
  options: [
    { name: 'output', value: 'OUT.safetensors', required: true, help: 'where pixel_values go' },
    {
      name: 'model',
      value: 'DIR',
      default: "DINOv2's defaults",
      help: "a checkpoint folder whose preprocessor_config.json gives the processor and its settings (else its model family's defaults)",
    },
    ...IMAGE_OPTIONS,
  ],
  example: 'dinov2-webgpu preprocess cat.jpg --output cat.safetensors',
};

/**
 * transformers' image processor on one image file: `pixel_values` [1, 3, H, W] (F32) as
 * `processor(images=Image.open(IMAGE), return_tensors="pt")` gives it. The processor and settings
 * come from DIR/preprocessor_config.json when --model names a folder that has one, else the
 * defaults of the folder's model family (DINOv3's for a DINOv3 config.json), else DINOv2's.
 * The EXIF orientation is applied first, as transformers' load_image does (--no-auto-orient keeps
 * the stored orientation, as PIL's Image.open does).
 */
export async function preprocess(args: ParsedArgs, log: (line: string) => void): Promise<void> {
  if (args.positional.length !== 1)
    throw new UsageError(
      args.positional.length
        ? `one IMAGE, got ${args.positional.length}: ${args.positional.join(' ')}`
        : 'IMAGE is required',
    );
  const [imagePath] = args.positional;
  const outputPath = required(args, 'output');
  outputFormat(outputPath, undefined, ['safetensors'], 'safetensors', []);
  if (!existsSync(imagePath)) throw new Error(`${imagePath}: no such file`);
  checkOutputPath(outputPath, [imagePath]);

  let processor: ImageProcessor = new BitImageProcessor(DINOV2_PROCESSOR_DEFAULTS);
  let settings = 'DINOv2 defaults';
  const dir = args.values.get('model');
  if (dir !== undefined) {
    if (!existsSync(dir)) throw new Error(`--model ${dir}: no such folder`);
    // AutoImageProcessor: the processor its image_processor_type names (DINOv2's BitImageProcessor
    // or DINOv3's); a type this library does not implement is an error, never another processor
    // instead. Without a type (or a file), the family config.json's model_type names.
    processor = await AutoImageProcessor.from_pretrained(dir);
    const path = join(dir, 'preprocessor_config.json');
    const defaults = processor instanceof DINOv3ViTImageProcessor ? 'DINOv3 defaults' : 'DINOv2 defaults';
    settings = existsSync(path) ? path : `${defaults} (${dir} has no preprocessor_config.json)`;
  }

  const image = await loadImageNode(imagePath, imageOptions(args)).catch((e: unknown) => {
    throw new Error(imageError(imagePath, e));
  });
  const { pixel_values, dims } = processor.preprocess(image);
  await writeFileAtomic(
    outputPath,
    writeSafetensors(
      { pixel_values: { dtype: 'F32', shape: [...dims], data: pixel_values } },
      {
        producer: 'dinov2-webgpu preprocess',
        image: imagePath,
        image_size: `${image.width}x${image.height}`,
        processor: JSON.stringify(processor.config),
      },
    ),
  );
  log(
    `${imagePath} (${image.width}x${image.height}) -> pixel_values [${dims.join(', ')}] in ${outputPath} (settings: ${settings})`,
  );
}
