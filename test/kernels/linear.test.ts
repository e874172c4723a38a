import { describe, expect, it } from 'vitest';
import { GpuLimitError, GpuMemory } from '../../src/gpu/buffers.js';
import { LayerNorm } from '../../src/model/layernorm.js';
import { chooseTile, Linear, LINEAR_TILES } from '../../src/model/linear.js';
import { ParameterSet } from '../../src/model/parameters.js';
import { expectClose } from '../helpers/compare.js';
import { fakeLimits, memorySource, random, randomArray, runOnGpu, testDevice } from '../helpers/gpu.js';
import type { HiddenAct } from '../../src/io/config.js';
import { ACTIVATION_CODES } from '../../src/model/activations.js';
import { activationF64 } from '../reference/activations_f64.js';
import { layerNorm64, linear64 } from '../reference/ops_f64.js';

interface Case {
  rows: number;
  out: number;
  k: number;
  /** The epilogue's activation (config.hidden_act); none when not given, silu (SwiGLU) with glu. */
  act?: HiddenAct;
  residual?: boolean;
  glu?: boolean;
  bias?: boolean;
  /** Layer-norm prologue with this eps, on inputs around `offset`. */
  norm?: { eps: number; offset: number };
  /** Load the weights on a device reporting this maxStorageBufferBindingSize; the weight must come in `pieces`. */
  split?: { limit: number; pieces: number };
}

async function check(
  { rows, out, k, act: given, residual = false, glu = false, bias = true, norm, split }: Case,
  seed: number,
) {
  const act = given ?? (glu ? 'silu' : undefined);
  const rand = random(seed);
  const x = randomArray(rows * k, rand, (norm?.offset ?? 0) - 2, (norm?.offset ?? 0) + 2);
  const w = randomArray(out * k, rand, -0.5, 0.5);
  const b = randomArray(out, rand);
  const gamma = randomArray(out, rand, 0.2, 1);
  const base = randomArray(rows * (glu ? out / 2 : out), rand);
  const params = new ParameterSet();
  const layer = new Linear(params, 'fc', out, k, { bias, glu });
  const scale = params.vector4('scale.lambda1', out);
  const layerNorm = new LayerNorm(params, 'norm', k, norm?.eps ?? 1e-6);
  const normWeight = randomArray(k, rand, 0.5, 1.5);
  const normBias = randomArray(k, rand);
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {
    'fc.weight': { shape: [out, k], data: w },
    'scale.lambda1': { shape: [out], data: gamma },
    'norm.weight': { shape: [k], data: normWeight },
    'norm.bias': { shape: [k], data: normBias },
  };
  if (bias) tensors['fc.bias'] = { shape: [out], data: b };
  const source = memorySource(tensors);
  params.validate(source, 'test');

  const outCols = glu ? out / 2 : out;
  const { y } = await runOnGpu(
    ({ memory, rec }) => {
      const restore = split && fakeLimits(memory.device, { maxStorageBufferBindingSize: split.limit });
      try {
        params.upload(memory, source);
      } finally {
        restore?.();
      }
      expect(layer.pieces, 'pieces of the weight').toBe(split?.pieces ?? 1);
      const xBuf = memory.upload('x', x);
      const yBuf = memory.upload('y', base);
      layer.forward(rec, xBuf, rows, yBuf, {
        act: act ? ACTIVATION_CODES[act] : 0,
        glu,
        residualScale: residual ? scale : undefined,
        norm: norm ? layerNorm : undefined,
      });
      expect(rec.dispatches, 'one dispatch per piece').toBe(split?.pieces ?? 1);
      return { y: yBuf };
    },
    { y: rows * outCols },
  );

  const input = norm ? layerNorm64(x, rows, k, normWeight, normBias, norm.eps) : x;
  const pre = linear64(input, rows, w, bias ? b : undefined, k, out);
  const f = act ? activationF64(act) : (v: number) => v;
  const ref = new Float64Array(rows * outCols);
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < outCols; n++) {
      if (glu) {
        // transformers: x1, x2 = weights_in(x).chunk(2, dim=-1); silu(x1) * x2 (DINOv3: act(gate) * up)
        const x1 = pre[r * out + n];
        const x2 = pre[r * out + outCols + n];
        ref[r * outCols + n] = f(x1) * x2;
      } else {
        const v = f(pre[r * out + n]);
        ref[r * outCols + n] = residual ? base[r * out + n] + gamma[n] * v : v;
      }
    }
  }
  return expectClose(
    y,
    ref,
    `linear ${JSON.stringify({ rows, out, k, act, residual, glu, bias, norm, split })}`,
  );
}

