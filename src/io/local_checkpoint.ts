// A checkpoint folder on the local disk (Node): config.json, preprocessor_config.json when present,
// and model.safetensors or model.safetensors.index.json with its shards.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TensorSource } from './tensors.js';
import { type ModelConfig, parseModelConfig } from './model_config.js';
import { SafetensorsFile } from './safetensors.js';
import { parseShardIndex, ShardedSource } from './sharded.js';

export interface LocalCheckpoint {
  dir: string;
  config: ModelConfig;
  source: TensorSource;
  /** What error messages call the weights. */
  file: string;
  preprocessorConfig?: unknown;
}

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  return SafetensorsFile.parse(new Uint8Array(await readFile(path)), path);
}

export async function readLocalCheckpoint(dir: string): Promise<LocalCheckpoint> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath))
    throw new Error(`${dir}: no config.json (expected a checkpoint folder in the Hugging Face layout)`);
  const config = parseModelConfig(await readJson(configPath), configPath);
  const preprocessorPath = join(dir, 'preprocessor_config.json');
  const preprocessorConfig = existsSync(preprocessorPath) ? await readJson(preprocessorPath) : undefined;
  const single = join(dir, 'model.safetensors');
  if (existsSync(single))
    return { dir, config, source: await readSafetensorsFile(single), file: single, preprocessorConfig };
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!existsSync(indexPath))
    throw new Error(`${dir}: neither model.safetensors nor model.safetensors.index.json`);
  const index = parseShardIndex(await readJson(indexPath), indexPath);
  const shards = new Map<string, SafetensorsFile>();
  for (const shard of new Set(Object.values(index.weight_map)))
    shards.set(shard, await readSafetensorsFile(join(dir, shard)));
  return {
    dir,
    config,
    source: new ShardedSource(index, shards, indexPath),
    file: indexPath,
    preprocessorConfig,
  };
}
