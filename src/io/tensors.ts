// What the loader reads a checkpoint through: a TensorSource holds every tensor in memory (a
// SafetensorsFile, or shards behind one face), a TensorStream hands their bytes over in pieces
// (src/io/stream.ts). The loader takes streams only; an in-memory source is read as one.

/** What the loader needs of a checkpoint in memory: a SafetensorsFile, or several shards behind one face. */
export interface TensorSource {
  readonly names: string[];
  info(name: string): { dtype: string; shape: number[] };
  float32(name: string): Float32Array;
  /** The tensor's stored bytes (little-endian, `info(name).dtype`); when present they are converted on the GPU. */
  bytes?(name: string): Uint8Array;
}

/** Names and shapes of a checkpoint: what validation reads. */
export type TensorIndex = Pick<TensorSource, 'names' | 'info'>;

/** Receives consecutive pieces of a tensor's stored bytes; `offset` counts from the tensor's first byte. */
export type TensorSink = (name: string, offset: number, bytes: Uint8Array) => void | Promise<void>;

/**
 * A checkpoint whose bytes arrive in pieces (src/io/stream.ts): names and shapes are known first
 * (from the safetensors headers), then `read` hands every tensor's bytes to the sink in order,
 * awaiting what the sink returns (backpressure), and resolves once every tensor has been delivered.
 */
export interface TensorStream extends TensorIndex {
  read(sink: TensorSink, signal?: AbortSignal): Promise<void>;
}

/**
 * A source in memory read as a stream, one piece per tensor: its stored bytes, or its float32
 * values (reported as F32) where the source has no bytes. The sink is called synchronously until
 * it returns a promise, so a source whose sink never waits is delivered within the call.
 */
export function streamOf(source: TensorSource | TensorStream): TensorStream {
  if ('read' in source) return source;
  const raw = source.bytes !== undefined;
  return {
    names: source.names,
    info: (name) => (raw ? source.info(name) : { ...source.info(name), dtype: 'F32' }),
    async read(sink, signal) {
      for (const name of source.names) {
        signal?.throwIfAborted();
        let bytes: Uint8Array;
        if (raw) bytes = source.bytes!(name);
        else {
          const f = source.float32(name);
          bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
        }
        const wait = sink(name, 0, bytes);
        if (wait) await wait;
      }
    },
  };
}
