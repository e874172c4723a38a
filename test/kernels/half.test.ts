// The half-precision variants of the kernels (src/gpu/shaders.ts storage aliases). This machine's
// adapter has no shader-f16, so 'f16' modules cannot be compiled here; two checks stand in:
// - each 'f16' variant reflects the same bindings as the f32 one (wgsl_reflect parses `enable f16`);
// - each kernel compiles with its storage aliases set to i32. WGSL converts between i32 and f32
//   only explicitly, exactly as between f16 and f32, so a load used without f32(...) or a store
//   without to_Y(...) fails to compile here as it would fail with f16 on a GPU.
// The values of the f16 path are tested through 'f16-emulated' (test/golden/fp16.test.ts).
import { describe, expect, it } from 'vitest';
import { GpuMemory } from '../../src/gpu/buffers.js';
import { KernelCache, reflectShader } from '../../src/gpu/kernel.js';
import { Recorder } from '../../src/gpu/recorder.js';
import { GpuTensor } from '../../src/gpu/tensor.js';
import { f16ToF32, f32ToF16 } from '../../src/io/dtype.js';
import { SHADERS, STORAGE_ALIASES, shaderVariant, type ShaderName } from '../../src/gpu/shaders.js';
import { Attention, plainAttention } from '../../src/model/attention.js';
import { Linear } from '../../src/model/linear.js';
import { transposePadded } from '../../src/model/packing.js';
import { ParameterSet } from '../../src/model/parameters.js';
import { memorySource, random, randomArray, runOnGpu, testDevice } from '../helpers/gpu.js';
import { relativeError } from '../helpers/compare.js';
import { attention64, linear64, splitQkv } from '../reference/ops_f64.js';
import { runAttention } from '../helpers/attention_run.js';

const HALF_SHADERS = Object.keys(STORAGE_ALIASES) as ShaderName[];

/** The shader with every storage alias an i32 (see above). */
function i32Variant(shader: ShaderName, body: string = SHADERS[shader]): string {
  const header = STORAGE_ALIASES[shader]!.map((n) =>
    [
      `alias ${n} = i32;`,
      `alias ${n}4 = vec4<i32>;`,
      `fn to_${n}(v: f32) -> i32 { return i32(v); }`,
      `fn to_${n}4(v: vec4<f32>) -> vec4<i32> { return vec4<i32>(v); }`,
    ].join('\n'),
  );
  return `${header.join('\n')}\n${body}`;
}

async function compileErrors(code: string): Promise<string[]> {
  const { device } = await testDevice();
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const scoped = await device.popErrorScope();
  const messages = info.messages
    .filter((m) => m.type === 'error')
    .map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
  if (scoped && !messages.length) messages.push(scoped.message);
  return messages;
}

describe.each(HALF_SHADERS)('%s.wgsl in half precision', (shader) => {
  const aliases = STORAGE_ALIASES[shader]!;
  const all = (type: 'f32' | 'f16') => Object.fromEntries(aliases.map((n) => [n, type]));

  it("the 'f16' variant enables f16 and reflects the same bindings as the f32 one", () => {
    const f16 = shaderVariant(shader, all('f16'));
    expect(f16.code.startsWith('enable f16;')).toBe(true);
    const slots = (code: string) =>
      Object.fromEntries(
        [...reflectShader(code)].map(([entry, info]) => [entry, Object.fromEntries(info.slots)]),
      );
    expect(slots(f16.code)).toEqual(slots(shaderVariant(shader).code));
  });

  it('every load converts to f32 and every store converts back (compiles with i32 storage)', async () => {
    expect(await compileErrors(i32Variant(shader))).toEqual([]);
  });
});

describe('the i32 check can fail', () => {
  it('a load used without conversion does not compile', async () => {
    const broken = SHADERS.linear.replace(
      'v = f32(x[(row0 + r) * K + k0 + k]);',
      'v = x[(row0 + r) * K + k0 + k];',
    );
    expect(broken).not.toBe(SHADERS.linear);
    expect((await compileErrors(i32Variant('linear', broken))).length).toBeGreaterThan(0);
  });
});

