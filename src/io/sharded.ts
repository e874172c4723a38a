import { describeJson, SafetensorsError, type SafetensorsFile } from './safetensors.js';

/** model.safetensors.index.json: which shard holds each tensor. */
export interface ShardIndex {
  metadata?: Record<string, unknown>;
  weight_map: Record<string, string>;
}

/** A shard name as an index may give it: a plain relative file name, nothing that leaves the folder. */
export function checkShardName(name: string, index = 'model.safetensors.index.json'): string {
  if (
    typeof name !== 'string' ||
    name === '' ||
    name.startsWith('/') ||
    name.startsWith('\\') ||
    /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(name) ||
    name.split(/[\\/]/).includes('..')
  ) {
    throw new SafetensorsError(
      index,
      `refusing shard name ${describeJson(name)} (not a file name: absolute, with '..' or a URL scheme)`,
    );
  }
  return name;
}

export function parseShardIndex(json: unknown, index = 'model.safetensors.index.json'): ShardIndex {
  const map = (json as ShardIndex | null)?.weight_map;
  if (!map || typeof map !== 'object' || Array.isArray(map))
    throw new SafetensorsError(index, 'weight_map must be an object of tensor name -> shard file');
  for (const shard of Object.values(map)) checkShardName(shard, index);
  return { metadata: (json as ShardIndex).metadata, weight_map: map };
}

/** Several safetensors shards read as one checkpoint; each tensor must sit in the shard the index names. */
export class ShardedSource {
  private readonly owner = new Map<string, SafetensorsFile>();

  constructor(
    index: ShardIndex,
    shards: Map<string, SafetensorsFile>,
    indexName = 'model.safetensors.index.json',
  ) {
    for (const [shardName, file] of shards) {
      for (const name of file.names) {
        if (this.owner.has(name)) throw new SafetensorsError(shardName, 'is also in another shard', name);
        const listed = Object.hasOwn(index.weight_map, name) ? index.weight_map[name] : undefined;
        if (listed !== shardName)
          throw new SafetensorsError(
            indexName,
            `the index puts it in ${listed === undefined ? 'no shard' : describeJson(listed)}, found in ${shardName}`,
            name,
          );
        this.owner.set(name, file);
      }
    }
    const absent = Object.keys(index.weight_map).filter((n) => !this.owner.has(n));
    if (absent.length)
      throw new SafetensorsError(indexName, `lists tensors no shard holds: ${absent.join(', ')}`, absent[0]);
  }

  get names(): string[] {
    return [...this.owner.keys()];
  }

  private file(name: string): SafetensorsFile {
    const f = this.owner.get(name);
    if (!f) throw new SafetensorsError('model.safetensors.index.json', 'no shard holds it', name);
    return f;
  }

  info(name: string): { dtype: string; shape: number[] } {
    return this.file(name).info(name);
  }

  float32(name: string): Float32Array {
    return this.file(name).float32(name);
  }

  bytes(name: string): Uint8Array {
    return this.file(name).bytes(name);
  }
}
