// `--model ID|DIR` and the options that go with it, shared by infer, embed, classify and download:
// a local folder when one exists at that path, else a hub id (org/name, "@revision" optional)
// fetched from $HF_ENDPOINT (default https://huggingface.co) with $HF_TOKEN, cached where
// huggingface_hub caches ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub).
import { existsSync } from 'node:fs';
import type { PretrainedOptions } from '../model/from_pretrained.js';
import { parseDtype } from '../model/precision.js';
import type { LoadImageNodeOptions } from '../image/decode_node.js';
import { MAX_IMAGE_PIXELS } from '../image/limits.js';
import { type OptionSpec, type ParsedArgs, UsageError } from './args.js';
import type { Progress } from './progress.js';

/** The hub options of every command that reads a checkpoint (download takes them without --model and --dtype). */
export const HUB_OPTIONS: OptionSpec[] = [
  { name: 'revision', value: 'REV', default: 'main', help: 'branch, tag or commit of a hub id' },
  {
    name: 'cache-dir',
    value: 'DIR',
    default: '$HF_HUB_CACHE, else ~/.cache/huggingface/hub',
    help: 'the huggingface_hub cache',
  },
  { name: 'offline', help: 'use only the cache, never the network (also HF_HUB_OFFLINE=1)' },
];

export const MODEL_OPTIONS: OptionSpec[] = [
  {
    name: 'model',
    value: 'ID|DIR',
    required: true,
    help: 'a checkpoint folder, or a hub id (org/name) downloaded into the cache',
  },
  ...HUB_OPTIONS,
  { name: 'no-cache', help: 'download without keeping the files in the cache' },
  {
    name: 'dtype',
    value: 'fp32|fp16|fp16-emulated',
    default: 'fp32',
    help: 'precision of the weights and activations (fp16 needs shader-f16)',
  },
];

/**
 * How images are loaded: EXIF orientation applied by default, as transformers' load_image
 * (exif_transpose) does, and Pillow's decompression-bomb limit (src/image/limits.ts).
 */
export const IMAGE_OPTIONS: OptionSpec[] = [
  {
    name: 'no-auto-orient',
    help: 'keep the stored orientation (by default the EXIF orientation is applied, as transformers does)',
  },
  { name: 'auto-orient', help: 'apply the EXIF orientation (the default; kept for older scripts)' },
  {
    name: 'max-pixels',
    value: 'N',
    default: String(MAX_IMAGE_PIXELS),
    help: "Pillow's decompression-bomb limit: a warning above N pixels, an error above 2N (Infinity: none), read from the header before decoding",
  },
];

/** The loader options of IMAGE_OPTIONS. */
export function imageOptions(args: ParsedArgs): Pick<LoadImageNodeOptions, 'autoOrient' | 'maxPixels'> {
  const text = args.values.get('max-pixels');
  const maxPixels = text === undefined ? MAX_IMAGE_PIXELS : Number(text);
  if (!(maxPixels === Infinity || (Number.isSafeInteger(maxPixels) && maxPixels > 0)))
    throw new UsageError(`--max-pixels ${text}: a positive whole number of pixels, or Infinity`);
  return { autoOrient: !args.flags.has('no-auto-orient'), maxPixels };
}

/** The hub options, and the dtype (src/model/precision.ts), checked before anything is downloaded. */
export function hubOptions(args: ParsedArgs, progress: Progress): PretrainedOptions {
  const options: PretrainedOptions = {
    dtype: parseDtype(args.values.get('dtype')),
    revision: args.values.get('revision'),
    cacheDir: args.values.get('cache-dir'),
    cache: !args.flags.has('no-cache'),
    progress: (file, loaded, total) => progress.update(file, loaded, total),
  };
  if (args.flags.has('offline')) options.offline = true;
  return options;
}

/** Local files must exist before a model is loaded (or downloaded) for them; URLs are left to the decoder. */
export function checkFilesExist(files: string[]): void {
  const missing = files.filter((f) => !/^https?:\/\//i.test(f) && !existsSync(f));
  if (missing.length) throw new Error(`${missing.join(', ')}: no such file${missing.length > 1 ? 's' : ''}`);
}

/** An image's decode error, naming the file once (the decoder may name it already). */
export function imageError(image: string, e: unknown): string {
  const message = (e as Error).message.replace(/^loadImageNode: /, '');
  return message.includes(image) ? message : `${image}: ${message}`;
}
