// What runs inside the benchmark page. Each function is sent as source text (runInPage), so it is
// self-contained: the library, onnxruntime-web and the shared timing loops (measure.ts) come in
// through its request, as URLs and as function sources.
import type { Dinov2Config } from '../src/io/config.js';
import type { ForwardReport, ForwardRequest, Lib, TimedRuns } from './measure.js';
import type { AdapterReport } from './options.js';

export interface OursRequest {
  libraryUrl: string;
  /** Folder URL holding config.json and model.safetensors, with a trailing slash. */
  modelUrl: string;
  timeRunsSource: string;
  benchModelSource: string;
  forward: ForwardRequest;
  /** LoadOptions.dtype; fp32 when absent (bench:compare). */
  dtype?: 'fp32' | 'fp16' | 'fp16-emulated';
}

export interface OursResult {
  report: ForwardReport;
  /** fetch of config.json and model.safetensors. */
  fetchMs: number;
  /** parse, checks and upload (loadModel). */
  loadMs: number;
  adapter: AdapterReport;
  /** config.json as the library parsed it (defaults filled in). */
  config: Dinov2Config;
}

/** Our engine in the page: the built bundle, weights fetched from the bench server, benchModel. */
export async function oursInPage(req: OursRequest): Promise<OursResult> {
  const log = (line: string) => console.log(`[dinov2-webgpu] ${line}`);
  // Through Function so that no transform rewrites the browser's own import().
  const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
  const lib = (await importModule(req.libraryUrl)) as Lib;
  const timeRuns = new Function(`return (${req.timeRunsSource});`)();
  const benchModel = new Function(`return (${req.benchModelSource});`)();

  const { device, adapterInfo, isSoftware } = await lib.defaultDevice();
  device.addEventListener('uncapturederror', (e) =>
    console.error(`WebGPU uncaptured error: ${(e as GPUUncapturedErrorEvent).error.message}`),
  );

  const bytes = async (name: string) => {
    const res = await fetch(`${req.modelUrl}${name}`);
    if (!res.ok) throw new Error(`GET ${req.modelUrl}${name}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  let t0 = performance.now();
  const configJson = JSON.parse(new TextDecoder().decode(await bytes('config.json')));
  const weightBytes = await bytes('model.safetensors');
  const fetchMs = performance.now() - t0;
  log(
    `fetched ${(weightBytes.byteLength / 2 ** 20).toFixed(1)} MiB of weights in ${(fetchMs / 1000).toFixed(1)} s`,
  );
  t0 = performance.now();
  const config = lib.parseConfig(configJson, `${req.modelUrl}config.json`);
  const model = await lib.loadModel(
    config,
    lib.SafetensorsFile.parse(weightBytes, `${req.modelUrl}model.safetensors`),
    { dtype: req.dtype },
  );
  const loadMs = performance.now() - t0;
  log(
    `loaded in ${(loadMs / 1000).toFixed(1)} s on ${adapterInfo.description || adapterInfo.architecture}${isSoftware ? ' (software)' : ''}`,
  );
  try {
    const report = (await benchModel(lib, model, req.forward, timeRuns, log)) as ForwardReport;
    return { report, fetchMs, loadMs, adapter: { ...adapterInfo, isSoftware }, config };
  } finally {
    model.dispose();
  }
}

export interface OrtRequest {
  /** ort.webgpu.min.mjs (WebGPU and wasm) or ort.wasm.min.mjs, served from node_modules. */
  ortUrl: string;
  /** Folder of the .wasm / .mjs files ORT loads, with a trailing slash. */
  wasmPaths: string;
  modelUrl: string;
  backend: 'webgpu' | 'wasm';
  /** wasm threads (needs cross-origin isolation for more than 1). */
  threads: number;
  batch: number;
  size: number;
  warmup: number;
  runs: number;
  timeRunsSource: string;
}

export interface OrtResult extends TimedRuns {
  backend: string;
  ortVersion: string;
  createMs: number;
  imagesPerSecond: number;
  timedTo: string;
  inputName: string;
  outputs: { name: string; dims: number[] }[];
  outputsFinite: boolean;
  threads: number;
  crossOriginIsolated: boolean;
  adapter: { vendor: string; architecture: string; device: string; description: string } | null;
}

/** onnxruntime-web in the page: an InferenceSession on one backend, session.run() timed to its outputs on the CPU. */
export async function ortInPage(req: OrtRequest): Promise<OrtResult> {
  const log = (line: string) => console.log(`[onnxruntime-web ${req.backend}] ${line}`);
  const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
  // The parts of onnxruntime-web's API used here.
  type OrtTensor = { dims: readonly number[]; data: ArrayLike<number>; dispose?(): void };
  type Ort = {
    env: {
      wasm: { wasmPaths: string; numThreads: number };
      webgpu: { adapter?: GPUAdapter };
      versions?: { web?: string };
      logLevel: string;
    };
    Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
    InferenceSession: {
      create(
        url: string,
        options: object,
      ): Promise<{
        inputNames: readonly string[];
        outputNames: readonly string[];
        run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
        release(): Promise<void>;
      }>;
    };
  };
  const ort = (await importModule(req.ortUrl)) as Ort;
  const timeRuns = new Function(`return (${req.timeRunsSource});`)();
  ort.env.wasm.wasmPaths = req.wasmPaths;
  ort.env.wasm.numThreads = req.threads;
  ort.env.logLevel = 'warning';

  const t0 = performance.now();
  const session = await ort.InferenceSession.create(req.modelUrl, {
    executionProviders: [req.backend],
    graphOptimizationLevel: 'all',
  });
  const createMs = performance.now() - t0;
  log(`session created in ${(createMs / 1000).toFixed(1)} s`);

  const data = new Float32Array(req.batch * 3 * req.size * req.size);
  let state = 0x2545f491;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = (state / 4294967296) * 4 - 2;
  }
  const inputName = session.inputNames[0];
  const feeds = { [inputName]: new ort.Tensor('float32', data, [req.batch, 3, req.size, req.size]) };
  let outputs: { name: string; dims: number[] }[] = [];
  let outputsFinite = true;
  const once = async () => {
    const out = await session.run(feeds); // outputs come back on the CPU (the default location)
    if (!outputs.length) {
      outputs = session.outputNames.map((name) => ({ name, dims: [...out[name].dims] }));
      for (const name of session.outputNames)
        outputsFinite &&= Array.prototype.every.call(out[name].data, (v: number) => Number.isFinite(v));
    }
    for (const name of session.outputNames) out[name].dispose?.();
  };
  const timed = (await timeRuns(once, { warmup: req.warmup, runs: req.runs }, log)) as TimedRuns;
  const info = req.backend === 'webgpu' ? ort.env.webgpu.adapter?.info : undefined;
  await session.release();
  return {
    ...timed,
    backend: req.backend,
    ortVersion: ort.env.versions?.web ?? 'unknown',
    createMs,
    imagesPerSecond: (req.batch * 1000) / timed.medianMs,
    timedTo: 'session.run() with its outputs on the CPU',
    inputName,
    outputs,
    outputsFinite,
    threads: ort.env.wasm.numThreads,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    adapter: info
      ? {
          vendor: info.vendor,
          architecture: info.architecture,
          device: info.device,
          description: info.description,
        }
      : null,
  };
}
