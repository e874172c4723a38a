// Where a benchmark's weights come from: random weights of the official shapes, made in memory by
// scripts/make_random_checkpoint.ts (no download), or a checkpoint folder / hub id already on disk.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type CheckpointOptions,
  DEFAULT_OPTIONS,
  DINOV3_DEFAULTS,
  makeCheckpoint,
  makeConfig,
  writeCheckpoint,
} from '../scripts/make_random_checkpoint.js';
import type { TensorSource } from '../src/io/tensors.js';

/**
 * The released sizes. Dinov2WithRegisters (facebook/dinov2-with-registers-{small,base,large,giant}):
 * patch 14, image_size 518, 4 registers; giant's MLP is SwiGLU. DINOv3 ViT
 * (facebook/dinov3-vit{s,s+,b,l,h+}16-pretrain-lvd1689m): patch 16, 4 registers, RoPE θ 100,
 * eps 1e-5, intermediate_size given; S+ and H+ have gated silu MLPs. (ViT-7B, 27 GB of random
 * float32 weights, is left out.)
 */
export const OFFICIAL_SIZES = {
  small: { hidden: 384, layers: 12, heads: 6, swiglu: false },
  base: { hidden: 768, layers: 12, heads: 12, swiglu: false },
  large: { hidden: 1024, layers: 24, heads: 16, swiglu: false },
  giant: { hidden: 1536, layers: 40, heads: 24, swiglu: true },
  'dinov3-small': { hidden: 384, layers: 12, heads: 6, swiglu: false, dinov3: true, intermediate: 1536 },
  'dinov3-small-plus': {
    hidden: 384,
    layers: 12,
    heads: 6,
    swiglu: true,
    act: 'silu',
    dinov3: true,
    intermediate: 1536,
  },
  'dinov3-base': { hidden: 768, layers: 12, heads: 12, swiglu: false, dinov3: true, intermediate: 3072 },
  'dinov3-large': { hidden: 1024, layers: 24, heads: 16, swiglu: false, dinov3: true, intermediate: 4096 },
  'dinov3-huge-plus': {
    hidden: 1280,
    layers: 32,
    heads: 20,
    swiglu: true,
    act: 'silu',
    dinov3: true,
    intermediate: 5120,
  },
} as const;

export type OfficialSize = keyof typeof OFFICIAL_SIZES;

export function isOfficialSize(name: string): name is OfficialSize {
  return Object.hasOwn(OFFICIAL_SIZES, name);
}

export function randomOptions(size: OfficialSize, seed = 0): CheckpointOptions {
  const shape = OFFICIAL_SIZES[size];
  const family = 'dinov3' in shape ? DINOV3_DEFAULTS : { patch: 14, imageSize: 518, registers: 4 };
  return { ...DEFAULT_OPTIONS, ...family, ...shape, seed, dtype: 'F32' };
}

export interface Weights {
  /** What reports call the model: "random:small" or the folder. */
  name: string;
  config: unknown;
  source: TensorSource;
  file: string;
}

/** Random weights of an official size, held in memory as the loader's TensorSource (F32). */
export function randomWeights(size: OfficialSize, seed = 0): Weights {
  const { config, tensors } = makeCheckpoint(randomOptions(size, seed));
  const names = Object.keys(tensors);
  const source: TensorSource = {
    names,
    info: (name) => ({ dtype: tensors[name].dtype, shape: tensors[name].shape }),
    float32: (name) => tensors[name].data as Float32Array,
    bytes: (name) => {
      const d = tensors[name].data;
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    },
  };
  return { name: `random:${size}`, config, source, file: `random ${size} (seed ${seed})` };
}

/**
 * The same random checkpoint written as a folder under `cacheRoot` (for the browser, which fetches
 * it), kept while its config.json is unchanged.
 */
export function randomCheckpointDir(size: OfficialSize, cacheRoot: string, seed = 0): string {
  const options = randomOptions(size, seed);
  const dir = join(cacheRoot, `random-${size}-seed${seed}`);
  const config = `${JSON.stringify(makeConfig(options), null, 2)}\n`;
  const configPath = join(dir, 'config.json');
  const fresh =
    existsSync(configPath) &&
    readFileSync(configPath, 'utf8') === config &&
    existsSync(join(dir, 'model.safetensors'));
  if (!fresh) writeCheckpoint(dir, options);
  return dir;
}

/** The hub cache as huggingface_hub lays it out: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
function hubCacheRoot(): string {
  const env = process.env;
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  return join(env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface'), 'hub');
}

/**
 * `--model DIR|ID`: a folder as it is, or a hub id ("org/name") whose snapshot is already in the
 * local hub cache. The benchmark never downloads.
 */
export function resolveModelDir(model: string): string {
  if (existsSync(model) && statSync(model).isDirectory()) return resolve(model);
  if (/^[\w.-]+\/[\w.-]+$/.test(model)) {
    const repo = join(hubCacheRoot(), `models--${model.replace('/', '--')}`);
    const ref = join(repo, 'refs', 'main');
    const snapshots = join(repo, 'snapshots');
    if (existsSync(ref)) {
      const dir = join(snapshots, readFileSync(ref, 'utf8').trim());
      if (existsSync(dir)) return dir;
    }
    const found = existsSync(snapshots) ? readdirSync(snapshots) : [];
    if (found.length === 1) return join(snapshots, found[0]);
    throw new Error(
      `--model ${model}: no such folder, and no snapshot of it in the hub cache (${repo}); the benchmark never downloads: ` +
        'fetch it first (e.g. huggingface-cli download), or use --random-weights small|base|large|giant',
    );
  }
  throw new Error(
    `--model ${model}: no such folder (give a checkpoint folder, a hub id cached locally, or --random-weights)`,
  );
}
