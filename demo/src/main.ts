// The demo page: pick a model and an image, run the forward on this browser's WebGPU, and draw
// what DINOv2 (with registers, or plain) or DINOv3 sees. This file builds the page's one state object, wires the controls to the
// actions (./actions.ts) and starts with the model and sample the URL names.
//
// For tests and scripts: body[data-state] is starting | loading | running | ready | error, body
// [data-runs] counts finished drawings, body[data-model] names the model whose maps are shown,
// every map canvas has data-view (cls-mean, cls-head-N, register-N, pca, norms, similarity,
// compare-*), and the similarity canvas data-patch.
import {
  requestDraw,
  requestForward,
  runProfile,
  selectModel,
  setImage,
  startCompare,
  takeFiles,
} from './actions.js';
import { dinov3HubEntries, hubEntries, LOCAL_ENTRY, type CatalogEntry } from './catalog.js';
import { initDevice } from './device.js';
import { progress, reportError, setPageState, ui } from './dom.js';
import { droppedFiles } from './drop.js';
import { downloadEmbeddings } from './downloads.js';
import { showModelNote } from './model_panel.js';
import { bundledEntries } from './models.js';
import { SAMPLES } from './samples.js';
import { createState, type DemoState } from './state.js';
import { toggleWebcam } from './webcam.js';

/** The picker's groups; returns every entry it offers. */
function fillPicker(bundled: CatalogEntry[]): CatalogEntry[] {
  const hub = hubEntries();
  const v3 = dinov3HubEntries();
  const groups: [string, CatalogEntry[]][] = [
    ['Bundled (offline)', bundled],
    ['Hugging Face hub', hub.filter((e) => !e.classifier)],
    ['Hugging Face hub: ImageNet classifiers', hub.filter((e) => e.classifier)],
    ['Hugging Face hub: DINOv3 (gated: needs a token)', v3],
    ['Your files', [LOCAL_ENTRY]],
  ];
  for (const [label, list] of groups) {
    if (!list.length) continue;
    const group = document.createElement('optgroup');
    group.label = label;
    for (const e of list) group.append(new Option(e.label, e.key));
    ui.modelSelect.append(group);
  }
  return [...bundled, ...hub, ...v3, LOCAL_ENTRY];
}

/** Where the token typed on the page is kept: this tab's sessionStorage (gone with the tab), never localStorage. */
const TOKEN_KEY = 'dinov2-webgpu-demo:hf-token';

/** The token field: state.token follows it, and this tab's sessionStorage keeps it across reloads. */
function wireToken(state: DemoState): void {
  try {
    state.token = sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    state.token = ''; // storage blocked: memory only
  }
  ui.hfToken.value = state.token;
  // Enter in the field would submit its form (a reload): the token applies to the next hub load.
  ui.hfToken.form?.addEventListener('submit', (e) => e.preventDefault());
  ui.hfToken.addEventListener('input', () => {
    state.token = ui.hfToken.value.trim();
    try {
      if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // storage blocked: the token stays in memory
    }
  });
}

function showSamples(state: DemoState): void {
  for (const s of SAMPLES) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'sample';
    b.title = s.title;
    b.dataset.sample = s.name;
    b.innerHTML = `<img alt="" src="${s.url}">`;
    b.addEventListener('click', () => {
      document.querySelectorAll('.sample').forEach((x) => x.classList.toggle('selected', x === b));
      void setImage(state, s.url, `${s.name}.png`);
    });
    ui.samples.append(b);
  }
}

function wire(state: DemoState, entries: CatalogEntry[]): void {
  wireToken(state);
  ui.modelSelect.addEventListener('change', () => {
    const entry = entries.find((e) => e.key === ui.modelSelect.value);
    if (entry) void selectModel(state, entry);
  });
  for (const input of [ui.modelFolder, ui.modelFiles]) {
    input.addEventListener('change', () => {
      if (input.files?.length) void takeFiles(state, { files: Array.from(input.files) });
      input.value = '';
    });
  }
  ui.imageFile.addEventListener('change', () => {
    const f = ui.imageFile.files?.[0];
    if (f) void setImage(state, f, f.name);
    ui.imageFile.value = '';
  });
  ui.webcam.addEventListener(
    'click',
    () =>
      void toggleWebcam(state, async (src) => {
        state.source = src;
        await requestForward(state);
      }),
  );
  ui.resolution.addEventListener('change', () => void requestForward(state));
  for (const control of [ui.layer, ui.normLayer, ui.pcaFg])
    control.addEventListener('change', () => void requestDraw(state));
  ui.pcaThreshold.addEventListener('input', () => {
    ui.pcaThresholdValue.textContent = Number(ui.pcaThreshold.value).toFixed(2);
    if (ui.pcaFg.checked) void requestDraw(state);
  });
  const opacity = () => document.documentElement.style.setProperty('--overlay-opacity', ui.opacity.value);
  ui.opacity.addEventListener('input', opacity);
  opacity();
  ui.downloadNpy.addEventListener('click', () => state.run && void downloadEmbeddings(state.run, 'npy'));
  ui.downloadJson.addEventListener('click', () => state.run && void downloadEmbeddings(state.run, 'json'));
  ui.compare.addEventListener('click', () => void startCompare(state));
  ui.profile.addEventListener('click', () => void runProfile(state));
  for (const event of ['online', 'offline'])
    window.addEventListener(event, () => {
      state.hubUnreachable = false;
      showModelNote(state);
    });

  window.addEventListener('dragover', (e) => {
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  window.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    if (e.dataTransfer) void droppedFiles(e.dataTransfer).then((d) => takeFiles(state, d));
  });
  window.addEventListener('paste', (e) => {
    const files = Array.from(e.clipboardData?.files ?? []);
    if (files.length) {
      e.preventDefault();
      void takeFiles(state, { files });
    }
  });
}

async function main(): Promise<void> {
  const state = createState();
  showSamples(state);
  const entries = fillPicker(await bundledEntries());
  wire(state, entries);
  if (!(await initDevice(state))) return setPageState('error');
  const params = new URLSearchParams(location.search);
  const wanted = params.get('model');
  const first =
    entries.find((e) => e.id === wanted || e.key === wanted) ?? entries.find((e) => e.kind === 'bundled');
  const sample = SAMPLES.find((s) => s.name === params.get('sample')) ?? SAMPLES[0];
  document.querySelector<HTMLElement>(`.sample[data-sample="${sample.name}"]`)?.classList.add('selected');
  await setImage(state, sample.url, `${sample.name}.png`);
  if (first) {
    ui.modelSelect.value = first.key;
    await selectModel(state, first);
  } else {
    ui.modelSelect.value = '';
    progress('no bundled model: pick one from the hub or a local folder', 0);
    setPageState('ready');
  }
}

void main().catch((e) => reportError('starting', e));
