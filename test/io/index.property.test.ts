// Hostile model.safetensors.index.json files and shard sets, generated: parseShardIndex and
// ShardedSource load every tensor exactly as written, or throw an error that names the index (or the
// shard) and the tensor at fault; never a TypeError or a stack overflow. 3,000 checkpoints in all.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type Dtype, SafetensorsError, SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { parseShardIndex, ShardedSource } from '../../src/io/sharded.js';
import { deepArray } from '../reliability/json_text.js';

const INDEX = 'hostile/model.safetensors.index.json';
const SEED = 0x1dec5;
const TIMEOUT_MS = 60_000;

const stats = { checkpoints: 0, accepted: 0, rejected: 0, slowestMs: 0 };
afterAll(() => console.log(`index properties: ${JSON.stringify(stats)}`));

interface Tensor {
  name: string;
  dtype: 'F32' | 'F16' | 'U8';
  shape: number[];
  data: Uint8Array;
  shard: number;
}

interface Checkpoint {
  tensors: Tensor[];
  shardNames: string[];
}

const nameArb = fc
  .oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom('__proto__', 'constructor', 'toString', '0', '', 'a, b', 'encoder.layer.0.norm1.weight'),
  )
  .filter((n) => n !== '__metadata__');
const BYTES = { F32: 4, F16: 2, U8: 1 } as const;

const safeShardName = fc.oneof(
  fc.nat({ max: 9 }).map((i) => `model-0000${i + 1}-of-00009.safetensors`),
  fc.constantFrom(
    'a.safetensors',
    'sub/dir/b.safetensors',
    './c.safetensors',
    'é ü.safetensors',
    'weights.bin',
    'x..y',
  ),
  fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !/[\\/:.]/.test(s) && s.trim() === s),
);

const checkpointArb: fc.Arbitrary<Checkpoint> = fc
  .record({
    shardNames: fc.uniqueArray(safeShardName, { minLength: 1, maxLength: 4 }),
    tensors: fc.uniqueArray(
      fc.record({
        name: nameArb,
        dtype: fc.constantFrom<Tensor['dtype']>('F32', 'F16', 'U8'),
        shape: fc.array(fc.nat({ max: 3 }), { maxLength: 3 }),
        fill: fc.nat({ max: 255 }),
        shard: fc.nat(),
      }),
      { selector: (t) => t.name, minLength: 1, maxLength: 8 },
    ),
  })
  .map(({ shardNames, tensors }) => ({
    shardNames,
    tensors: tensors.map((t) => {
      const data = new Uint8Array(t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype]);
      data.fill(t.fill);
      return { name: t.name, dtype: t.dtype, shape: t.shape, data, shard: t.shard % shardNames.length };
    }),
  }));

/** The index as written by transformers (JSON text, read back), and every shard file that holds a tensor. */
function write(c: Checkpoint): { index: Record<string, unknown>; files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  c.shardNames.forEach((shard, i) => {
    const held = c.tensors.filter((t) => t.shard === i);
    if (held.length)
      files.set(
        shard,
        writeSafetensors(
          Object.fromEntries(
            held.map((t) => [t.name, { dtype: t.dtype as Dtype as 'F32', shape: t.shape, data: t.data }]),
          ),
        ),
      );
  });
  const weight_map = Object.fromEntries(c.tensors.map((t) => [t.name, c.shardNames[t.shard]]));
  const total_size = c.tensors.reduce((n, t) => n + t.data.length, 0);
  return {
    index: JSON.parse(JSON.stringify({ metadata: { total_size }, weight_map })) as Record<string, unknown>,
    files,
  };
}

/** What readLocalCheckpoint does once the files are read: parse the index, parse each shard it names, join them. */
function load(index: unknown, files: Map<string, Uint8Array>): ShardedSource {
  const parsed = parseShardIndex(index, INDEX);
  const shards = new Map<string, SafetensorsFile>();
  for (const shard of new Set(Object.values(parsed.weight_map))) {
    const bytes = files.get(shard);
    if (bytes) shards.set(shard, SafetensorsFile.parse(bytes, shard));
  }
  return new ShardedSource(parsed, shards, INDEX);
}

function judge(index: unknown, files: Map<string, Uint8Array>): { source?: ShardedSource; error?: Error } {
  stats.checkpoints++;
  const start = performance.now();
  try {
    const source = load(index, files);
    stats.accepted++;
    return { source };
  } catch (e) {
    stats.rejected++;
    // An error of our own making: not a runtime fault (TypeError, RangeError) escaping from the reader.
    if (!(e instanceof Error) || (e.constructor !== Error && !(e instanceof SafetensorsError))) {
      throw new Error(
        `expected an Error naming the file, got ${(e as Error)?.name}: ${(e as Error)?.message}`,
      );
    }
    expect(e.message.length, 'a message of bounded length').toBeLessThan(2000);
    return { error: e };
  } finally {
    stats.slowestMs = Math.max(stats.slowestMs, performance.now() - start);
  }
}