describe("pack.wgsl's f32 -> f16 rounding (to_half, round_half)", () => {
  // Every kind of f32: random bit patterns (NaN, infinities, subnormals), values around f16's range
  // and subnormal range, and exact halfway points between neighbouring f16 values (ties to even).
  function samples(): Float32Array {
    const rand = random(16);
    const bits = new Uint32Array(4000);
    for (let i = 0; i < 1000; i++) bits[i] = Math.floor(rand(0, 2 ** 32));
    const values = new Float32Array(bits.buffer);
    for (let i = 1000; i < 2000; i++) values[i] = rand(-70000, 70000);
    for (let i = 2000; i < 3000; i++) values[i] = Math.sign(rand()) * 2 ** rand(-27, -12);
    const f16 = new Uint16Array(1);
    for (let i = 3000; i < 4000; i++) {
      f16[0] = Math.floor(rand(0, 0x7bff)) | (rand() < 0 ? 0x8000 : 0);
      const a = f16ToF32(f16)[0];
      f16[0] += 1;
      values[i] = (a + f16ToF32(f16)[0]) / 2; // exact in f32
    }
    values.set(
      [
        0,
        -0,
        65504,
        65519.99,
        65520,
        -65520,
        2 ** -24,
        2 ** -25,
        1.5 * 2 ** -25,
        2 ** -26,
        Infinity,
        -Infinity,
        NaN,
      ],
      0,
    );
    return values;
  }

  /** The nearest f16 value by arithmetic (ties to even), independent of the bit-level code. */
  function nearestHalf(x: number): number {
    if (Number.isNaN(x) || !Number.isFinite(x)) return x;
    const a = Math.abs(x);
    if (a >= 65520) return Math.sign(x) * Infinity;
    const ulp = 2 ** (Math.max(Math.floor(Math.log2(a || 1)), -14) - 10);
    const q = a / ulp;
    let r = Math.floor(q);
    if (q - r > 0.5 || (q - r === 0.5 && r % 2 === 1)) r += 1;
    return Math.sign(x) * r * ulp || (Object.is(x, -0) || x < 0 ? -0 : 0);
  }

  it('to_half writes the bits of f32ToF16 and round_half their values, both the nearest f16', async () => {
    const input = samples();
    const { device } = await testDevice();
    const memory = new GpuMemory(device);
    const rec = new Recorder(memory, new KernelCache(device), 'half');
    const wide = memory.upload('wide', input);
    const narrow = memory.create('narrow', input.length * 2);
    const values = memory.upload('values', input);
    const groups = Math.ceil(input.length / 256);
    rec.dispatch('pack', 'to_half', { THREADS: 256 }, { wide, narrow }, [Math.ceil(groups / 2)]);
    rec.dispatch('pack', 'round_half', { THREADS: 256 }, { values }, [groups]);
    expect(await rec.submit()).toBeUndefined();
    const halfBits = new Uint16Array(
      (await new GpuTensor(memory, narrow, [input.length / 2], 'narrow').read()).buffer,
    );
    const rounded = await new GpuTensor(memory, values, [input.length], 'values').read();
    memory.destroyAll();

    expect(Array.from(halfBits)).toEqual(Array.from(f32ToF16(input)));
    const decoded = f16ToF32(halfBits);
    for (let i = 0; i < input.length; i++) {
      const want = nearestHalf(input[i]);
      if (Number.isNaN(want)) {
        expect(Number.isNaN(decoded[i]) && Number.isNaN(rounded[i]), `[${i}] NaN`).toBe(true);
      } else {
        expect(decoded[i], `to_half of ${input[i]}`).toBe(want);
        expect(rounded[i], `round_half of ${input[i]}`).toBe(want);
      }
    }
  });
});

