import { GpuMemory } from '../../src/gpu/buffers.js';
import { type DeviceInfo, requestDevice } from '../../src/gpu/device.js';
import { KernelCache } from '../../src/gpu/kernel.js';
import { Recorder } from '../../src/gpu/recorder.js';
import { GpuTensor } from '../../src/gpu/tensor.js';
import type { TensorSource } from '../../src/io/tensors.js';

let device: Promise<DeviceInfo> | undefined;

/** One device for a test file (Dawn in Node; SwiftShader when there is no GPU). */
export function testDevice(): Promise<DeviceInfo> {
  device ??= requestDevice();
  return device;
}

export interface Harness {
  memory: GpuMemory;
  kernels: KernelCache;
  rec: Recorder;
}

/** Records what `record` dispatches into one command encoder, submits, and reads `outputs` back. */
export async function runOnGpu(
  record: (h: Harness) => Record<string, GPUBuffer>,
  sizes: Record<string, number>,
): Promise<Record<string, Float32Array>> {
  const { device: dev } = await testDevice();
  const memory = new GpuMemory(dev);
  const kernels = new KernelCache(dev);
  const rec = new Recorder(memory, kernels, 'test');
  dev.pushErrorScope('validation');
  const outputs = record({ memory, kernels, rec });
  rec.submit();
  const error = await dev.popErrorScope();
  if (error) throw new Error(`GPU validation error: ${error.message}`);
  const result: Record<string, Float32Array> = {};
  for (const [name, buffer] of Object.entries(outputs)) {
    result[name] = await new GpuTensor(memory, buffer, [sizes[name]], name).read();
  }
  memory.destroyAll();
  return result;
}

/** An in-memory checkpoint: what a SafetensorsFile offers the loader. */
export function memorySource(tensors: Record<string, { shape: number[]; data: Float32Array }>): TensorSource {
  return {
    names: Object.keys(tensors),
    info: (name) => ({ dtype: 'F32', shape: tensors[name].shape }),
    float32: (name) => tensors[name].data,
  };
}

/** Seeded uniform numbers in [lo, hi) (mulberry32). */
export function random(seed: number): (lo?: number, hi?: number) => number {
  let a = seed >>> 0;
  return (lo = -1, hi = 1) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

export function randomArray(
  n: number,
  rand: (lo?: number, hi?: number) => number,
  lo = -1,
  hi = 1,
): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rand(lo, hi);
  return out;
}

export type BufferLimitOverrides = Partial<
  Pick<GPUSupportedLimits, 'maxBufferSize' | 'maxStorageBufferBindingSize'>
>;

/**
 * Makes `device` report smaller buffer limits (every other limit as it is), the way a smaller GPU
 * would; returns the function that puts the real ones back. Dawn validates against its real limits,
 * so only our own checks and choices see the fake ones.
 */
export function fakeLimits(device: GPUDevice, overrides: BufferLimitOverrides): () => void {
  const real = device.limits;
  const small: Record<string, number> = {};
  for (const key in real) small[key] = (real as unknown as Record<string, number>)[key];
  Object.assign(small, overrides);
  const own = Object.getOwnPropertyDescriptor(device, 'limits'); // Dawn's limits may be an own property
  Object.defineProperty(device, 'limits', { value: small, configurable: true });
  return () => {
    if (own) Object.defineProperty(device, 'limits', own);
    else delete (device as unknown as { limits?: unknown }).limits;
  };
}
