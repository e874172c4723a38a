// npx tsx bench/attention_kernel.ts [--tokens 261] [--heads 6] [--head-dim 64] [--batch 1] [--runs 5] [--default-limits]
// Times one `attention.flash` dispatch (ViT-S/14 at 224 by default) on Dawn in Node, after one
// warm-up run (pipeline compilation): wall time from submit to queue.onSubmittedWorkDone, and the
// dispatch's own GPU time from timestamp queries (unquantized, as bench/library.ts asks Dawn).
// Prints medians and GFLOP/s, counting 4·T²·head_dim flops per (batch, head): QKᵀ and P·V.
// --default-limits keeps WebGPU's default limits (16 KiB of workgroup memory) instead of the adapter's.
import { register } from 'node:module';

// The sources import WGSL as `?raw` strings (vite's convention); teach Node's loader the same.
const rawLoader = `
import { readFile } from 'node:fs/promises';
export async function load(url, context, next) {
  if (!url.endsWith('?raw')) return next(url, context);
  const text = await readFile(new URL(url.slice(0, -4)), 'utf8');
  return { format: 'module', source: 'export default ' + JSON.stringify(text), shortCircuit: true };
}`;
register(`data:text/javascript,${encodeURIComponent(rawLoader)}`, import.meta.url);

await import('../src/platform_node.js'); // Dawn for src/gpu/device.ts, as the Node entry installs it
const { navigatorGpu, requestDevice } = await import('../src/gpu/device.js');
const { DAWN_FLAGS } = await import('./library.js');
const { KernelTimer } = await import('../src/gpu/timing.js');
const { GpuMemory } = await import('../src/gpu/buffers.js');
const { KernelCache } = await import('../src/gpu/kernel.js');
const { Recorder } = await import('../src/gpu/recorder.js');
const { Attention, plainAttention } = await import('../src/model/attention.js');
const { ParameterSet } = await import('../src/model/parameters.js');

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
const tokens = option('tokens', 261);
const heads = option('heads', 6);
const headDim = option('head-dim', 64);
const batch = option('batch', 1);
const runs = option('runs', 5);

await navigatorGpu(); // points Vulkan at SwiftShader when the machine has no GPU
const dawn = (await import('webgpu')).create(DAWN_FLAGS); // held for the process's life, as bench/library.ts does
const adapter = await dawn.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) throw new Error('Dawn found no WebGPU adapter');
const { device, adapterInfo } = await requestDevice({
  adapter,
  defaultLimits: process.argv.includes('--default-limits'),
});
const timer = KernelTimer.attach(device);
const memory = new GpuMemory(device);
const kernels = new KernelCache(device);
const d = heads * headDim;
const qkvData = Float32Array.from({ length: batch * tokens * 3 * d }, (_, i) => Math.sin(i * 0.37) * 2);
const qkv = memory.upload('qkv', qkvData);
const mask = memory.upload('head_mask', new Float32Array(heads).fill(1));
const context = memory.create('context', batch * tokens * d * 4);
const stats = memory.create('stats', batch * heads * tokens * 8);
const attn = new Attention(new ParameterSet(), plainAttention(d, heads));

async function once(): Promise<[number, number]> {
  const rec = new Recorder(memory, kernels, 'bench');
  attn.attend(rec, qkv, { buffer: mask, offset: 0, size: heads * 4 }, { batch, tokens }, context, stats);
  const t0 = performance.now();
  const error = rec.submit();
  await device.queue.onSubmittedWorkDone();
  const ms = performance.now() - t0;
  const e = await error;
  if (e) throw e;
  const [t] = await timer.read();
  return [ms, (t.endNs - t.beginNs) / 1e6];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const { constants } = attn.plan(device.limits);
console.error(
  `adapter: ${adapterInfo.description || adapterInfo.vendor}; constants ${JSON.stringify(constants)}`,
);
const [first] = await once();
const wall: number[] = [];
const gpu: number[] = [];
for (let i = 0; i < runs; i++) {
  const [w, g] = await once();
  wall.push(w);
  gpu.push(g);
}
const gflop = (4 * batch * heads * tokens * tokens * headDim) / 1e9;
const report = (name: string, ms: number[]) =>
  `${name} median ${median(ms).toFixed(1)} ms, ${(gflop / (median(ms) / 1000)).toFixed(3)} GFLOP/s; min ${Math.min(...ms).toFixed(1)} ms (${ms.map((t) => t.toFixed(0)).join(', ')})`;
console.log(
  `attention.flash B${batch} T${tokens} heads ${heads} head_dim ${headDim}, ${runs} runs after a first of ${first.toFixed(0)} ms:`,
);
console.log(`  ${report('wall', wall)}`);
console.log(`  ${report('GPU ', gpu)}`);
timer.detach();
memory.destroyAll();
device.destroy();
