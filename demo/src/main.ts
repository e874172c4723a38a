// The demo page: pick a model and an image, run the forward on this browser's WebGPU, and draw
// what DINOv2 sees. The pictures come from ./views (pure, tested in Node); this file only reads
// the tensors they need, paints them and wires the controls.
//
// For tests and scripts: body[data-state] is starting | loading | running | ready | error, body
// [data-runs] counts finished renders, every map canvas has data-view (cls-mean, cls-head-N,
// register-N, pca, norms, similarity, compare-*), and the similarity canvas data-patch.
import * as lib from '../../src/index.js';
import type { AllOutputs, AnyDinov2Model, DeviceInfo, GpuTensor } from '../../src/index.js';
import { loadImageBrowser, type BrowserImageInput } from '../../src/image/decode_browser.js';
import {
  BitImageProcessor,
  parseImageProcessorConfig,
  type ImageProcessorConfig,
  type RgbImage,
} from '../../src/image/processor.js';
import { bundledEntry, hubEntries, LOCAL_ENTRY, twinOf, type CatalogEntry } from './catalog.js';
import { ForwardTimer } from './gpu_timer.js';
import {
  HubUnavailableError,
  loadBundled,
  loadHub,
  loadLocal,
  looksLikeCheckpoint,
  parameterCount,
  type Loaded,
  type Progress,
} from './loaders.js';
import { SAMPLES } from './samples.js';
import { cssGradient, type Range } from './views/colormap.js';
import { embeddingsJson } from './views/embeddings.js';
import { computeViews, layoutFor, type TokenLayout, type Views } from './views/index.js';
import { toNpy } from './views/npy.js';
import { patchAt } from './views/similarity.js';

// ---------------------------------------------------------------------------------------------
// Page elements

const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
};

const ui = {
  banner: $('banner'),
  adapter: $('adapter'),
  modelSelect: $<HTMLSelectElement>('model-select'),
  localModel: $('local-model'),
  modelFolder: $<HTMLInputElement>('model-folder'),
  modelFiles: $<HTMLInputElement>('model-files'),
  modelBar: $('model-progress-bar'),
  modelStatus: $('model-status'),
  modelInfo: $('model-info'),
  samples: $('samples'),
  imageFile: $<HTMLInputElement>('image-file'),
  webcam: $<HTMLButtonElement>('webcam'),
  video: $<HTMLVideoElement>('webcam-video'),
  resolution: $<HTMLSelectElement>('resolution'),
  timings: $<HTMLTableElement>('timings'),
  kernelNote: $('kernel-note'),
  profile: $<HTMLButtonElement>('profile'),
  kernels: $<HTMLTableElement>('kernels'),
  downloadNpy: $<HTMLButtonElement>('download-npy'),
  downloadJson: $<HTMLButtonElement>('download-json'),
  layer: $<HTMLSelectElement>('layer'),
  opacity: $<HTMLInputElement>('opacity'),
  runStatus: $('run-status'),
  clsMean: $('cls-mean'),
  clsHeads: $('cls-heads'),
  clsShares: $('cls-shares'),
  registers: $('registers'),
  pca: $('pca'),
  pcaFg: $<HTMLInputElement>('pca-fg'),
  pcaThreshold: $<HTMLInputElement>('pca-threshold'),
  pcaThresholdValue: $<HTMLOutputElement>('pca-threshold-value'),
  pcaInfo: $('pca-info'),
  norms: $('norms'),
  normLayer: $<HTMLSelectElement>('norm-layer'),
  normInfo: $('norm-info'),
  similarity: $('similarity'),
  similarityInfo: $('similarity-info'),
  top5Panel: $('panel-top5'),
  top5: $('top5'),
  compare: $<HTMLButtonElement>('compare'),
  compareStatus: $('compare-status'),
  compareViews: $('compare-views'),
};

type PageState = 'starting' | 'loading' | 'running' | 'ready' | 'error';
const setState = (s: PageState) => (document.body.dataset.state = s);

function showBanner(kind: 'error' | 'warning', html: string): void {
  ui.banner.hidden = false;
  ui.banner.className = `banner ${kind}`;
  ui.banner.innerHTML = html;
}

function reportError(where: string, e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  console.error(`${where}: ${message}`);
  ui.runStatus.textContent = `${where}: ${message}`;
  ui.runStatus.classList.add('error');
  setState('error');
}

const fmtMs = (ms: number | undefined) =>
  ms === undefined ? '–' : ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
const fmtBytes = (b: number) =>
  b >= 2 ** 30
    ? `${(b / 2 ** 30).toFixed(2)} GiB`
    : b >= 2 ** 20
      ? `${(b / 2 ** 20).toFixed(1)} MiB`
      : `${(b / 1024).toFixed(0)} KiB`;
const fmtCount = (n: number) =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(2)} B`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(1)} M`
      : n >= 1e3
        ? `${(n / 1e3).toFixed(1)} k`
        : String(n);

// ---------------------------------------------------------------------------------------------
// State

interface Current {
  entry: CatalogEntry;
  loaded: Loaded;
  processorConfig: ImageProcessorConfig;
}

interface Source {
  name: string;
  rgb: RgbImage;
  decodeMs: number;
}

