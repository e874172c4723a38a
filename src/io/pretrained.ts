// Opening a pretrained checkpoint: config.json, preprocessor_config.json when present, and the
// headers of model.safetensors (or of every shard of model.safetensors.index.json). The tensor
// bytes are not read here: the returned StreamedCheckpoint streams them into the model's buffers.
import { type ModelConfig, parseModelConfig } from './model_config.js';
import { HttpByteSource } from './http.js';
import {
  CachingByteSource,
  checkpointFiles,
  type CheckpointFiles,
  type HubOptions,
  type PretrainedSource,
} from './hub.js';
import { safeRelativePath } from './names.js';
import { checkShardName } from './sharded.js';
import {
  type ByteSource,
  openSafetensors,
  readAll,
  shardFiles,
  StreamedCheckpoint,
  type StreamedFile,
} from './stream.js';

export interface OpenedCheckpoint {
  files: CheckpointFiles;
  config: ModelConfig;
  /** preprocessor_config.json as parsed JSON (parseImageProcessorConfig reads it), when the checkpoint has one. */
  preprocessorConfig?: unknown;
  weights: StreamedCheckpoint;
  /** What messages call the weights: "org/name@main/model.safetensors". */
  weightsLabel: string;
}

async function json(
  files: CheckpointFiles,
  file: string,
  options: HubOptions,
  required: boolean,
): Promise<unknown> {
  const source = await files.open(file);
  if (!source) {
    if (required) throw new Error(`${files.label}: no ${file}${files.note ? ` (${files.note})` : ''}`);
    return undefined;
  }
  const bytes = await readAll(source, options.signal);
  options.progress?.(file, bytes.byteLength, bytes.byteLength);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${files.label}/${file}: not valid JSON (${(e as Error).message})`);
  }
}

export async function openPretrained(
  source: PretrainedSource,
  options: HubOptions = {},
): Promise<OpenedCheckpoint> {
  options.signal?.throwIfAborted();
  const files = await checkpointFiles(source, options);
  const config = parseModelConfig(
    await json(files, 'config.json', options, true),
    `${files.label}/config.json`,
  );
  const preprocessorConfig = await json(files, 'preprocessor_config.json', options, false);

  const parts: StreamedFile[] = [];
  let index: ReturnType<typeof shardFiles>['index'] | undefined;
  let weightsLabel = `${files.label}/model.safetensors`;
  const single = await files.open('model.safetensors');
  if (single) parts.push(await openSafetensors('model.safetensors', single, options.signal));
  else {
    const indexName = 'model.safetensors.index.json';
    const indexJson = await json(files, indexName, options, false);
    if (indexJson === undefined)
      throw new Error(
        `${files.label}: neither model.safetensors nor ${indexName}${files.note ? ` (${files.note})` : ''}`,
      );
    weightsLabel = `${files.label}/${indexName}`;
    const sharded = shardFiles(indexJson, weightsLabel);
    index = sharded.index;
    for (const shard of sharded.shards) safeRelativePath(shard, 'shard name', weightsLabel);
    for (const shard of sharded.shards) {
      checkShardName(shard, weightsLabel);
      const s = await files.open(shard);
      if (!s)
        throw new Error(
          `${weightsLabel} names ${shard}, which ${files.label} does not have${files.note ? ` (${files.note})` : ''}`,
        );
      parts.push(await openSafetensors(shard, s, options.signal));
    }
  }
  const weights = new StreamedCheckpoint(parts, weightsLabel, index, options.progress);
  return { files, config, preprocessorConfig, weights, weightsLabel };
}

export interface DownloadedFile {
  file: string;
  bytes: number;
  /** false when the file was in the cache (or is a local file) already. */
  downloaded: boolean;
}

/**
 * Fetches every file from_pretrained would read (config.json, preprocessor_config.json when
 * present, model.safetensors or the index and its shards) into the cache, without loading a
 * model; `progress` reports each file. Returns where the files are (Node: the snapshot folder).
 */
export async function downloadPretrained(
  source: PretrainedSource,
  options: HubOptions = {},
): Promise<{ label: string; location?: string; files: DownloadedFile[] }> {
  const files = await checkpointFiles(source, options);
  const done: DownloadedFile[] = [];
  const fetchFile = async (file: string, keep: boolean): Promise<Uint8Array | undefined> => {
    const s: ByteSource | undefined = await files.open(file);
    if (!s) return undefined;
    const remote = s instanceof CachingByteSource || s instanceof HttpByteSource;
    const { size } = await s.head(0, options.signal);
    const kept: Uint8Array[] = [];
    let loaded = 0;
    if (remote || keep) {
      for await (const piece of s.chunks(0, options.signal)) {
        loaded += piece.byteLength;
        if (keep) kept.push(piece.slice());
        options.progress?.(file, loaded, size);
      }
    } else {
      options.progress?.(file, size, size);
    }
    done.push({ file, bytes: size, downloaded: remote });
    if (!keep) return new Uint8Array(0);
    const out = new Uint8Array(loaded);
    let at = 0;
    for (const k of kept) {
      out.set(k, at);
      at += k.byteLength;
    }
    return out;
  };
  const config = await fetchFile('config.json', true);
  if (!config) throw new Error(`${files.label}: no config.json${files.note ? ` (${files.note})` : ''}`);
  await fetchFile('preprocessor_config.json', false);
  if (!(await fetchFile('model.safetensors', false))) {
    const indexName = 'model.safetensors.index.json';
    const index = await fetchFile(indexName, true);
    if (!index)
      throw new Error(
        `${files.label}: neither model.safetensors nor ${indexName}${files.note ? ` (${files.note})` : ''}`,
      );
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(index));
    } catch (e) {
      throw new Error(`${files.label}/${indexName}: not valid JSON (${(e as Error).message})`);
    }
    const indexLabel = `${files.label}/${indexName}`;
    const shards = shardFiles(json, indexLabel).shards;
    for (const shard of shards) safeRelativePath(checkShardName(shard, indexLabel), 'shard name', indexLabel);
    for (const shard of shards) {
      if (!(await fetchFile(shard, false)))
        throw new Error(`${files.label}/${indexName} names ${shard}, which ${files.label} does not have`);
    }
  }
  return { label: files.label, location: files.location, files: done };
}