describe('a Linear in half precision', () => {
  const rows = 37;
  const out = 22; // not a multiple of 4: the padded columns stay zero
  const k = 29;
  const rand = random(61);
  const half = (v: Float32Array) => f16ToF32(f32ToF16(v));
  const isHalf = (v: Float32Array) => v.every((x, i) => Object.is(half(v.subarray(i, i + 1))[0], x));
  const w = randomArray(out * k, rand, -0.5, 0.5);
  const b = randomArray(out, rand);
  const x = half(randomArray(rows * k, rand, -2, 2)); // what a half-precision activation holds

  async function load(storage: 'f16' | 'f16-emulated') {
    const params = new ParameterSet();
    const layer = new Linear(params, 'fc', out, k, { storage });
    const source = memorySource({
      'fc.weight': { shape: [out, k], data: w },
      'fc.bias': { shape: [out], data: b },
    });
    params.validate(source, 'test');
    return { params, layer, source };
  }

  it("'f16' weights are the f16 bits of the packed f32 weights, half the bytes", async () => {
    const { params, layer, source } = await load('f16');
    const { device } = await testDevice();
    const memory = new GpuMemory(device);
    expect(await params.upload(memory, source, { kernels: new KernelCache(device) })).toBeUndefined();
    const packed = transposePadded(w, out, k); // [k, out4] f32
    expect(layer.weight.gpu.size).toBe(packed.length * 2);
    const words = await new GpuTensor(memory, layer.weight.gpu, [packed.length / 2], 'weight').read();
    expect(Array.from(new Uint16Array(words.buffer))).toEqual(Array.from(f32ToF16(packed)));
    memory.destroyAll();
  });

  it("'f16-emulated': weights and outputs are f16 values, the outputs those of f32 arithmetic on them", async () => {
    const { params, layer, source } = await load('f16-emulated');
    const { y, weight } = await runOnGpu(
      ({ memory, kernels, rec }) => {
        void params.upload(memory, source, { kernels });
        const xBuf = memory.upload('x', x);
        const yBuf = memory.create('y', rows * out * 4);
        layer.forward(rec, xBuf, rows, yBuf, { types: { X: 'f16-emulated', Y: 'f16-emulated' } });
        return { y: yBuf, weight: layer.weight.gpu };
      },
      { y: rows * out, weight: k * Math.ceil(out / 4) * 4 },
    );
    expect(isHalf(weight)).toBe(true);
    expect(Array.from(weight)).toEqual(Array.from(half(transposePadded(w, out, k))));
    expect(isHalf(y)).toBe(true);
    // Against float64 on the same f16 weights, rounded once at the end: at most one f16 step apart
    // (f32 accumulation may cross a rounding boundary), and mostly equal.
    const ref = linear64(x, rows, half(w), b, k, out);
    const refHalf = half(new Float32Array(ref));
    let equal = 0;
    for (let i = 0; i < y.length; i++) {
      const step = 2 ** (Math.max(Math.floor(Math.log2(Math.abs(refHalf[i]) || 2 ** -14)), -14) - 10);
      expect(Math.abs(y[i] - refHalf[i]), `y[${i}] = ${y[i]}, reference ${ref[i]}`).toBeLessThanOrEqual(step);
      if (y[i] === refHalf[i]) equal++;
    }
    expect(equal / y.length).toBeGreaterThan(0.95);
  });
});

describe('attention in half precision', () => {
  it("'f16-emulated': the context is f16 values, those of f32 arithmetic on the f16 q, k, v", async () => {
    const [batch, tokens, heads, headDim] = [2, 45, 3, 64];
    const d = heads * headDim;
    const rand = random(62);
    const half = (v: Float32Array) => f16ToF32(f32ToF16(v));
    const qkv = half(randomArray(batch * tokens * 3 * d, rand, -2, 2));
    const attn = new Attention(new ParameterSet(), plainAttention(d, heads), 'f16-emulated');
    const { context, probs } = await runAttention(attn, qkv, new Float32Array(heads).fill(1), batch, tokens);
    const ref = attention64(...splitQkv(qkv, batch * tokens, d), { batch, tokens, heads, headDim });
    expect(context.every((x, i) => Object.is(half(context.subarray(i, i + 1))[0], x))).toBe(true);
    // One f16 rounding of values below 2 in magnitude: 2^-11 relative at most, plus f32 noise.
    expect(relativeError(context, ref.context)).toBeLessThan(2 ** -10);
    expect(relativeError(context, ref.context)).toBeGreaterThan(1e-6);
    // The probabilities are returned in f32, unrounded.
    expect(relativeError(probs, ref.probs)).toBeLessThan(1e-5);
  });
});