/** One forward's outputs, read back lazily (a layer's attentions only when it is shown). */
interface Run {
  model: AnyDinov2Model;
  modelName: string;
  source: Source;
  cropped: RgbImage;
  croppedUrl: string;
  out: AllOutputs;
  layout: TokenLayout;
  reads: Map<GpuTensor, Promise<Float32Array>>;
  timings: Record<string, number | undefined>;
  views?: Views;
}

let device: DeviceInfo | undefined;
let timer: ForwardTimer | undefined;
let current: Current | undefined;
let source: Source | undefined;
let run: Run | undefined;
let twinRun: Run | undefined;
let twin: Current | undefined;
let compareOn = false;
let selectedPatch: number | undefined;
let runs = 0;
const bundledIds: Map<string, string[]> = new Map();
/** Models that have run once: their pipelines are compiled. */
const ranBefore = new WeakSet<AnyDinov2Model>();

function read(r: Run, t: GpuTensor): Promise<Float32Array> {
  let p = r.reads.get(t);
  if (!p) {
    p = t.read();
    r.reads.set(t, p);
  }
  return p;
}

function disposeRun(r: Run | undefined): void {
  if (!r) return;
  lib.disposeAll(r.out as unknown as Record<string, GpuTensor | GpuTensor[] | undefined>);
}

// ---------------------------------------------------------------------------------------------
// Device

