// shaders/pack.wgsl against the CPU packing (packOnCpu: transposePadded, the SwiGLU interleave,
// q|k|v concatenation, vec4 padding) on odd shapes, for every stored float dtype, with the bytes
// given whole and streamed in pieces of odd sizes. Bit for bit: the conversions are exact (F16,
// BF16) or correctly rounded (F64), so nothing less than equal bits is accepted.
import { describe, expect, it } from 'vitest';
import { GpuLimitError, GpuMemory } from '../../src/gpu/buffers.js';
import { KernelCache } from '../../src/gpu/kernel.js';
import { GpuTensor } from '../../src/gpu/tensor.js';
import { f32ToBf16, f32ToF16 } from '../../src/io/dtype.js';
import type { TensorSource, TensorStream } from '../../src/io/tensors.js';
import {
  bytesToFloat32,
  type Packing,
  packedLength,
  packLayout,
  packOnCpu,
} from '../../src/model/packing.js';
import { ParameterSet } from '../../src/model/parameters.js';
import { fakeLimits, random, randomArray, testDevice } from '../helpers/gpu.js';

type FloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';
const DTYPES: FloatDtype[] = ['F32', 'F16', 'BF16', 'F64'];

function store(values: Float32Array | Float64Array, dtype: FloatDtype): Uint8Array {
  const typed =
    dtype === 'F32'
      ? new Float32Array(values)
      : dtype === 'F64'
        ? new Float64Array(values)
        : dtype === 'F16'
          ? f32ToF16(new Float32Array(values))
          : f32ToBf16(new Float32Array(values));
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

interface Stored {
  dtype: FloatDtype;
  shape: number[];
  bytes: Uint8Array;
}

function sourceOf(tensors: Record<string, Stored>): TensorSource {
  return {
    names: Object.keys(tensors),
    info: (n) => ({ dtype: tensors[n].dtype, shape: tensors[n].shape }),
    float32: (n) => bytesToFloat32(tensors[n].dtype, tensors[n].bytes),
    bytes: (n) => tensors[n].bytes,
  };
}

/** Hands each tensor over in pieces of 1..maxPiece bytes (seeded), in a shuffled tensor order. */
function streamOf(tensors: Record<string, Stored>, seed: number, maxPiece: number): TensorStream {
  const rand = random(seed);
  const names = Object.keys(tensors);
  return {
    names,
    info: (n) => ({ dtype: tensors[n].dtype, shape: tensors[n].shape }),
    async read(sink) {
      const order = [...names].sort(() => rand());
      for (const name of order) {
        const bytes = tensors[name].bytes;
        if (bytes.byteLength === 0) await sink(name, 0, bytes);
        for (let at = 0; at < bytes.byteLength; ) {
          const n = Math.min(bytes.byteLength - at, 1 + Math.floor(((rand() + 1) / 2) * maxPiece));
          // A fresh copy at an odd byte offset: the packer must not rely on alignment.
          const piece = new Uint8Array(n + 1).subarray(1);
          piece.set(bytes.subarray(at, at + n));
          await sink(name, at, piece);
          at += n;
        }
      }
    },
  };
}

function sameBits(got: Float32Array, want: Float32Array, name: string): void {
  expect(got.length, `${name}: length`).toBe(want.length);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  const bad: string[] = [];
  for (let i = 0; i < w.length && bad.length < 5; i++) {
    const bothNaN = Number.isNaN(got[i]) && Number.isNaN(want[i]);
    if (g[i] !== w[i] && !bothNaN)
      bad.push(`[${i}] got ${got[i]} (0x${g[i].toString(16)}), want ${want[i]} (0x${w[i].toString(16)})`);
  }
  expect(bad, `${name}: first mismatching elements`).toEqual([]);
}

interface Declared {
  name: string;
  packing: Packing;
  /** row0: where a linear's block starts when blocks may be absent (DINOv3's biases by flag). */
  parts: { key: string; shape: number[]; row0?: number }[];
}

/**
 * Uploads `declared` from `tensors` (whole, or streamed) and checks every buffer against packOnCpu;
 * with `limit` the device reports that maxStorageBufferBindingSize, and each piece of a split weight
 * is checked against its rows of the whole. Returns the piece count of each parameter.
 */
async function check(
  declared: Declared[],
  tensors: Record<string, Stored>,
  how: 'whole' | { seed: number; maxPiece: number },
  limit?: number,
) {
  const { device } = await testDevice();
  const memory = new GpuMemory(device);
  const kernels = new KernelCache(device);
  const params = new ParameterSet();
  const ps = declared.map((d) => params.declare(d.name, d.parts, d.packing));
  const source = sourceOf(tensors);
  params.validate(source, 'test');
  device.pushErrorScope('validation');
  const restore =
    limit === undefined ? undefined : fakeLimits(device, { maxStorageBufferBindingSize: limit });
  try {
    const weights = how === 'whole' ? source : streamOf(tensors, how.seed, how.maxPiece);
    await params.upload(memory, weights, { file: 'test', kernels, flushBytes: 1000 });
  } finally {
    restore?.();
  }
  const error = await device.popErrorScope();
  expect(error?.message).toBeUndefined();
  for (const [i, d] of declared.entries()) {
    const layout = packLayout(d.packing, d.parts)!;
    const whole = padded(
      packOnCpu(
        d.packing,
        d.parts.map((p) => source.float32(p.key)),
        d.parts,
      ),
      packedLength(layout),
    );
    for (const piece of ps[i].gpuPieces) {
      const want = rowsOf(whole, layout.cols, Math.ceil(layout.rows / 4) * 4, piece.row0, piece.rows);
      const got = await new GpuTensor(memory, piece.buffer, [want.length], d.name).read();
      sameBits(
        got,
        want,
        `${d.name} ${JSON.stringify(d.packing)} rows ${piece.row0}..${piece.row0 + piece.rows}`,
      );
    }
  }
  memory.destroyAll();
  return ps.map((p) => p.gpuPieces.length);
}

/** Rows [row0, row0 + rows) of a packed [cols, rows4] matrix, packed the same way. */
function rowsOf(packed: Float32Array, cols: number, rows4: number, row0: number, rows: number): Float32Array {
  const out4 = Math.ceil(rows / 4) * 4;
  const out = new Float32Array(cols * out4);
  for (let c = 0; c < cols; c++)
    out.set(packed.subarray(c * rows4 + row0, c * rows4 + row0 + rows), c * out4);
  return out;
}

const padded = (v: Float32Array, n: number) => {
  const out = new Float32Array(n);
  out.set(v);
  return out;
};

/** Linear-layer cases: [rows, cols, parts, glu]. */
const LINEAR_SHAPES: [number, number, number, boolean][] = [
  [1, 1, 1, false],
  [7, 5, 1, false],
  [3, 3, 1, false],
  [30, 13, 3, false], // q|k|v: three row blocks of 10
  [9, 1, 3, false], // their biases
  [22, 9, 1, true], // SwiGLU weights_in: 11 pairs
  [10, 1, 1, true], // and its bias
  [66, 35, 1, false],
];

function linearCase(
  rows: number,
  cols: number,
  parts: number,
  glu: boolean,
  dtype: FloatDtype,
  seed: number,
  split = false,
) {
  const rand = random(seed);
  const tensors: Record<string, Stored> = {};
  const each = rows / parts;
  const keys = Array.from({ length: parts }, (_, j) => `w${j}`);
  for (const key of keys) {
    const shape = cols === 1 ? [each] : [each, cols];
    tensors[key] = { dtype, shape, bytes: store(randomArray(each * cols, rand, -3, 3), dtype) };
  }
  const declared: Declared[] = [
    {
      name: 'w',
      packing: { kind: 'linear', rows, cols, glu, split },
      parts: keys.map((key) => ({ key, shape: tensors[key].shape })),
    },
  ];
  return { declared, tensors };
}

describe('pack.wgsl: linear layouts ([in, ceil(out/4)*4], q|k|v, SwiGLU interleave) against the CPU packing', () => {
  for (const dtype of DTYPES) {
    for (const [rows, cols, parts, glu] of LINEAR_SHAPES) {
      it(`${dtype} [${rows}, ${cols}] in ${parts} part(s)${glu ? ', SwiGLU' : ''}: whole and streamed in odd pieces`, async () => {
        const { declared, tensors } = linearCase(rows, cols, parts, glu, dtype, rows * 31 + cols);
        await check(declared, tensors, 'whole');
        await check(declared, tensors, { seed: rows + cols, maxPiece: 7 });
        await check(declared, tensors, { seed: rows * cols, maxPiece: 1000 });
      });
    }
  }

  it('blocks placed by row0 with absent ones left zero: q|v biases without k, a weight missing its middle block, a gated pair', async () => {
    const rand = random(11);
    const tensors: Record<string, Stored> = {};
    const put = (key: string, shape: number[], dtype: FloatDtype = 'F32') => {
      const n = shape.reduce((a, b) => a * b, 1);
      tensors[key] = { dtype, shape, bytes: store(randomArray(n, rand, -3, 3), dtype) };
      return { key, shape };
    };
    const declared: Declared[] = [
      {
        name: 'q+k (no bias)+v bias',
        packing: { kind: 'linear', rows: 30, cols: 1 },
        parts: [
          { ...put('q.bias', [10]), row0: 0 },
          { ...put('v.bias', [10], 'BF16'), row0: 20 },
        ],
      },
      {
        name: 'only k',
        packing: { kind: 'linear', rows: 21, cols: 1 },
        parts: [{ ...put('k.bias', [7], 'F16'), row0: 7 }],
      },
      {
        name: 'first and last blocks of a weight',
        packing: { kind: 'linear', rows: 18, cols: 5 },
        parts: [
          { ...put('a.weight', [6, 5]), row0: 0 },
          { ...put('c.weight', [6, 5]), row0: 12 },
        ],
      },
      {
        name: 'gate+up bias (interleaved)',
        packing: { kind: 'linear', rows: 12, cols: 1, glu: true },
        parts: [
          { ...put('gate.bias', [6]), row0: 0 },
          { ...put('up.bias', [6]), row0: 6 },
        ],
      },
    ];
    await check(declared, tensors, 'whole');
    await check(declared, tensors, { seed: 5, maxPiece: 3 });
    const zeros = (t: Float32Array, from: number, to: number) => t.subarray(from, to).every((x) => x === 0);
    const q = packOnCpu(
      declared[0].packing,
      [new Float32Array(10).fill(1), new Float32Array(10).fill(2)],
      declared[0].parts,
    );
    expect(zeros(q, 10, 20) && q[0] === 1 && q[20] === 2).toBe(true);
  });

  it('a 4-D patch-embedding weight [D, C, p, p] packs as [C*p*p, D4]; tensors and vec4 vectors beside it', async () => {
    const rand = random(7);
    const tensors: Record<string, Stored> = {
      proj: { dtype: 'BF16', shape: [6, 3, 5, 5], bytes: store(randomArray(6 * 75, rand), 'BF16') },
      cls: { dtype: 'F16', shape: [1, 1, 5], bytes: store(randomArray(5, rand), 'F16') },
      reg: { dtype: 'F32', shape: [1, 3, 5], bytes: store(randomArray(15, rand), 'F32') },
      lambda: { dtype: 'F64', shape: [7], bytes: store(randomArray(7, rand), 'F64') },
      empty: { dtype: 'F32', shape: [0], bytes: new Uint8Array(0) },
    };
    const declared: Declared[] = [
      {
        name: 'proj',
        packing: { kind: 'linear', rows: 6, cols: 75 },
        parts: [{ key: 'proj', shape: [6, 3, 5, 5] }],
      },
      { name: 'cls', packing: { kind: 'tensor' }, parts: [{ key: 'cls', shape: [1, 1, 5] }] },
      { name: 'reg', packing: { kind: 'tensor' }, parts: [{ key: 'reg', shape: [1, 3, 5] }] },
      { name: 'lambda', packing: { kind: 'vector4' }, parts: [{ key: 'lambda', shape: [7] }] },
      { name: 'empty', packing: { kind: 'tensor' }, parts: [{ key: 'empty', shape: [0] }] },
    ];
    await check(declared, tensors, 'whole');
    await check(declared, tensors, { seed: 3, maxPiece: 5 });
  });
});

describe('pack.wgsl into pieces: a weight larger than one binding is split along its rows, its bytes staged in chunks that fit', () => {
  // [rows, cols, parts, glu, dtype, maxStorageBufferBindingSize, pieces]
  const cases: [number, number, number, boolean, FloatDtype, number, number][] = [
    [70, 33, 1, false, 'F32', 33 * 4 * 20, 4], // pieces of 20 rows, the last 10; staged in 4 chunks
    [30, 13, 1, false, 'F16', 13 * 4 * 8, 4], // 8, 8, 8, 6; F16 rows of 26 bytes staged 16 at a time (an even count: 4-byte aligned)
    [30, 13, 3, false, 'F16', 13 * 4 * 8, 4], // q|k|v: each block's rows land in two pieces
    [44, 9, 1, true, 'BF16', 9 * 4 * 16, 3], // SwiGLU: 16, 16, 12 interleaved rows; a chunk of source rows lands in every piece
    [66, 35, 1, false, 'F64', 35 * 4 * 12, 6], // F64 staging twice the packed size: 11 chunks of 6 rows
  ];
  for (const [rows, cols, parts, glu, dtype, limit, pieces] of cases) {
    it(`${dtype} [${rows}, ${cols}] in ${parts} part(s)${glu ? ', SwiGLU' : ''} under a ${limit}-byte binding: ${pieces} pieces, whole and streamed`, async () => {
      const { declared, tensors } = linearCase(rows, cols, parts, glu, dtype, rows * 7 + cols, true);
      expect(await check(declared, tensors, 'whole', limit)).toEqual([pieces]);
      expect(await check(declared, tensors, { seed: rows, maxPiece: 7 }, limit)).toEqual([pieces]);
      expect(await check(declared, tensors, { seed: cols, maxPiece: 1000 }, limit)).toEqual([pieces]);
      // Without the fake limit: one buffer, as before.
      expect(await check(declared, tensors, 'whole')).toEqual([1]);
    });
  }

  it('only weights declared splittable are split; a vector whose stored bytes exceed the binding is staged in chunks', async () => {
    const rand = random(5);
    const tensors: Record<string, Stored> = {
      v: { dtype: 'F64', shape: [300], bytes: store(randomArray(300, rand), 'F64') },
    };
    // 2400 stored bytes, 1200 packed: chunks of 200 elements.
    expect(
      await check(
        [{ name: 'v', packing: { kind: 'vector4' }, parts: [{ key: 'v', shape: [300] }] }],
        tensors,
        'whole',
        1600,
      ),
    ).toEqual([1]);
    const { declared, tensors: w } = linearCase(70, 33, 1, false, 'F32', 9);
    await expect(check(declared, w, 'whole', 33 * 4 * 20)).rejects.toThrow(
      /^w: 9504 bytes exceed this device's maxStorageBufferBindingSize \(2640\)/,
    );
  });

  it('a weight whose smallest piece does not fit is a GpuLimitError naming it, before anything is allocated', async () => {
    const { declared, tensors } = linearCase(30, 13, 3, false, 'F32', 4, true);
    const { device } = await testDevice();
    const memory = new GpuMemory(device);
    const params = new ParameterSet();
    params.declare(declared[0].name, declared[0].parts, declared[0].packing);
    const restore = fakeLimits(device, { maxStorageBufferBindingSize: 13 * 16 - 16 });
    try {
      expect(() => params.upload(memory, sourceOf(tensors))).toThrow(GpuLimitError);
      expect(() => params.upload(memory, sourceOf(tensors))).toThrow(
        "w: cannot be split to fit this device's maxStorageBufferBindingSize (192): its smallest piece, 4 of its 30 output rows by 13 inputs, needs 208 bytes",
      );
    } finally {
      restore();
    }
    expect(memory.bufferCount).toBe(0);
  });
});

describe('pack.wgsl conversions, every bit pattern', () => {
  const all16 = () => {
    const bits = new Uint16Array(65536);
    for (let i = 0; i < bits.length; i++) bits[i] = i;
    return new Uint8Array(bits.buffer);
  };

  it('F16 -> f32: all 65536 patterns (subnormals, infinities, NaN payloads) equal f16ToF32', async () => {
    const tensors: Record<string, Stored> = { h: { dtype: 'F16', shape: [65536], bytes: all16() } };
    await check(
      [{ name: 'h', packing: { kind: 'tensor' }, parts: [{ key: 'h', shape: [65536] }] }],
      tensors,
      'whole',
    );
  });

  it('BF16 -> f32: all 65536 patterns equal bf16ToF32 (f32 subnormals kept, not flushed)', async () => {
    const tensors: Record<string, Stored> = { b: { dtype: 'BF16', shape: [65536], bytes: all16() } };
    await check(
      [{ name: 'b', packing: { kind: 'tensor' }, parts: [{ key: 'b', shape: [65536] }] }],
      tensors,
      'whole',
    );
  });

  it('F64 -> f32 rounds to nearest, ties to even, like new Float32Array(float64): normals, ties, overflow, f32 subnormals, underflow', async () => {
    const rand = random(11);
    const values: number[] = [
      0,
      -0,
      1,
      -1,
      Infinity,
      -Infinity,
      NaN,
      Math.PI,
      1e-300,
      -1e-300,
      3.4028234663852886e38,
      3.4028235677973366e38,
      3.5e38,
      1e39,
    ];
    // Exact ties between neighbouring float32s, in the normal and the subnormal range.
    for (const base of [1, 1.5, 2 ** -126, 2 ** -140, 2 ** -149, 3 * 2 ** -149]) {
      const f = new Float32Array([base]);
      const u = new Uint32Array(f.buffer);
      u[0] += 1;
      const next = f[0];
      values.push(
        (base + next) / 2,
        -(base + next) / 2,
        base + (next - base) / 4,
        base + (3 * (next - base)) / 4,
      );
    }
    values.push(
      2 ** -150,
      2 ** -150 * 1.0000001,
      2 ** -151,
      2 ** -160,
      2 ** -126 * (1 - 2 ** -25),
      2 ** -149 * 0.75,
    );
    for (let i = 0; i < 3000; i++)
      values.push(Math.sign(rand()) * 2 ** (rand(-160, 140) | 0) * (1 + rand(0, 1)));
    const f64 = new Float64Array(values);
    const tensors: Record<string, Stored> = {
      d: { dtype: 'F64', shape: [f64.length], bytes: new Uint8Array(f64.buffer) },
    };
    await check(
      [{ name: 'd', packing: { kind: 'tensor' }, parts: [{ key: 'd', shape: [f64.length] }] }],
      tensors,
      'whole',
    );
  });

  it('a tensor of more than 65535 workgroups of elements dispatches in two dimensions', async () => {
    const n = 65535 * 256 + 1000;
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = i;
    const tensors: Record<string, Stored> = {
      big: { dtype: 'BF16', shape: [n], bytes: store(values, 'BF16') },
    };
    await check(
      [{ name: 'big', packing: { kind: 'vector4' }, parts: [{ key: 'big', shape: [n] }] }],
      tensors,
      'whole',
    );
  });
});