describe('linear.wgsl: y = epilogue(x · wᵀ + b) against float64', () => {
  const shapes: Case[] = [
    { rows: 1, out: 1, k: 1 },
    { rows: 5, out: 7, k: 3 },
    { rows: 21, out: 13, k: 17 },
    { rows: 67, out: 130, k: 33 },
    { rows: 129, out: 65, k: 147, bias: false },
    { rows: 261, out: 384, k: 588 },
  ];
  for (const [i, shape] of shapes.entries()) {
    it(`plain ${shape.rows}x${shape.out} by ${shape.k} matmul`, async () => {
      expect(await check(shape, 100 + i)).toBeLessThan(1e-5);
    });
  }
  it('every tile size gives the same answer (batch-1 shapes take smaller tiles than batched ones)', async () => {
    // 64x64: 40 x 8 = 320 workgroups; 32x64: 4 x 64 = 256; 32x32 for the rest.
    expect(chooseTile(2560, 500)).toBe(LINEAR_TILES[0]);
    expect(chooseTile(128, 4096)).toBe(LINEAR_TILES[1]);
    expect(chooseTile(261, 384)).toBe(LINEAR_TILES[2]);
    expect(await check({ rows: 2600, out: 520, k: 20, act: 'gelu' }, 600)).toBeLessThan(1e-5);
    expect(await check({ rows: 130, out: 4100, k: 12, residual: true }, 601)).toBeLessThan(1e-5);
    expect(await check({ rows: 261, out: 97, k: 40, norm: { eps: 1e-6, offset: 10 } }, 602)).toBeLessThan(
      1e-5,
    );
  });
  for (const [i, act] of (Object.keys(ACTIVATION_CODES) as HiddenAct[]).entries()) {
    it(`${act} epilogue on a 70x37 by 19 matmul`, async () => {
      expect(await check({ rows: 70, out: 37, k: 19, act }, 201 + i)).toBeLessThan(1e-5);
    });
  }
  it('layer-scale + residual in place on an 83x50 by 29 matmul', async () => {
    expect(await check({ rows: 83, out: 50, k: 29, residual: true }, 300)).toBeLessThan(1e-5);
  });
  it('SwiGLU: silu(x1) * x2 from the interleaved projection, on 45x(2*24) by 18 and 3x(2*8) by 5 matmuls', async () => {
    expect(await check({ rows: 45, out: 48, k: 18, glu: true }, 400)).toBeLessThan(1e-5);
    expect(await check({ rows: 3, out: 16, k: 5, glu: true }, 401)).toBeLessThan(1e-5);
    // DINOv3's gated MLP with another hidden_act: the activation applies to the gate only.
    expect(await check({ rows: 19, out: 24, k: 9, glu: true, act: 'gelu' }, 402)).toBeLessThan(1e-5);
  });
  it('layernorm prologue: rows far from zero, odd sizes, with activation and with SwiGLU', async () => {
    expect(await check({ rows: 67, out: 70, k: 383, norm: { eps: 1e-6, offset: 300 } }, 500)).toBeLessThan(
      1e-5,
    );
    expect(
      await check({ rows: 5, out: 9, k: 7, act: 'gelu', norm: { eps: 1e-5, offset: 0 } }, 501),
    ).toBeLessThan(1e-5);
    expect(
      await check({ rows: 130, out: 32, k: 48, glu: true, norm: { eps: 1e-6, offset: 3 } }, 502),
    ).toBeLessThan(1e-5);
  });

  // Weights larger than one binding: split along the output columns (whole vec4 columns of wT, 8
  // weight rows with SwiGLU), one dispatch per piece writing its columns of y. K * 4 bytes is one
  // weight row, so `limit` = K * 4 * n allows pieces of n rows.
  it('split weights: odd K, a last piece smaller than the others and not a multiple of 4', async () => {
    expect(
      await check({ rows: 37, out: 70, k: 33, split: { limit: 33 * 4 * 20, pieces: 4 } }, 700),
    ).toBeLessThan(1e-5); // 20, 20, 20, 10
    expect(
      await check(
        { rows: 21, out: 13, k: 17, act: 'gelu', bias: false, split: { limit: 17 * 4 * 4, pieces: 4 } },
        701,
      ),
    ).toBeLessThan(1e-5); // 4, 4, 4, 1
    expect(
      await check({ rows: 90, out: 130, k: 20, split: { limit: 20 * 4 * 64 + 15, pieces: 3 } }, 702),
    ).toBeLessThan(1e-5); // 64, 64, 2: create rounds to 16 bytes
  });
  it('split weights: SwiGLU pieces hold whole pairs and write their columns of y', async () => {
    expect(
      await check({ rows: 45, out: 80, k: 18, glu: true, split: { limit: 18 * 4 * 24, pieces: 4 } }, 710),
    ).toBeLessThan(1e-5); // 24, 24, 24, 8
    expect(
      await check({ rows: 3, out: 44, k: 5, glu: true, split: { limit: 5 * 4 * 31, pieces: 2 } }, 711),
    ).toBeLessThan(1e-5); // 24, 20
  });
  it('split weights: layer-scale + residual in place, and the layernorm prologue in every piece', async () => {
    expect(
      await check(
        { rows: 83, out: 50, k: 29, residual: true, split: { limit: 29 * 4 * 16, pieces: 4 } },
        720,
      ),
    ).toBeLessThan(1e-5); // 16, 16, 16, 2
    expect(
      await check(
        {
          rows: 67,
          out: 70,
          k: 383,
          act: 'gelu',
          norm: { eps: 1e-6, offset: 300 },
          split: { limit: 383 * 4 * 32, pieces: 3 },
        },
        721,
      ),
    ).toBeLessThan(1e-5); // 32, 32, 6
    expect(
      await check(
        {
          rows: 130,
          out: 64,
          k: 48,
          glu: true,
          norm: { eps: 1e-6, offset: 3 },
          split: { limit: 48 * 4 * 24, pieces: 3 },
        },
        722,
      ),
    ).toBeLessThan(1e-5); // 24, 24, 16
  });
  it('a weight whose smallest piece (K x 4 columns) exceeds the binding is a GpuLimitError naming it', async () => {
    const { device } = await testDevice();
    const params = new ParameterSet();
    new Linear(params, 'encoder.fc', 8, 20);
    const restore = fakeLimits(device, { maxStorageBufferBindingSize: 20 * 4 * 4 - 1 });
    const rand = random(9);
    const source = memorySource({
      'encoder.fc.weight': { shape: [8, 20], data: randomArray(160, rand) },
      'encoder.fc.bias': { shape: [8], data: randomArray(8, rand) },
    });
    try {
      expect(() => params.upload(new GpuMemory(device), source)).toThrow(GpuLimitError);
      expect(() => params.upload(new GpuMemory(device), source)).toThrow(
        /^encoder\.fc\.weight: cannot be split to fit this device's maxStorageBufferBindingSize \(319\): its smallest piece, 4 of its 8 output rows by 20 inputs, needs 320 bytes/,
      );
    } finally {
      restore();
    }
  });
});
