// The page's elements (index.html) and the few things every part of the page writes: its state
// for tests (body[data-state]), the banner, the model status line, and errors.

const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
};

export const ui = {
  banner: $('banner'),
  adapter: $('adapter'),
  modelSelect: $<HTMLSelectElement>('model-select'),
  modelFolder: $<HTMLInputElement>('model-folder'),
  modelFiles: $<HTMLInputElement>('model-files'),
  modelBar: $('model-progress-bar'),
  modelStatus: $('model-status'),
  modelNote: $('model-note'),
  hfToken: $<HTMLInputElement>('hf-token'),
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
  compareNote: $('compare-note'),
  compareViews: $('compare-views'),
};

export type PageState = 'starting' | 'loading' | 'running' | 'ready' | 'error';

export function setPageState(s: PageState): void {
  document.body.dataset.state = s;
}

/** The banner under the header; `html` is trusted markup (escape what comes from elsewhere). */
export function showBanner(kind: 'error' | 'warning', html: string): void {
  ui.banner.hidden = false;
  ui.banner.className = `banner ${kind}`;
  ui.banner.innerHTML = html;
}

export function hideBanner(): void {
  ui.banner.hidden = true;
}

/** An error of the page's own work: said in the status line and the console, the page in state error. */
export function reportError(where: string, e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  console.error(`${where}: ${message}`);
  ui.runStatus.textContent = `${where}: ${message}`;
  ui.runStatus.classList.add('error');
  setPageState('error');
}

/** The model status line and its bar (fraction undefined: unknown). */
export function progress(text: string, fraction?: number): void {
  ui.modelStatus.textContent = text;
  ui.modelBar.style.width = fraction === undefined ? '100%' : `${Math.round(100 * fraction)}%`;
  ui.modelBar.classList.toggle('indeterminate', fraction === undefined);
}

/** A text element with a class, for notes in the panels. */
export function hint(text: string): HTMLElement {
  return Object.assign(document.createElement('p'), { className: 'hint', textContent: text });
}
