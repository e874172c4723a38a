// GPU buffers with their size checked against the device's limits before creation, and the bytes
// each owner holds tracked so that leaks show.

export class GpuLimitError extends Error {
  override name = 'GpuLimitError';
}

export const STORAGE = 0x80; // GPUBufferUsage.STORAGE, spelled out so the module loads where no WebGPU globals exist
export const COPY_SRC = 0x04;
export const COPY_DST = 0x08;
export const MAP_READ = 0x01;
export const UNIFORM = 0x40;

/** The size GpuMemory.create gives a buffer of `bytes` bytes: rounded up to 16, never empty. */
export function bufferSize(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

/** The largest storage buffer a device allows, and the limit that sets it (maxBufferSize or maxStorageBufferBindingSize). */
export function storageLimit(
  limits: Pick<GPUSupportedLimits, 'maxBufferSize' | 'maxStorageBufferBindingSize'>,
): { bytes: number; name: string } {
  return limits.maxBufferSize < limits.maxStorageBufferBindingSize
    ? { bytes: limits.maxBufferSize, name: 'maxBufferSize' }
    : { bytes: limits.maxStorageBufferBindingSize, name: 'maxStorageBufferBindingSize' };
}

/** A memoized bind group and the buffers it refers to. */
interface BindGroupEntry {
  group: GPUBindGroup;
  buffers: GPUBuffer[];
}

export class GpuMemory {
  private readonly live = new Map<GPUBuffer, number>();
  private allocated = 0;
  peakBytes = 0;
  /** Ids of live buffers, for bind group keys. */
  private readonly ids = new Map<GPUBuffer, number>();
  private nextId = 0;
  /** Bind groups by (layout, buffer ids, offsets, sizes); an entry goes when one of its buffers is destroyed here. */
  private readonly bindGroups = new Map<string, BindGroupEntry>();
  /** Keys of the memoized bind groups that refer to each buffer. */
  private readonly groupsOf = new Map<GPUBuffer, Set<string>>();

  constructor(readonly device: GPUDevice) {}

  /** Bytes held by live buffers created here. */
  get bytesAllocated(): number {
    return this.allocated;
  }

  get bufferCount(): number {
    return this.live.size;
  }

  /** Throws the GpuLimitError that `create` would for a buffer of `bytes` bytes; returns its size. */
  check(label: string, bytes: number, binding = true): number {
    const size = bufferSize(bytes);
    const limits = this.device.limits;
    if (size > limits.maxBufferSize) {
      throw new GpuLimitError(
        `${label}: ${size} bytes exceed this device's maxBufferSize (${limits.maxBufferSize})`,
      );
    }
    if (binding && size > limits.maxStorageBufferBindingSize) {
      throw new GpuLimitError(
        `${label}: ${size} bytes exceed this device's maxStorageBufferBindingSize (${limits.maxStorageBufferBindingSize})`,
      );
    }
    return size;
  }

  /** A buffer of at least `bytes` bytes (rounded up to 16, never empty), checked against the limits first. */
  create(
    label: string,
    bytes: number,
    usage: number = STORAGE | COPY_SRC | COPY_DST,
    binding = (usage & STORAGE) !== 0,
  ): GPUBuffer {
    const size = this.check(label, bytes, binding);
    const buffer = this.device.createBuffer({ label, size, usage });
    this.live.set(buffer, size);
    this.ids.set(buffer, this.nextId++);
    this.allocated += size;
    this.peakBytes = Math.max(this.peakBytes, this.allocated);
    return buffer;
  }

  upload(
    label: string,
    data: Float32Array | Uint32Array | Int32Array,
    usage: number = STORAGE | COPY_SRC | COPY_DST,
  ): GPUBuffer {
    const buffer = this.create(label, data.byteLength, usage);
    this.write(buffer, data);
    return buffer;
  }

  /** Queue a write of `data` at the start of `buffer` (ordered before later submits). */
  write(buffer: GPUBuffer, data: Float32Array | Uint32Array | Int32Array): void {
    this.device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }

  /** Buffers destroyed here (a model's dispose() destroys every buffer it made). */
  private readonly destroyed = new WeakSet<GPUBuffer>();

  /** Whether `buffer` was destroyed here: its contents are gone. */
  isDestroyed(buffer: GPUBuffer): boolean {
    return this.destroyed.has(buffer);
  }

  destroy(buffer: GPUBuffer): void {
    const size = this.live.get(buffer);
    if (size === undefined) return;
    this.live.delete(buffer);
    this.ids.delete(buffer);
    this.allocated -= size;
    for (const key of this.groupsOf.get(buffer) ?? []) this.forgetBindGroup(key);
    this.groupsOf.delete(buffer);
    this.destroyed.add(buffer);
    buffer.destroy();
  }

  /**
   * The bind group of `layout` (named by `layoutId`) over `entries`, made by `make` once and then
   * reused for as long as every buffer it binds is alive: keyed by the identity of the buffers (not
   * their labels) with offset and size, and dropped when one of them is destroyed here. Bindings of
   * buffers not created here are not memoized.
   */
  bindGroup(
    layoutId: number,
    entries: { binding: number; resource: GPUBufferBinding }[],
    make: () => GPUBindGroup,
  ): GPUBindGroup {
    let key = `${layoutId}`;
    for (const { binding, resource } of entries) {
      const id = this.ids.get(resource.buffer);
      if (id === undefined) return make();
      key += `|${binding}:${id}:${resource.offset ?? 0}:${resource.size ?? '-'}`;
    }
    const known = this.bindGroups.get(key);
    if (known) return known.group;
    const buffers = [...new Set(entries.map((e) => e.resource.buffer))];
    const group = make();
    this.bindGroups.set(key, { group, buffers });
    for (const buffer of buffers) {
      let keys = this.groupsOf.get(buffer);
      if (!keys) this.groupsOf.set(buffer, (keys = new Set()));
      keys.add(key);
    }
    return group;
  }

  private forgetBindGroup(key: string): void {
    const entry = this.bindGroups.get(key);
    if (!entry) return;
    this.bindGroups.delete(key);
    for (const buffer of entry.buffers) this.groupsOf.get(buffer)?.delete(key);
  }

  /** Bind groups memoized now (each refers only to live buffers). */
  get bindGroupCount(): number {
    return this.bindGroups.size;
  }

  /** Buffer-to-bind-group references held by the memo's index (bounded by the bind groups it holds). */
  get bindGroupReferences(): number {
    let n = 0;
    for (const keys of this.groupsOf.values()) n += keys.size;
    return n;
  }

  destroyAll(): void {
    for (const buffer of [...this.live.keys()]) this.destroy(buffer);
  }
}
