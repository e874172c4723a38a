// A checkpoint read as a stream: each safetensors file's header first (a small read at the front
// of the file: an HTTP Range request, a file read, a Blob slice), then its data section from front
// to back in pieces, each piece split at tensor boundaries and handed to the loader
// (ParameterSet.uploadStream), which moves it straight into a GPU buffer. Nothing here holds more
// than one piece (plus the headers).
import type { TensorSink, TensorStream } from './tensors.js';
import {
  headerByteLength,
  parseSafetensorsHeader,
  type SafetensorsHeader,
  type TensorInfo,
} from './safetensors.js';
import { parseShardIndex, type ShardIndex } from './sharded.js';

/** A file's bytes, wherever they are. */
export interface ByteSource {
  /** For messages: a path or a URL. */
  readonly name: string;
  /** The first `n` bytes (fewer only when the file is shorter) and the file's size. */
  head(n: number, signal?: AbortSignal): Promise<{ bytes: Uint8Array; size: number }>;
  /** The bytes from `offset` to the end of the file, in order, in pieces; throws if the file ends early. */
  chunks(offset: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

/** Bytes read for the header before its length is known: one request covers the headers of real checkpoints. */
export const HEADER_PROBE_BYTES = 64 * 1024;
/** Pieces read from files and Blobs (network pieces come as the connection delivers them). */
export const DEFAULT_CHUNK_BYTES = 4 * 2 ** 20;

/** A Blob or File (the browser's local files, Cache API entries): read a slice at a time. */
export class BlobByteSource implements ByteSource {
  constructor(
    readonly name: string,
    private readonly blob: Blob,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {}

  async head(n: number) {
    return { bytes: new Uint8Array(await this.blob.slice(0, n).arrayBuffer()), size: this.blob.size };
  }

  async *chunks(offset: number, signal?: AbortSignal) {
    for (let at = offset; at < this.blob.size; at += this.chunkBytes) {
      signal?.throwIfAborted();
      yield new Uint8Array(
        await this.blob.slice(at, Math.min(at + this.chunkBytes, this.blob.size)).arrayBuffer(),
      );
    }
  }
}

/** Reads everything a source holds (for the small JSON files). */
export async function readAll(source: ByteSource, signal?: AbortSignal): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const c of source.chunks(0, signal)) {
    parts.push(c.slice());
    length += c.byteLength;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export async function readJson(source: ByteSource, signal?: AbortSignal): Promise<unknown> {
  const text = new TextDecoder().decode(await readAll(source, signal));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${source.name}: not valid JSON (${(e as Error).message})`);
  }
}

/** One safetensors file of a streamed checkpoint: its header, and where its bytes come from. */
export interface StreamedFile {
  /** The file name within the checkpoint (model.safetensors, or a shard's name). */
  file: string;
  source: ByteSource;
  header: SafetensorsHeader;
}

/** Reads and validates a safetensors header from the front of `source`. */
export async function openSafetensors(
  file: string,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<StreamedFile> {
  const probe = await source.head(HEADER_PROBE_BYTES, signal);
  const dataOffset = headerByteLength(probe.bytes, probe.size, source.name);
  const prefix =
    probe.bytes.byteLength >= dataOffset ? probe.bytes : (await source.head(dataOffset, signal)).bytes;
  return {
    file,
    source,
    header: parseSafetensorsHeader(prefix.subarray(0, dataOffset), probe.size, source.name),
  };
}

/**
 * Splits a file's data section, arriving in pieces from its first byte, at tensor boundaries:
 * `sink(name, offsetInTensor, bytes)` for every piece of every tensor, in file order.
 */
export async function streamTensors(
  f: StreamedFile,
  sink: TensorSink,
  signal?: AbortSignal,
  onBytes?: (loaded: number) => void,
): Promise<void> {
  const tensors: TensorInfo[] = [...f.header.tensors.values()]; // in data order
  const dataSize = f.header.fileSize - f.header.dataOffset;
  let k = 0;
  let at = 0; // offset in the data section
  // Steps past the tensors that end at `at`; zero-byte ones get an empty piece, so the loader sees them complete.
  const passCompleted = async () => {
    for (; k < tensors.length && tensors[k].end <= at; k++) {
      if (tensors[k].begin === tensors[k].end) await sink(tensors[k].name, 0, new Uint8Array(0));
    }
  };
  await passCompleted();
  for await (const chunk of f.source.chunks(f.header.dataOffset, signal)) {
    let piece = chunk;
    while (piece.byteLength > 0) {
      if (k >= tensors.length)
        throw new Error(`${f.source.name}: more bytes than its header describes (${f.header.fileSize})`);
      const t = tensors[k];
      const n = Math.min(piece.byteLength, t.end - at);
      await sink(t.name, at - t.begin, piece.subarray(0, n));
      at += n;
      piece = piece.subarray(n);
      await passCompleted();
    }
    onBytes?.(f.header.dataOffset + at);
  }
  if (at !== dataSize)
    throw new Error(
      `${f.source.name}: the data ended after ${f.header.dataOffset + at} of ${f.header.fileSize} bytes`,
    );
}

/** Several streamed safetensors files (one, or the shards of an index) as one checkpoint. */
export class StreamedCheckpoint implements TensorStream {
  private readonly owner = new Map<string, StreamedFile>();

  constructor(
    readonly files: StreamedFile[],
    /** What error messages call the checkpoint. */
    readonly label: string,
    index?: ShardIndex,
    private readonly onBytes?: (file: string, loaded: number, total: number) => void,
  ) {
    for (const f of files) {
      for (const name of f.header.tensors.keys()) {
        if (this.owner.has(name))
          throw new Error(`${f.file}: tensor ${name} is also in ${this.owner.get(name)!.file}`);
        if (index && index.weight_map[name] !== f.file)
          throw new Error(
            `${label} puts ${name} in ${index.weight_map[name] ?? 'no shard'}, found in ${f.file}`,
          );
        this.owner.set(name, f);
      }
    }
    if (index) {
      const absent = Object.keys(index.weight_map).filter((n) => !this.owner.has(n));
      if (absent.length) throw new Error(`${label} lists tensors no shard holds: ${absent.join(', ')}`);
    }
  }

  get names(): string[] {
    return [...this.owner.keys()];
  }

  info(name: string): { dtype: string; shape: number[] } {
    const f = this.owner.get(name);
    if (!f) throw new Error(`${this.label}: no tensor ${name}`);
    return f.header.tensors.get(name)!;
  }

  /** Total bytes of every file. */
  get totalBytes(): number {
    return this.files.reduce((n, f) => n + f.header.fileSize, 0);
  }

  async read(sink: TensorSink, signal?: AbortSignal): Promise<void> {
    for (const f of this.files) {
      this.onBytes?.(f.file, f.header.dataOffset, f.header.fileSize);
      await streamTensors(f, sink, signal, (loaded) => this.onBytes?.(f.file, loaded, f.header.fileSize));
    }
  }
}

/** The shard files an index names, each once, in the order they first appear. */
export function shardFiles(indexJson: unknown, indexName: string): { index: ShardIndex; shards: string[] } {
  const index = parseShardIndex(indexJson, indexName);
  return { index, shards: [...new Set(Object.values(index.weight_map))] };
}
