// What a reader allocates while it looks at a hostile file. While installed, every ArrayBuffer that
// JavaScript code makes through the typed-array API is logged with its size: `new ArrayBuffer(n)`,
// `new Float32Array(n | arrayLike | iterable)`, `Float32Array.from/of`, and the copying methods
// (typed-array slice/map/filter, ArrayBuffer slice). A typed array made over an existing buffer
// allocates nothing and logs nothing.
// Not seen: strings and objects (JSON.parse's result, TextDecoder's string) and Node's Buffer pool;
// those are bounded by the header text, not by what the header claims.

export interface AllocationLog {
  /** Buffers allocated. */
  count: number;
  /** Their bytes, summed. */
  total: number;
  /** The largest one. */
  largest: number;
}

const TYPED_ARRAYS = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

let log: AllocationLog | undefined;

function record(bytes: number): void {
  if (!log) return;
  log.count++;
  log.total += bytes;
  log.largest = Math.max(log.largest, bytes);
}

/** Swaps the global constructors for logging proxies; returns the function that puts them back. */
export function installAllocationTracker(): () => void {
  const g = globalThis as unknown as Record<string, unknown>;
  const OriginalArrayBuffer = ArrayBuffer;
  const OriginalShared = SharedArrayBuffer;
  const isBuffer = (v: unknown) => v instanceof OriginalArrayBuffer || v instanceof OriginalShared;
  const restore: (() => void)[] = [];

  const wrap = (name: string, allocated: (args: unknown[], made: { byteLength: number }) => number) => {
    const target = g[name] as new (...args: unknown[]) => { byteLength: number };
    const proxy: unknown = new Proxy(target, {
      construct(t, args, newTarget) {
        const made = Reflect.construct(t, args, newTarget === proxy ? t : newTarget) as {
          byteLength: number;
        };
        record(allocated(args, made));
        return made;
      },
    });
    g[name] = proxy;
    restore.push(() => {
      g[name] = target;
    });
  };
  wrap('ArrayBuffer', (_, made) => made.byteLength);
  wrap('SharedArrayBuffer', (_, made) => made.byteLength);
  for (const name of TYPED_ARRAYS) wrap(name, (args, made) => (isBuffer(args[0]) ? 0 : made.byteLength));

  const patch = (proto: object, method: string) => {
    const p = proto as Record<string, (...args: unknown[]) => { byteLength: number }>;
    const original = p[method];
    p[method] = function (this: unknown, ...args: unknown[]) {
      const made = original.apply(this, args);
      record(made.byteLength);
      return made;
    };
    restore.push(() => {
      p[method] = original;
    });
  };
  const typedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype) as object;
  for (const method of ['slice', 'map', 'filter']) patch(typedArrayPrototype, method);
  patch(OriginalArrayBuffer.prototype, 'slice');

  return () => {
    for (const undo of restore.reverse()) undo();
  };
}

/** Runs `f` and returns what it allocated (with the tracker installed), and its value or error. */
export function measureAllocations<T>(f: () => T): { log: AllocationLog; value?: T; error?: unknown } {
  const outer = log;
  const mine: AllocationLog = { count: 0, total: 0, largest: 0 };
  log = mine;
  try {
    return { log: mine, value: f() };
  } catch (error) {
    return { log: mine, error };
  } finally {
    log = outer;
    if (outer) {
      outer.count += mine.count;
      outer.total += mine.total;
      outer.largest = Math.max(outer.largest, mine.largest);
    }
  }
}