async function initDevice(): Promise<boolean> {
  if (!('gpu' in navigator)) {
    showBanner(
      'error',
      '<strong>WebGPU is not available in this browser.</strong> Use a recent Chrome, Edge or Safari (Technology Preview) — or Firefox Nightly — ' +
        'on a machine with a supported GPU. On Linux, Chrome needs <code>--enable-unsafe-webgpu</code> (and <code>--enable-features=Vulkan</code> on some drivers).',
    );
    return false;
  }
  try {
    device = await lib.requestDevice();
  } catch (e) {
    showBanner(
      'error',
      `<strong>No WebGPU adapter.</strong> ${escapeHtml((e as Error).message)} The browser has WebGPU but gave no adapter: the GPU may be blocklisted, or hardware acceleration is off.`,
    );
    return false;
  }
  const info = device.adapterInfo;
  const name =
    [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ') || 'unnamed adapter';
  ui.adapter.textContent = `WebGPU: ${name}${device.isSoftware ? ' (software)' : ''}`;
  if (device.isSoftware) {
    showBanner(
      'warning',
      `<strong>This WebGPU adapter is a software renderer (${escapeHtml(name)}).</strong> Everything works, on the CPU: the bundled tiny model takes seconds, the hub models minutes. ` +
        'Enable hardware acceleration (or run on a machine with a GPU) for real speed.',
    );
  }
  device.device.addEventListener('uncapturederror', (e) =>
    console.error(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`),
  );
  void device.device.lost.then((l) => {
    if (l.reason !== 'destroyed')
      showBanner(
        'error',
        `<strong>The WebGPU device was lost</strong> (${escapeHtml(l.message)}). Reload the page.`,
      );
  });
  timer = ForwardTimer.create(device.device);
  const kernelTimer = kernelTimerClass();
  ui.profile.disabled = !(timer && kernelTimer);
  ui.kernelNote.textContent = !timer
    ? 'This adapter offers no timestamp-query: GPU times are wall-clock (submit to done), and per-kernel times are not available.'
    : kernelTimer
      ? 'GPU time from timestamp queries around the forward. Per-kernel times run one more forward with a pass per dispatch.'
      : 'GPU time from timestamp queries around the forward. Per-kernel times need the engine’s KernelTimer, which this build of the library does not export.';
  return true;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---------------------------------------------------------------------------------------------
// Models

async function populateModels(): Promise<CatalogEntry[]> {
  const entries: CatalogEntry[] = [];
  try {
    const res = await fetch('models/index.json');
    if (res.ok) {
      const index = (await res.json()) as {
        models: { id: string; label: string; files: { name: string }[] }[];
      };
      for (const m of index.models) {
        entries.push(bundledEntry(m.id, m.label));
        bundledIds.set(
          m.id,
          m.files.map((f) => f.name),
        );
      }
    }
  } catch {
    // served without the bundled models: the hub and local folders remain
  }
  const groups: [string, CatalogEntry[]][] = [
    ['Bundled (offline)', entries],
    ['Hugging Face hub', hubEntries().filter((e) => !e.classifier)],
    ['Hugging Face hub: ImageNet classifiers', hubEntries().filter((e) => e.classifier)],
    ['Your files', [LOCAL_ENTRY]],
  ];
  for (const [label, list] of groups) {
    if (!list.length) continue;
    const group = document.createElement('optgroup');
    group.label = label;
    for (const e of list) group.append(new Option(e.label, e.key));
    ui.modelSelect.append(group);
  }
  return [...entries, ...hubEntries(), LOCAL_ENTRY];
}

function progress(text: string, fraction?: number): void {
  ui.modelStatus.textContent = text;
  ui.modelBar.style.width = fraction === undefined ? '100%' : `${Math.round(100 * fraction)}%`;
  ui.modelBar.classList.toggle('indeterminate', fraction === undefined);
}

async function loadEntry(entry: CatalogEntry, files?: File[], report: Progress = progress): Promise<Current> {
  if (!device) throw new Error('no WebGPU device');
  let loaded: Loaded;
  if (entry.kind === 'bundled')
    loaded = await loadBundled(entry.id, bundledIds.get(entry.id) ?? [], device, report);
  else if (entry.kind === 'hub') loaded = await loadHub(entry.id, entry.classifier, device, report);
  else loaded = await loadLocal(files ?? [], device, report);
  const processorConfig =
    loaded.preprocessorConfig === undefined
      ? parseImageProcessorConfig({})
      : parseImageProcessorConfig(loaded.preprocessorConfig, `${loaded.name}/preprocessor_config.json`);
  return { entry, loaded, processorConfig };
}

async function selectModel(entry: CatalogEntry, files?: File[]): Promise<void> {
  ui.localModel.hidden = entry.kind !== 'local';
  if (entry.kind === 'local' && !files) {
    progress('pick or drop a checkpoint folder', 0);
    return;
  }
  setState('loading');
  progress(`loading ${entry.id}…`, 0);
  stopCompare();
  try {
    const next = await loadEntry(entry, files);
    // Nothing may still be using the old model: swap once the forward and drawing in flight are done.
    await exclusive(async () => {
      await rendering;
      disposeRun(run);
      run = undefined;
      current?.loaded.model.dispose();
      current = next;
    });
    const c = next.loaded.model.config;
    progress(`${next.loaded.name} loaded in ${fmtMs(next.loaded.loadMs)}`, 1);
    showModelInfo(next);
    fillLayerSelects(c.num_hidden_layers);
    ui.top5Panel.hidden = !(next.loaded.model instanceof lib.Dinov2WithRegistersForImageClassification);
    const twinId = twinOf(next.entry.id);
    ui.compare.disabled = !twinId;
    ui.compare.textContent = twinId ? `Compare with ${twinId}` : 'Compare (no twin for this checkpoint)';
    if (source) await schedule();
    else setState('ready');
  } catch (e) {
    if (e instanceof HubUnavailableError) {
      progress(e.message, 0);
      showBanner('warning', escapeHtml(e.message));
      setState(current ? 'ready' : 'error');
      if (current) ui.modelSelect.value = current.entry.key;
      return;
    }
    progress(`could not load ${entry.id}`, 0);
    reportError(`loading ${entry.id}`, e);
  }
}

/** The transformers class name (constructor names do not survive minification). */
function className(m: AnyDinov2Model): string {
  const plain = m.config.model_type === 'dinov2';
  const base = plain ? 'Dinov2' : 'Dinov2WithRegisters';
  if (m instanceof lib.Dinov2WithRegistersForImageClassification) return `${base}ForImageClassification`;
  if (m instanceof lib.Dinov2WithRegistersBackbone) return `${base}Backbone`;
  return `${base}Model`;
}

function showModelInfo(c: Current): void {
  const m = c.loaded.model;
  const cfg = m.config;
  const facts: [string, string][] = [
    ['class', className(m)],
    ['parameters', fmtCount(parameterCount(m))],
    ['weights (float32)', fmtBytes(4 * parameterCount(m))],
    ...(c.loaded.checkpointBytes
      ? [['checkpoint files', fmtBytes(c.loaded.checkpointBytes)] as [string, string]]
      : []),
    ['GPU memory', fmtBytes(m.bytesAllocated)],
    ['layers × heads', `${cfg.num_hidden_layers} × ${cfg.num_attention_heads}`],
    ['hidden', String(cfg.hidden_size)],
    ['registers', String(cfg.num_register_tokens)],
    ['patch', `${cfg.patch_size} px`],
  ];
  ui.modelInfo.replaceChildren(
    ...facts.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
}

function fillLayerSelects(layers: number): void {
  ui.layer.replaceChildren(
    ...Array.from({ length: layers }, (_, i) => new Option(`${i + 1} of ${layers}`, String(i))),
  );
  ui.layer.value = String(layers - 1);
  ui.normLayer.replaceChildren(
    new Option('embeddings', '0'),
    ...Array.from({ length: layers }, (_, i) => new Option(`after layer ${i + 1}`, String(i + 1))),
    new Option('final layernorm', 'final'),
  );
  ui.normLayer.value = String(layers);
}

// ---------------------------------------------------------------------------------------------
// Images

async function setImage(input: BrowserImageInput, name: string): Promise<void> {
  try {
    const t = performance.now();
    const rgb = await loadImageBrowser(input);
    source = { name, rgb, decodeMs: performance.now() - t };
    selectedPatch = undefined;
    await schedule();
  } catch (e) {
    reportError(`reading ${name}`, e);
  }
}

function processorFor(c: Current): BitImageProcessor {
  const res = ui.resolution.value;
  if (res === 'processor') return new BitImageProcessor(c.processorConfig);
  const n = Number(res);
  return new BitImageProcessor({
    ...c.processorConfig,
    size: { shortest_edge: n },
    crop_size: { height: n, width: n },
  });
}

/** The model's preprocessing, split so the page can show the crop it feeds the model. */
function preprocess(
  c: Current,
  rgb: RgbImage,
): { cropped: RgbImage; pixel_values: Float32Array; dims: [1, 3, number, number] } {
  const p = processorFor(c);
  let cropped = rgb;
  if (p.config.do_resize) cropped = p.resize(cropped);
  if (p.config.do_center_crop) cropped = p.centerCrop(cropped);
  const values = new BitImageProcessor({ ...p.config, do_resize: false, do_center_crop: false }).preprocess(
    cropped,
  );
  return { cropped, ...values };
}

function imageUrl(img: RgbImage): string {
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d')!;
  const data = ctx.createImageData(img.width, img.height);
  for (let i = 0; i < img.width * img.height; i++) {
    data.data.set(img.data.subarray(i * 3, i * 3 + 3), i * 4);
    data.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(data, 0, 0);
  return canvas.toDataURL();
}

// ---------------------------------------------------------------------------------------------
// Running: one forward at a time; a request while one runs replaces any waiting one.

let busy = false;
let pending = false;
let idleWaiters: (() => void)[] = [];

/** Resolves once no GPU work of the page (forward, comparison) is running. */
function whenIdle(): Promise<void> {
  return busy ? new Promise((ok) => idleWaiters.push(ok)) : Promise.resolve();
}

/** Runs `work` when nothing else is running, and nothing else until it is done. */
async function exclusive(work: () => Promise<void>): Promise<void> {
  while (busy) await whenIdle();
  busy = true;
  try {
    await work();
  } finally {
    busy = false;
    const waiters = idleWaiters;
    idleWaiters = [];
    waiters.forEach((ok) => ok());
    if (pending) void schedule();
  }
}

/** A forward of the current image and model, now or after the one running (requests in between merge into one). */
async function schedule(): Promise<void> {
  if (busy) {
    pending = true;
    return;
  }
  await exclusive(async () => {
    do {
      pending = false;
      await forward();
    } while (pending);
  });
}

async function forwardOne(c: Current, src: Source): Promise<Run> {
  const t0 = performance.now();
  const { cropped, pixel_values, dims } = preprocess(c, src.rgb);
  const t1 = performance.now();
  const model = c.loaded.model;
  const submit = () =>
    model.forwardAll({ data: pixel_values, dims }, { output_attentions: true, output_hidden_states: true });
  let out: AllOutputs;
  let gpuMs: (() => Promise<number | undefined>) | undefined;
  if (timer) ({ result: out, gpuMs } = await timer.time(submit));
  else out = await submit();
  await device!.device.queue.onSubmittedWorkDone();
  const t2 = performance.now();
  const first = !ranBefore.has(model);
  ranBefore.add(model);
  return {
    model,
    modelName: c.loaded.name,
    source: src,
    cropped,
    croppedUrl: imageUrl(cropped),
    out,
    layout: layoutFor(model.config, dims[2], dims[3]),
    reads: new Map(),
    timings: {
      decode: src.decodeMs,
      preprocess: t1 - t0,
      forward: t2 - t1,
      'forward (GPU)': gpuMs ? await gpuMs() : undefined,
      dispatches: model.lastStats.dispatches,
      firstRun: first ? 1 : undefined,
    },
  };
}

async function forward(): Promise<void> {
  if (!current || !source) return;
  setState('running');
  ui.runStatus.classList.remove('error');
  ui.runStatus.textContent = `running ${current.loaded.name} on ${source.name}…`;
  try {
    const next = await forwardOne(current, source);
    const old = run;
    run = next;
    await render(); // queued after any drawing of the old run, so the old run is free after it
    disposeRun(old);
    if (compareOn) await renderCompare();
    ui.downloadNpy.disabled = ui.downloadJson.disabled = false;
    setState('ready');
  } catch (e) {
    reportError('forward', e);
  }
}

// ---------------------------------------------------------------------------------------------
// Drawing

/** A map over the image: the cropped input under a canvas of one pixel per patch. */
function figure(
  view: string,
  caption: string,
  run: Run,
  rgba: Uint8ClampedArray,
  range?: Range,
  small = false,
): HTMLElement {
  const fig = document.createElement('figure');
  fig.className = small ? 'map small' : 'map';
  const frame = document.createElement('div');
  frame.className = 'frame';
  frame.style.backgroundImage = `url(${run.croppedUrl})`;
  frame.style.aspectRatio = `${run.cropped.width} / ${run.cropped.height}`;
  const canvas = document.createElement('canvas');
  canvas.width = run.layout.gridW;
  canvas.height = run.layout.gridH;
  canvas.dataset.view = view;
  canvas
    .getContext('2d', { willReadFrequently: true })!
    .putImageData(
      new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, run.layout.gridW, run.layout.gridH),
      0,
      0,
    );
  frame.append(canvas);
  frame.addEventListener('click', (e) => {
    const r = frame.getBoundingClientRect();
    selectPatch(run, (e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
  });
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  if (range) {
    const legend = document.createElement('span');
    legend.className = 'legend';
    legend.innerHTML = `<span>${range.min.toPrecision(3)}</span><i style="background:${cssGradient()}"></i><span>${range.max.toPrecision(3)}</span>`;
    cap.append(legend);
  }
  fig.append(frame, cap);
  return fig;
}

function marker(run: Run, patch: number): HTMLElement {
  const m = document.createElement('div');
  m.className = 'marker';
  const { gridW, gridH } = run.layout;
  m.style.left = `${(100 * (patch % gridW)) / gridW}%`;
  m.style.top = `${(100 * Math.floor(patch / gridW)) / gridH}%`;
  m.style.width = `${100 / gridW}%`;
  m.style.height = `${100 / gridH}%`;
  return m;
}

function selectPatch(r: Run, fx: number, fy: number): void {
  if (r !== run) return;
  selectedPatch = patchAt(fx, fy, r.layout.gridH, r.layout.gridW);
  void render();
}

/** What the current selection needs read back from `r`. */
async function inputsFor(r: Run, layer: number, normLayer: string) {
  const att = r.out.attentions![layer];
  const hs = r.out.hidden_states!;
  const normTensor =
    normLayer === 'final' ? r.out.last_hidden_state : hs[Math.min(Number(normLayer), hs.length - 1)];
  const [attention, lastHidden, normHidden] = await Promise.all([
    read(r, att),
    read(r, r.out.last_hidden_state),
    read(r, normTensor),
  ]);
  return {
    layout: r.layout,
    attention: { data: attention, dims: att.dims },
    lastHidden: { data: lastHidden, dims: r.out.last_hidden_state.dims },
    normHidden: { data: normHidden, dims: normTensor.dims },
  };
}

function pcaThreshold(): number | undefined {
  return ui.pcaFg.checked ? Number(ui.pcaThreshold.value) : undefined;
}

let rendering = Promise.resolve();

function render(): Promise<void> {
  rendering = rendering.then(renderNow, renderNow);
  return rendering;
}

async function renderNow(): Promise<void> {
  const r = run;
  if (!r) return;
  try {
    const layer = Math.min(Number(ui.layer.value), r.out.attentions!.length - 1);
    const t0 = performance.now();
    const inputs = await inputsFor(r, layer, ui.normLayer.value);
    const t1 = performance.now();
    const center = Math.floor(r.layout.gridH / 2) * r.layout.gridW + Math.floor(r.layout.gridW / 2);
    const patch = selectedPatch !== undefined && selectedPatch < r.layout.patches ? selectedPatch : center;
    const v = computeViews(inputs, { patch, pcaThreshold: pcaThreshold() });
    r.views = v;
    const L = r.out.attentions!.length;

    ui.clsMean.replaceChildren(
      figure(
        'cls-mean',
        `mean of ${v.clsHeads.length} heads, layer ${layer + 1}/${L}`,
        r,
        v.clsMean.rgba,
        v.clsMean.range,
      ),
    );
    ui.clsHeads.replaceChildren(
      ...v.clsHeads.map((p, h) => figure(`cls-head-${h}`, `head ${h + 1}`, r, p.rgba, undefined, true)),
    );
    const s = v.clsShares;
    ui.clsShares.textContent = `cls attends ${(100 * s.patches).toFixed(1)}% to patches, ${(100 * s.registers).toFixed(1)}% to registers, ${(100 * s.cls).toFixed(1)}% to itself (mean over heads).`;

    if (v.registers.length)
      ui.registers.replaceChildren(
        ...v.registers.map((p, i) => figure(`register-${i}`, `register ${i + 1}`, r, p.rgba, p.range, true)),
      );
    else
      ui.registers.replaceChildren(
        Object.assign(document.createElement('p'), {
          className: 'hint',
          textContent: 'This checkpoint has no register tokens (plain DINOv2).',
        }),
      );

    ui.pca.replaceChildren(
      figure(
        'pca',
        v.pca.second
          ? `foreground (${v.pca.foreground.reduce((a, b) => a + b, 0)} patches), PCA redone on it`
          : 'all patches, last_hidden_state',
        r,
        v.pca.rgba,
      ),
    );
    const p = v.pca.second ?? v.pca.first;
    ui.pcaInfo.textContent = `explained variance: ${p.explained.map((e) => `${(100 * e).toFixed(1)}%`).join(', ')}${p.converged ? '' : ' (not fully converged)'}`;

    const normName =
      ui.normLayer.value === 'final' ? 'last_hidden_state' : `hidden_states[${ui.normLayer.value}]`;
    ui.norms.replaceChildren(figure('norms', `‖token‖ of ${normName}`, r, v.norms.rgba, v.norms.range));
    const ns = v.normSummary;
    ui.normInfo.textContent =
      `patch median ${ns.patchMedian.toFixed(2)}, max ${ns.patchMax.toFixed(2)}; cls ${ns.cls.toFixed(2)}` +
      (ns.registers.length ? `; registers ${ns.registers.map((x) => x.toFixed(2)).join(', ')}` : '') +
      `. ${ns.outliers.length} patch${ns.outliers.length === 1 ? '' : 'es'} above 2× the median${ns.outliers.length ? ' (the artefacts registers remove)' : ''}.`;

    const sim = figure(
      'similarity',
      `cosine similarity to patch (${Math.floor(patch / r.layout.gridW)}, ${patch % r.layout.gridW})`,
      r,
      v.similarity.rgba,
      v.similarity.range,
    );
    const simCanvas = sim.querySelector('canvas')!;
    simCanvas.dataset.patch = String(patch);
    sim.querySelector('.frame')!.append(marker(r, patch));
    ui.similarity.replaceChildren(sim);
    ui.similarityInfo.textContent = `Patch ${patch} (row ${Math.floor(patch / r.layout.gridW)}, column ${patch % r.layout.gridW}) of the ${r.layout.gridH}×${r.layout.gridW} grid, last_hidden_state features.`;

    if (r.out.logits && r.model instanceof lib.Dinov2WithRegistersForImageClassification) {
      const [top] = await r.model.topK(r.out.logits, 5);
      ui.top5.replaceChildren(
        ...top.map((t) => {
          const li = document.createElement('li');
          li.innerHTML = `<span class="label"></span><span class="bar"><i style="width:${(100 * t.score).toFixed(1)}%"></i></span><span class="score">${(100 * t.score).toFixed(1)}%</span>`;
          li.querySelector('.label')!.textContent = t.label;
          li.dataset.index = String(t.index);
          return li;
        }),
      );
    }
    const t2 = performance.now();
    if (r.timings.readback === undefined) r.timings.readback = t1 - t0;
    r.timings.views = t2 - t1;
    showTimings(r);
    ui.runStatus.textContent = `${r.modelName} on ${r.source.name}: ${r.layout.tokens} tokens (1 cls + ${r.layout.registers} registers + ${r.layout.gridH}×${r.layout.gridW} patches)`;
    document.body.dataset.runs = String(++runs);
  } catch (e) {
    reportError('drawing', e);
  }
}

let fps: number | undefined;

function showTimings(r: Run): void {
  const t = r.timings;
  const rows: [string, string][] = [
    ['decode', fmtMs(t.decode)],
    ['preprocess', fmtMs(t.preprocess)],
    [t.firstRun ? 'forward, first (compiles shaders)' : 'forward (submit → done)', fmtMs(t.forward)],
    ['forward, GPU (timestamps)', timer ? fmtMs(t['forward (GPU)']) : 'no timestamp-query'],
    ['readback', fmtMs(t.readback)],
    ['views (CPU)', fmtMs(t.views)],
    ['dispatches', String(t.dispatches ?? '–')],
  ];
  if (webcam) rows.push(['webcam', fps ? `${fps.toFixed(1)} frames/s` : '…']);
  ui.timings.replaceChildren(
    ...rows.map(([k, v]) => {
      const tr = document.createElement('tr');
      tr.innerHTML = '<th></th><td></td>';
      tr.children[0].textContent = k;
      tr.children[1].textContent = v;
      return tr;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Per-kernel times: the engine's KernelTimer (src/gpu/timing.ts) gives every dispatch its own
// timestamped pass while it is attached; one extra forward is run for it.

interface KernelTimerLike {
  read(): Promise<{ kernel: string; label: string; beginNs: number; endNs: number }[]>;
  detach(): void;
  dropped: number;
}

function kernelTimerClass(): { attach(device: GPUDevice): KernelTimerLike } | undefined {
  // Looked up among the exports at run time, so that builds of the library without it stay quiet.
  const k = Object.entries(lib).find(([name]) => name === 'KernelTimer')?.[1] as
    | { attach?: unknown }
    | undefined;
  return k && typeof k.attach === 'function'
    ? (k as { attach(device: GPUDevice): KernelTimerLike })
    : undefined;
}

async function profileKernels(): Promise<void> {
  const cls = kernelTimerClass();
  if (!cls || !device || !current || !source) return;
  ui.profile.disabled = true;
  try {
    let times: Awaited<ReturnType<KernelTimerLike['read']>> = [];
    let dropped = 0;
    // Attached only around this one forward: no other work of the page runs meanwhile.
    await exclusive(async () => {
      const kt = cls.attach(device!.device);
      let profiled: Run | undefined;
      try {
        profiled = await forwardOne(current!, source!);
        times = await kt.read();
        dropped = kt.dropped;
      } finally {
        kt.detach();
        disposeRun(profiled);
      }
    });
    const byKernel = new Map<string, { calls: number; ns: number }>();
    for (const t of times) {
      const k = byKernel.get(t.kernel) ?? { calls: 0, ns: 0 };
      k.calls++;
      k.ns += t.endNs - t.beginNs;
      byKernel.set(t.kernel, k);
    }
    const total = [...byKernel.values()].reduce((a, k) => a + k.ns, 0);
    const rows = [...byKernel.entries()].sort((a, b) => b[1].ns - a[1].ns);
    const head = document.createElement('tr');
    head.innerHTML = '<th>kernel</th><td>calls</td><td>ms</td><td>share</td>';
    ui.kernels.replaceChildren(
      head,
      ...rows.map(([kernel, k]) => {
        const tr = document.createElement('tr');
        tr.innerHTML = '<th></th><td></td><td></td><td></td>';
        tr.children[0].textContent = kernel;
        tr.children[1].textContent = String(k.calls);
        tr.children[2].textContent = (k.ns / 1e6).toFixed(2);
        tr.children[3].textContent = total ? `${((100 * k.ns) / total).toFixed(0)}%` : '–';
        return tr;
      }),
    );
    ui.kernels.dataset.dispatches = String(times.length);
    if (dropped)
      ui.kernelNote.textContent = `${dropped} dispatches went untimed (more than the query set holds).`;
  } catch (e) {
    reportError('per-kernel times', e);
  } finally {
    ui.profile.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// With and without registers

function stopCompare(): void {
  compareOn = false;
  disposeRun(twinRun);
  twinRun = undefined;
  twin?.loaded.model.dispose();
  twin = undefined;
  ui.compareViews.replaceChildren();
  ui.compareStatus.textContent = '';
}

async function startCompare(): Promise<void> {
  if (!current) return;
  const id = twinOf(current.entry.id);
  if (!id) return;
  ui.compare.disabled = true;
  try {
    if (!twin || twin.entry.id !== id) {
      const entry: CatalogEntry =
        current.entry.kind === 'bundled'
          ? bundledEntry(id, id)
          : { key: `hub:${id}`, kind: 'hub', id, label: id, classifier: current.entry.classifier };
      if (entry.kind === 'bundled' && !bundledIds.has(id))
        throw new Error(`the twin ${id} is not bundled with this page`);
      ui.compareStatus.textContent = `loading ${id}…`;
      twin = await loadEntry(entry, undefined, (text) => (ui.compareStatus.textContent = `${id}: ${text}`));
    }
    compareOn = true;
    await exclusive(renderCompare);
  } catch (e) {
    ui.compareStatus.textContent = `could not load the twin: ${(e as Error).message}`;
    console.warn(`compare: ${(e as Error).message}`);
  } finally {
    ui.compare.disabled = false;
  }
}

async function renderCompare(): Promise<void> {
  if (!twin || !current || !run) return;
  ui.compareStatus.textContent = `running ${twin.loaded.name}…`;
  disposeRun(twinRun);
  twinRun = await forwardOne(twin, run.source);
  const columns: HTMLElement[] = [];
  for (const [label, r] of [
    [current.loaded.name, run],
    [twin.loaded.name, twinRun],
  ] as const) {
    const L = r.out.attentions!.length;
    const inputs = await inputsFor(r, L - 1, String(L));
    const center = Math.floor(r.layout.gridH / 2) * r.layout.gridW + Math.floor(r.layout.gridW / 2);
    const v = computeViews(inputs, { patch: center });
    const col = document.createElement('div');
    col.className = 'compare-column';
    const h = document.createElement('h3');
    h.textContent = `${label} (${r.layout.registers} registers)`;
    const tag = r === run ? 'compare-current' : 'compare-twin';
    col.append(
      h,
      figure(`${tag}-cls`, `cls attention, last layer`, r, v.clsMean.rgba, v.clsMean.range, true),
      figure(`${tag}-norms`, `‖token‖ after layer ${L}`, r, v.norms.rgba, v.norms.range, true),
      figure(`${tag}-pca`, 'PCA', r, v.pca.rgba, undefined, true),
    );
    const note = document.createElement('p');
    note.className = 'hint';
    note.textContent = `${v.normSummary.outliers.length} high-norm patches; cls→registers ${(100 * v.clsShares.registers).toFixed(1)}%`;
    col.append(note);
    columns.push(col);
  }
  ui.compareViews.replaceChildren(...columns);
  ui.compareStatus.textContent = `forward ${fmtMs(twinRun.timings.forward)} for the twin`;
}

// ---------------------------------------------------------------------------------------------
// Webcam: re-run as fast as the GPU allows (the next frame is grabbed when a forward is done).

let webcam: MediaStream | undefined;

async function toggleWebcam(): Promise<void> {
  if (webcam) {
    webcam.getTracks().forEach((t) => t.stop());
    webcam = undefined;
    ui.webcam.textContent = 'Webcam';
    ui.video.hidden = true;
    return;
  }
  try {
    webcam = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  } catch (e) {
    reportError('webcam', e);
    return;
  }
  ui.video.srcObject = webcam;
  ui.video.hidden = false;
  await ui.video.play();
  ui.webcam.textContent = 'Stop webcam';
  const stream = webcam;
  let last = performance.now();
  while (webcam === stream) {
    if (ui.video.readyState >= 2 && current) {
      const bitmap = await createImageBitmap(ui.video);
      const t = performance.now();
      const rgb = await loadImageBrowser(bitmap);
      bitmap.close();
      source = { name: 'webcam', rgb, decodeMs: performance.now() - t };
      await schedule();
      const now = performance.now();
      fps = 1000 / (now - last);
      last = now;
    }
    await new Promise((ok) => requestAnimationFrame(ok));
  }
  fps = undefined;
}

// ---------------------------------------------------------------------------------------------
// Downloads

function download(bytes: BlobPart, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const fileStem = (r: Run) =>
  `${r.modelName.replace(/[^\w.-]+/g, '_')}-${r.source.name.replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_')}`;

async function downloadEmbeddings(kind: 'npy' | 'json'): Promise<void> {
  const r = run;
  if (!r) return;
  const t = r.out.last_hidden_state;
  const data = await read(r, t);
  if (kind === 'npy')
    download(
      toNpy(data, t.dims) as Uint8Array<ArrayBuffer>,
      `${fileStem(r)}-last_hidden_state.npy`,
      'application/octet-stream',
    );
  else
    download(
      JSON.stringify(embeddingsJson(r.modelName, r.source.name, data, t.dims, r.layout)),
      `${fileStem(r)}-embeddings.json`,
      'application/json',
    );
}

// ---------------------------------------------------------------------------------------------
// Drop and paste

/** Files of a drop, folders walked. */
async function droppedFiles(dt: DataTransfer): Promise<File[]> {
  const entries = Array.from(dt.items)
    .map((i) => i.webkitGetAsEntry?.())
    .filter((e): e is FileSystemEntry => !!e);
  if (!entries.some((e) => e.isDirectory)) return Array.from(dt.files);
  const out: File[] = [];
  const walk = async (e: FileSystemEntry): Promise<void> => {
    if (e.isFile) out.push(await new Promise<File>((ok, fail) => (e as FileSystemFileEntry).file(ok, fail)));
    else if (e.isDirectory) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

async function takeFiles(files: File[]): Promise<void> {
  if (looksLikeCheckpoint(files)) {
    ui.modelSelect.value = LOCAL_ENTRY.key;
    await selectModel(LOCAL_ENTRY, files);
    return;
  }
  const image = files.find((f) => f.type.startsWith('image/'));
  if (image) await setImage(image, image.name);
  else if (files.length)
    reportError('drop', new Error(`not an image or a checkpoint: ${files.map((f) => f.name).join(', ')}`));
}

// ---------------------------------------------------------------------------------------------
// Wiring

function wire(entries: CatalogEntry[]): void {
  ui.modelSelect.addEventListener('change', () => {
    const entry = entries.find((e) => e.key === ui.modelSelect.value);
    if (entry) void selectModel(entry);
  });
  for (const input of [ui.modelFolder, ui.modelFiles]) {
    input.addEventListener('change', () => {
      if (input.files?.length) void selectModel(LOCAL_ENTRY, Array.from(input.files));
      input.value = '';
    });
  }
  ui.imageFile.addEventListener('change', () => {
    const f = ui.imageFile.files?.[0];
    if (f) void setImage(f, f.name);
    ui.imageFile.value = '';
  });
  ui.webcam.addEventListener('click', () => void toggleWebcam());
  ui.resolution.addEventListener('change', () => void schedule());
  ui.layer.addEventListener('change', () => void render());
  ui.normLayer.addEventListener('change', () => void render());
  ui.pcaFg.addEventListener('change', () => void render());
  ui.pcaThreshold.addEventListener('input', () => {
    ui.pcaThresholdValue.textContent = Number(ui.pcaThreshold.value).toFixed(2);
    if (ui.pcaFg.checked) void render();
  });
  const opacity = () => document.documentElement.style.setProperty('--overlay-opacity', ui.opacity.value);
  ui.opacity.addEventListener('input', opacity);
  opacity();
  ui.downloadNpy.addEventListener('click', () => void downloadEmbeddings('npy'));
  ui.downloadJson.addEventListener('click', () => void downloadEmbeddings('json'));
  ui.compare.addEventListener('click', () => void startCompare());
  ui.profile.addEventListener('click', () => void profileKernels());

  window.addEventListener('dragover', (e) => {
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  window.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    if (e.dataTransfer) void droppedFiles(e.dataTransfer).then(takeFiles);
  });
  window.addEventListener('paste', (e) => {
    const files = Array.from(e.clipboardData?.files ?? []);
    if (files.length) {
      e.preventDefault();
      void takeFiles(files);
    }
  });
}

function showSamples(): void {
  for (const s of SAMPLES) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'sample';
    b.title = s.title;
    b.dataset.sample = s.name;
    b.innerHTML = `<img alt="" src="${s.url}">`;
    b.addEventListener('click', () => {
      document.querySelectorAll('.sample').forEach((x) => x.classList.toggle('selected', x === b));
      void setImage(s.url, `${s.name}.png`);
    });
    ui.samples.append(b);
  }
}

async function main(): Promise<void> {
  showSamples();
  const entries = await populateModels();
  wire(entries);
  if (!(await initDevice())) {
    setState('error');
    return;
  }
  const params = new URLSearchParams(location.search);
  const wanted = params.get('model');
  const first =
    entries.find((e) => e.id === wanted || e.key === wanted) ?? entries.find((e) => e.kind === 'bundled');
  const sample = SAMPLES.find((s) => s.name === params.get('sample')) ?? SAMPLES[0];
  document.querySelector<HTMLElement>(`.sample[data-sample="${sample.name}"]`)?.classList.add('selected');
  const t = performance.now();
  const rgb = await loadImageBrowser(sample.url);
  source = { name: `${sample.name}.png`, rgb, decodeMs: performance.now() - t };
  if (first) {
    ui.modelSelect.value = first.key;
    await selectModel(first);
  } else {
    progress('no bundled model: pick one from the hub or a local folder', 0);
    setState('ready');
  }
}

void main().catch((e) => reportError('starting', e));
