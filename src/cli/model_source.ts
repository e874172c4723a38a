// `--model ID|DIR` and the options that go with it, shared by embed, classify and download:
// a local folder when one exists at that path, else a hub id (org/name, "@revision" optional)
// fetched from $HF_ENDPOINT (default https://huggingface.co) with $HF_TOKEN, cached where
// huggingface_hub caches ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub).
import { existsSync } from 'node:fs';
import type { PretrainedOptions } from '../model/from_pretrained.js';
import { parseDtype } from '../model/precision.js';
import type { ParsedArgs } from './args.js';
import type { Progress } from './progress.js';

/** Valued and boolean options every model-reading command takes. */
export const MODEL_VALUED = ['model', 'revision', 'cache-dir', 'dtype'];
export const MODEL_FLAGS = ['offline', 'no-cache'];
export const MODEL_USAGE =
  '--model ID|DIR [--revision REV] [--cache-dir DIR] [--offline] [--no-cache] [--dtype fp32|fp16|fp16-emulated]';

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

/** Local image paths must exist before a model is loaded (or downloaded) for them; URLs are left to the decoder. */
export function checkImagesExist(images: string[]): void {
  const missing = images.filter((f) => !/^https?:\/\//i.test(f) && !existsSync(f));
  if (missing.length) throw new Error(`${missing.join(', ')}: no such file${missing.length > 1 ? 's' : ''}`);
}
