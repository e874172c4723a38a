import { describe, expect, it } from 'vitest';
import { GpuMemory } from '../../src/gpu/buffers.js';
import { type DeviceInfo, requestDevice } from '../../src/gpu/device.js';
import { KernelCache } from '../../src/gpu/kernel.js';
import { Recorder } from '../../src/gpu/recorder.js';
import { GpuTensor } from '../../src/gpu/tensor.js';
import { Attention, plainAttention } from '../../src/model/attention.js';
import { ParameterSet } from '../../src/model/parameters.js';
import { expectClose } from '../helpers/compare.js';
import { type Harness, random, randomArray, runOnGpu } from '../helpers/gpu.js';
import { attention64, splitQkv } from '../reference/ops_f64.js';
import { runAttention } from '../helpers/attention_run.js';

let defaultLimitsDevice: Promise<DeviceInfo> | undefined;

/** runOnGpu on a device with WebGPU's default limits (16 KiB of workgroup memory), not the adapter's. */
async function runOnDefaultLimits(
  record: (h: Harness) => Record<string, GPUBuffer>,
  sizes: Record<string, number>,
) {
  defaultLimitsDevice ??= requestDevice({ defaultLimits: true });
  const { device } = await defaultLimitsDevice;
  expect(device.limits.maxComputeWorkgroupStorageSize).toBe(16384);
  const memory = new GpuMemory(device);
  const rec = new Recorder(memory, new KernelCache(device), 'test');
  const outputs = record({ memory, kernels: rec.kernels, rec });
  const error = await rec.submit();
  if (error) throw error;
  const result: Record<string, Float32Array> = {};
  for (const [name, buffer] of Object.entries(outputs))
    result[name] = await new GpuTensor(memory, buffer, [sizes[name]], name).read();
  memory.destroyAll();
  return result;
}

async function check(
  batch: number,
  tokens: number,
  heads: number,
  headDim: number,
  seed: number,
  withMask: boolean,
  run = runOnGpu,
) {
  const rand = random(seed);
  const d = heads * headDim;
  // Peaky attention: scores spread over several units.
  const qkv = randomArray(batch * tokens * 3 * d, rand, -2, 2);
  const headMask = withMask
    ? Float32Array.from({ length: heads }, (_, h) => (h % 3 === 1 ? 0 : 0.5 + h / heads))
    : new Float32Array(heads).fill(1);
  const attn = new Attention(new ParameterSet(), plainAttention(d, heads));
  const { context, probs } = await runAttention(attn, qkv, headMask, batch, tokens, run);
  const ref = attention64(...splitQkv(qkv, batch * tokens, d), { batch, tokens, heads, headDim }, headMask);
  const name = `attention B${batch} T${tokens} H${heads} hd${headDim}`;
  return Math.max(
    expectClose(context, ref.context, `${name} context`),
    expectClose(probs, ref.probs, `${name} probs`),
  );
}

describe('attention.wgsl: flash attention and the probabilities rebuilt from its statistics, against float64', () => {
  // Token counts around the query and key blocks (32 at head dim 64), head dims on both sides of
  // the 16 dims a thread owns, the fallbacks to smaller blocks for wide heads.
  const cases: [number, number, number, number][] = [
    [1, 1, 1, 4],
    [1, 1, 2, 64],
    [1, 5, 1, 1],
    [2, 21, 4, 16], // 1 + 4 registers + 4x4 patches
    [1, 19, 3, 16],
    [1, 70, 2, 8],
    [2, 37, 6, 10], // head dim not a multiple of 4
    [1, 131, 5, 6],
    [3, 45, 2, 3],
    [1, 33, 3, 7],
    [2, 29, 2, 17],
    [1, 65, 2, 33],
    [1, 50, 1, 80], // 5 columns of dims, 4 of keys: a thread without scores
    [1, 67, 2, 128], // 16 keys a block
    [1, 40, 1, 256], // 8 keys a block, 16 queries a workgroup
    [1, 261, 6, 64], // ViT-S/14 at 224: 1 + 4 + 256 tokens
    [1, 1374, 1, 4], // 518 x 518: 1 + 4 + 37·37 tokens
  ];
  for (const [i, [b, t, h, hd]] of cases.entries()) {
    it(`B=${b} T=${t} heads=${h} head_dim=${hd}`, async () => {
      expect(await check(b, t, h, hd, 50 + i, false)).toBeLessThan(1e-5);
    });
  }
  it('head_mask multiplies the probabilities (and so the context) per head', async () => {
    expect(await check(2, 23, 4, 8, 99, true)).toBeLessThan(1e-5);
    expect(await check(2, 70, 3, 64, 98, true)).toBeLessThan(1e-5);
  });
  it('fits WebGPU default limits (16 KiB of workgroup memory)', async () => {
    expect(await check(2, 77, 2, 64, 97, true, runOnDefaultLimits)).toBeLessThan(1e-5);
    expect(await check(1, 40, 2, 100, 96, false, runOnDefaultLimits)).toBeLessThan(1e-5);
  });
});
