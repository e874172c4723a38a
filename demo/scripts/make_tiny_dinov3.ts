// The demo's bundled DINOv3 checkpoint, demo/models/tiny-dinov3 (about 0.8 MB):
//   npx tsx demo/scripts/make_tiny_dinov3.ts [OUT_DIR]
// scripts/make_random_checkpoint.ts's DINOv3 checkpoint (DINOv3ViTConfig's defaults with the
// published 4 registers; hidden 64, 3 layers of 4 heads, intermediate 256, GELU MLP, biases as
// published, seed 1), and the preprocessor_config.json of the facebook/dinov3-*-pretrain-lvd1689m
// checkpoints (DINOv3ViTImageProcessorFast: 224 x 224, no crop). The same bytes every time. Other
// sizes (a full-size random ViT-S/16 for timing the page) come from make_random_checkpoint.ts --dinov3.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type CheckpointOptions,
  DEFAULT_OPTIONS,
  DINOV3_DEFAULTS,
  writeCheckpoint,
} from '../../scripts/make_random_checkpoint.js';
import { DINOV3_PROCESSOR_DEFAULTS } from '../../src/image/dinov3_processor.js';

export const TINY_DINOV3: CheckpointOptions = {
  ...DEFAULT_OPTIONS,
  ...DINOV3_DEFAULTS,
  hidden: 64,
  layers: 3,
  heads: 4,
  intermediate: 256,
  seed: 1,
};

/**
 * preprocessor_config.json as the facebook/dinov3-*-pretrain-lvd1689m repositories hold it: the
 * library's defaults (which are those) with the fields the library does not read, keys sorted.
 */
export const DINOV3_PREPROCESSOR = Object.fromEntries(
  Object.entries({
    ...DINOV3_PROCESSOR_DEFAULTS,
    crop_size: null,
    data_format: 'channels_first',
    default_to_square: true,
    do_center_crop: null,
    do_convert_rgb: null,
    image_processor_type: 'DINOv3ViTImageProcessorFast',
    resample: 2, // bilinear
  }).sort(([a], [b]) => (a < b ? -1 : 1)),
);

/** Writes config.json, model.safetensors and preprocessor_config.json into `out`; returns the safetensors size in bytes. */
export function writeTinyDinov3(out: string): number {
  const { bytes } = writeCheckpoint(out, TINY_DINOV3);
  writeFileSync(join(out, 'preprocessor_config.json'), `${JSON.stringify(DINOV3_PREPROCESSOR, null, 2)}\n`);
  return bytes;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = resolve(process.argv[2] ?? join(import.meta.dirname, '../models/tiny-dinov3'));
  const bytes = writeTinyDinov3(out);
  console.log(`${out}: model.safetensors ${bytes} bytes, config.json, preprocessor_config.json`);
}
