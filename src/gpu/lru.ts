import type { GpuMemory } from './buffers.js';

/**
 * A map of at most `capacity` entries that drops the least recently used first, handing each
 * dropped value to `evict` (which frees what it holds). Iteration runs least recently used first.
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(
    private readonly capacity: number,
    private readonly evict: (value: V) => void,
  ) {}

  /** The value of `key`, now the most recently used; undefined when not cached. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Caches `value` as the most recently used, evicting the least recently used beyond capacity; returns it. */
  set(key: K, value: V): V {
    const old = this.entries.get(key);
    this.entries.delete(key);
    if (old !== undefined && old !== value) this.evict(old);
    while (this.entries.size >= this.capacity) {
      const [oldest, dropped] = this.entries.entries().next().value as [K, V];
      this.entries.delete(oldest);
      this.evict(dropped);
    }
    this.entries.set(key, value);
    return value;
  }

  /** Evicts `value` (`key`'s cached one when not given); a value no longer cached is evicted all the same. */
  delete(key: K, value?: V): void {
    const cached = this.entries.get(key);
    const dropped = value ?? cached;
    if (dropped === undefined) return;
    if (cached === dropped) this.entries.delete(key);
    this.evict(dropped);
  }

  /** Evicts everything. */
  clear(): void {
    const values = [...this.entries.values()];
    this.entries.clear();
    for (const v of values) this.evict(v);
  }

  keys(): IterableIterator<K> {
    return this.entries.keys();
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }
}

/** Patch grids whose host-computed tables (position embeddings, RoPE) stay on the GPU. */
const GRID_TABLES_KEPT = 8;

/**
 * Tables computed on the host once per patch grid and uploaded, the GRID_TABLES_KEPT most recently
 * used kept on the GPU. Destroying a table that submitted work still reads is safe: WebGPU frees it
 * after that work.
 */
export class GridTables {
  private readonly cache = new LruCache<string, { buffer: GPUBuffer; memory: GpuMemory }>(
    GRID_TABLES_KEPT,
    ({ buffer, memory }) => memory.destroy(buffer),
  );

  /** `label`'s table for `key`, made by `make` (and uploaded) when not cached. */
  get(memory: GpuMemory, label: string, key: string, make: () => Float32Array): GPUBuffer {
    const cached = this.cache.get(key);
    if (cached) return cached.buffer;
    const buffer = memory.upload(`${label} ${key}`, make());
    return this.cache.set(key, { buffer, memory }).buffer;
  }

  /** Frees every cached table. */
  clear(): void {
    this.cache.clear();
  }
}