function expectExactly(source: ShardedSource | undefined, c: Checkpoint): void {
  expect(source, 'accepted').toBeDefined();
  expect(source!.names.slice().sort()).toEqual(c.tensors.map((t) => t.name).sort());
  for (const t of c.tensors) {
    expect(source!.info(t.name)).toMatchObject({ dtype: t.dtype, shape: t.shape });
    expect(source!.bytes(t.name)).toEqual(t.data);
  }
}

type Fault =
  | { kind: 'root not an object'; value: unknown }
  | { kind: 'weight_map not an object'; value: unknown }
  | { kind: 'shard name not a string'; pick: number; value: unknown }
  | { kind: 'shard name leaving the folder'; pick: number; value: string }
  | { kind: 'tensor moved to another shard'; pick: number; to: number }
  | { kind: 'tensor left out of the index'; pick: number }
  | { kind: 'index lists a tensor no shard holds'; name: string; to: number }
  | { kind: 'tensor in two shards'; pick: number }
  | { kind: 'shard file missing'; pick: number }
  | { kind: 'shard file truncated'; pick: number; cut: number };

const notObject = fc.constantFrom<unknown>(null, undefined, 3, 'weights', true, [], [{ weight_map: {} }]);
const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ kind: fc.constant('root not an object' as const), value: notObject }),
  fc.record({ kind: fc.constant('weight_map not an object' as const), value: notObject }),
  fc.record({
    kind: fc.constant('shard name not a string' as const),
    pick: fc.nat(),
    value: fc.constantFrom<unknown>(null, 3, true, [], {}, ['a.safetensors']),
  }),
  fc.record({
    kind: fc.constant('shard name leaving the folder' as const),
    pick: fc.nat(),
    value: fc.constantFrom(
      '',
      '../x.safetensors',
      'a/../../x.safetensors',
      '..',
      '/etc/passwd',
      '\\\\server\\x',
      'C:\\x.safetensors',
      'c:x',
      'https://example.com/x.safetensors',
      'file:x',
      '..\\x',
      'sub\\..\\..\\x',
    ),
  }),
  fc.record({ kind: fc.constant('tensor moved to another shard' as const), pick: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('tensor left out of the index' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('index lists a tensor no shard holds' as const),
    name: nameArb,
    to: fc.nat(),
  }),
  fc.record({ kind: fc.constant('tensor in two shards' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('shard file missing' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('shard file truncated' as const), pick: fc.nat(), cut: fc.nat() }),
);

/** Sets an own entry, even one named __proto__. */
function put(map: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Applies the fault; returns the index, the files, and what the error must contain. */
function inject(
  c: Checkpoint,
  fault: Fault,
): {
  index: unknown;
  files: Map<string, Uint8Array>;
  mention: string[];
  pattern: RegExp;
  accepted?: Checkpoint;
} {
  const { index, files } = write(c);
  const map = index.weight_map as Record<string, string>;
  const t = c.tensors[('pick' in fault ? fault.pick : 0) % c.tensors.length];
  const shardOf = (x: Tensor) => c.shardNames[x.shard];
  switch (fault.kind) {
    case 'root not an object':
      return { index: fault.value, files, mention: [INDEX], pattern: /weight_map must be an object/ };
    case 'weight_map not an object':
      return {
        index: { ...index, weight_map: fault.value },
        files,
        mention: [INDEX],
        pattern: /weight_map must be an object/,
      };
    case 'shard name not a string':
    case 'shard name leaving the folder':
      put(map, t.name, fault.value);
      return { index, files, mention: [INDEX], pattern: /refusing shard name/ };
    case 'tensor moved to another shard': {
      const others = [...files.keys()].filter((s) => s !== shardOf(t));
      put(map, t.name, others.length ? others[fault.to % others.length] : 'elsewhere.safetensors');
      // (When the shard it left is named for no other tensor, that shard is not read at all.)
      return {
        index,
        files,
        mention: [INDEX, t.name],
        pattern: /puts .* in .*, found in|lists tensors no shard holds/s,
      };
    }
    case 'tensor left out of the index': {
      delete map[t.name];
      // A shard the index no longer names is not read: then the checkpoint simply lacks the tensor.
      const rest = c.tensors.filter((x) => x !== t);
      if (!rest.some((x) => shardOf(x) === shardOf(t)))
        return { index, files, mention: [], pattern: /./, accepted: { ...c, tensors: rest } };
      return { index, files, mention: [INDEX, t.name], pattern: /puts .* in .*, found in/s };
    }
    case 'index lists a tensor no shard holds': {
      const name = c.tensors.some((x) => x.name === fault.name) ? `${fault.name}.extra` : fault.name;
      put(map, name, [...files.keys()][fault.to % files.size]);
      return { index, files, mention: [INDEX, name], pattern: /lists tensors no shard holds/ };
    }
    case 'tensor in two shards': {
      // The tensor is written into a second shard file as well (a new one if there is only one).
      const second = [...files.keys()].find((s) => s !== shardOf(t)) ?? 'second.safetensors';
      const held = c.tensors.filter((x) => shardOf(x) === second || x === t);
      files.set(
        second,
        writeSafetensors(
          Object.fromEntries(
            held.map((x) => [x.name, { dtype: x.dtype as 'F32', shape: x.shape, data: x.data }]),
          ),
        ),
      );
      if (!c.tensors.some((x) => shardOf(x) === second)) put(map, `${t.name}.marker`, second); // so that the second shard is read
      return { index, files, mention: [t.name], pattern: /also in another shard|puts .* in .*, found in/s };
    }
    case 'shard file missing':
      files.delete(shardOf(t));
      return { index, files, mention: [INDEX, t.name], pattern: /lists tensors no shard holds/ };
    case 'shard file truncated': {
      const bytes = files.get(shardOf(t))!;
      files.set(shardOf(t), bytes.subarray(0, fault.cut % bytes.length));
      return { index, files, mention: [shardOf(t)], pattern: /./ };
    }
  }
}

describe('sharded checkpoints, generated (fast-check, seed fixed)', () => {
  it('1,000 valid sharded checkpoints load every tensor exactly', { timeout: TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(checkpointArb, (c) => {
        const { index, files } = write(c);
        const { source, error } = judge(index, files);
        expect(error?.message).toBeUndefined();
        expectExactly(source, c);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it(
    '2,000 checkpoints with one fault each are rejected, naming the index (or shard) and the tensor',
    { timeout: TIMEOUT_MS },
    () => {
      const seen = new Set<string>();
      fc.assert(
        fc.property(checkpointArb, faultArb, (c, fault) => {
          seen.add(fault.kind);
          const { index, files, mention, pattern, accepted } = inject(c, fault);
          const { source, error } = judge(index, files);
          if (accepted) {
            expectExactly(source, accepted);
            return;
          }
          expect(error, `${fault.kind}: rejected`).toBeDefined();
          expect(error!.message, fault.kind).toMatch(pattern);
          for (const m of mention) expect(error!.message, fault.kind).toContain(m);
          // Which file is blamed (the index, or the shard being read) depends on the fault and the read order.
          if (error instanceof SafetensorsError)
            expect([INDEX, ...files.keys()], fault.kind).toContain(error.file);
        }),
        { seed: SEED + 1, numRuns: 2000 },
      );
      expect(seen.size).toBe(10);
    },
  );
});

describe('index errors: bounded, exact and typed', () => {
  const c: Checkpoint = {
    shardNames: ['a.safetensors'],
    tensors: [{ name: 'w', dtype: 'U8', shape: [1], data: Uint8Array.of(7), shard: 0 }],
  };

  it('a shard name nested 100,000 deep gets an Error, not a stack overflow', () => {
    const { index, files } = write(c);
    (index.weight_map as Record<string, unknown>).w = JSON.parse(deepArray(100_000).text);
    expect(judge(index, files).error!.message).toMatch(/refusing shard name/);
  });

  it('a tensor named like an Object.prototype member, missing from the index, is "in no shard"', () => {
    const named: Checkpoint = { ...c, tensors: [...c.tensors, { ...c.tensors[0], name: 'toString' }] };
    const { index, files } = write(named);
    delete (index.weight_map as Record<string, string>)['toString' as string];
    expect(judge(index, files).error!.message).toBe(
      `${INDEX}: tensor 'toString': the index puts it in no shard, found in a.safetensors`,
    );
  });

  it('index errors are SafetensorsErrors with .file and .tensor', () => {
    const { index, files } = write(c);
    (index.weight_map as Record<string, string>).w = 'elsewhere.safetensors';
    const { error } = judge(index, files);
    expect(error).toBeInstanceOf(SafetensorsError);
    expect([(error as SafetensorsError).file, (error as SafetensorsError).tensor]).toEqual([INDEX, 'w']);
  });
});
