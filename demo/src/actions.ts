// What the page does when asked: load a model, take an image, draw, compare, profile. Every piece of
// GPU work goes through the state's one scheduler (./scheduler.ts): a forward or a drawing asked for
// while another runs waits for it, and of several asked for meanwhile only the last one runs.
import { HttpError, load_image, NetworkError } from 'dinov2-webgpu';
import { LOCAL_ENTRY, type CatalogEntry } from './catalog.js';
import { drawCompare, forwardTwin, showCompareButton, stopCompare, twinEntry } from './compare.js';
import { progress, reportError, setPageState, ui } from './dom.js';
import type { Dropped } from './drop.js';
import { fmtMs } from './format.js';
import { disposeRun, forwardOne } from './forward.js';
import { accessNote, loadFailedNote } from './messages.js';
import { showInPicker, showModel, showModelNote } from './model_panel.js';
import { folderName, looksLikeCheckpoint } from './local_files.js';
import { loadEntry } from './models.js';
import { profileKernels } from './profile.js';
import { drawViews } from './render.js';
import type { Current, DemoState } from './state.js';

/** Runs `job` as a scheduler job; an error is reported on the page instead of thrown. */
async function job(state: DemoState, where: string, work: () => Promise<void>, key?: string): Promise<void> {
  try {
    await state.scheduler.run(work, key);
  } catch (e) {
    reportError(where, e);
  }
}

async function draw(state: DemoState): Promise<void> {
  await drawViews(state, () => void requestDraw(state));
  await drawCompare(state);
  document.body.dataset.runs = String(++state.draws);
}

/** Redraws the shown run at the page's selection (layer, patch, PCA threshold). */
export function requestDraw(state: DemoState): Promise<void> {
  return job(state, 'drawing', () => draw(state), 'draw');
}

/** A forward of the shown model on the shown image (and of the twin, when comparing), then its drawing. */
export function requestForward(state: DemoState): Promise<void> {
  return job(
    state,
    'forward',
    async () => {
      const { current, source } = state;
      if (!current || !source) return;
      setPageState('running');
      ui.runStatus.classList.remove('error');
      ui.runStatus.textContent = `running ${current.name} on ${source.name}…`;
      const next = await forwardOne(state, current, source);
      disposeRun(state.run);
      state.run = next;
      await forwardTwin(state);
      await draw(state);
      ui.downloadNpy.disabled = ui.downloadJson.disabled = false;
      setPageState('ready');
    },
    'forward',
  );
}

/** Makes `next` the shown model once the work in flight on the old one is done. */
async function swapModel(state: DemoState, next: Current): Promise<void> {
  await state.scheduler.run(async () => {
    stopCompare(state);
    disposeRun(state.run);
    state.run = undefined;
    // A clicked patch means another place on another patch grid (DINOv3's 16 px against DINOv2's 14).
    if (state.current?.model.config.patch_size !== next.model.config.patch_size) state.patch = undefined;
    state.current?.model.dispose();
    state.current = next;
  });
  progress(`${next.name} loaded in ${fmtMs(next.loadMs)}`, 1);
  showModel(state);
  showCompareButton(state);
}

/**
 * Loads `entry` (the local entry: from `files`; without files it opens the folder picker) and runs
 * it on the shown image. A load that fails leaves the shown model, and the picker naming it.
 */
export async function selectModel(
  state: DemoState,
  entry: CatalogEntry,
  files?: File[],
  folder?: string,
): Promise<void> {
  if (entry.kind === 'local' && !files) {
    showInPicker(state.current);
    ui.modelFolder.click();
    return;
  }
  const request = ++state.modelRequests;
  const what = entry.kind === 'local' ? (folder ?? folderName(files ?? [])) : entry.id;
  setPageState('loading');
  ui.modelStatus.classList.remove('error');
  progress(`loading ${what}…`, 0);
  let next: Current;
  const hadToken = entry.kind === 'hub' && !!state.token;
  try {
    next = await loadEntry(state, entry, progress, files, what);
  } catch (e) {
    if (request !== state.modelRequests) return; // a newer request took over
    showInPicker(state.current);
    if (e instanceof NetworkError && entry.kind === 'hub') {
      state.hubUnreachable = true;
      showModelNote(state);
    }
    // Said under the picker: a gated (or private) model refused, with what the token must be, or
    // why else the load failed; the model shown stays.
    const refused = e instanceof HttpError && (e.status === 401 || e.status === 403) && entry.kind === 'hub';
    const shown = state.current?.name;
    const note = refused
      ? accessNote(what, (e as HttpError).status, hadToken, !!entry.gated, shown)
      : loadFailedNote(what, (e as Error).message ?? String(e), shown);
    console.warn(note);
    progress(note, 0);
    ui.modelStatus.classList.add('error');
    if (!state.current) return reportError(`loading ${what}`, e);
    setPageState('ready');
    return;
  }
  if (request !== state.modelRequests) return next.model.dispose();
  await swapModel(state, next);
  if (state.source) await requestForward(state);
  else setPageState('ready');
}

/** Decodes an image and runs the shown model on it. */
export async function setImage(
  state: DemoState,
  input: Parameters<typeof load_image>[0],
  name: string,
): Promise<void> {
  try {
    const t = performance.now();
    const rgb = await load_image(input);
    state.source = { name, rgb, decodeMs: performance.now() - t };
    state.patch = undefined;
  } catch (e) {
    return reportError(`reading ${name}`, e);
  }
  await requestForward(state);
}

/** Loads the twin of the shown model (once) and shows both side by side. */
export async function startCompare(state: DemoState): Promise<void> {
  const entry = twinEntry(state);
  if (!entry) return;
  ui.compare.disabled = true;
  try {
    if (state.compare.twin?.entry.id !== entry.id) {
      ui.compareStatus.textContent = `loading ${entry.id}…`;
      const twin = await loadEntry(
        state,
        entry,
        (text) => (ui.compareStatus.textContent = `${entry.id}: ${text}`),
      );
      await state.scheduler.run(async () => {
        stopCompare(state);
        state.compare.twin = twin;
      });
    }
    state.compare.on = true;
    await job(state, 'comparing', async () => {
      await forwardTwin(state);
      await draw(state);
    });
  } catch (e) {
    ui.compareStatus.textContent = `could not load the twin: ${(e as Error).message}`;
    console.warn(`compare: ${(e as Error).message}`);
  } finally {
    ui.compare.disabled = false;
  }
}

/** Per-kernel times of one more forward. */
export async function runProfile(state: DemoState): Promise<void> {
  ui.profile.disabled = true;
  await job(state, 'per-kernel times', () => profileKernels(state));
  ui.profile.disabled = false;
}

/** Files dropped, pasted or picked: a checkpoint is loaded as the local model, an image is run. */
export async function takeFiles(state: DemoState, { files, folder }: Dropped): Promise<void> {
  if (looksLikeCheckpoint(files)) return selectModel(state, LOCAL_ENTRY, files, folder);
  const image = files.find((f) => f.type.startsWith('image/'));
  if (image) return setImage(state, image, image.name);
  if (files.length)
    reportError('drop', new Error(`not an image or a checkpoint: ${files.map((f) => f.name).join(', ')}`));
}
