// With and without registers: the same image through the shown checkpoint and its twin (the same
// model trained without register tokens), side by side at the selected layer. DINOv2 only: DINOv3
// was released with registers alone, so a DINOv3 model has no twin and the panel says so.
import { isDinov3 } from 'dinov2-webgpu';
import { bundledEntry, type CatalogEntry, twinOf } from './catalog.js';
import { hint, ui } from './dom.js';
import { figure } from './figure.js';
import { fmtMs } from './format.js';
import { disposeRun, forwardOne } from './forward.js';
import { inputsFor, selection } from './render.js';
import { type DemoState, type Run, shownPatch } from './state.js';
import { computeViews } from './views/index.js';

/** The twin of the shown model, as a catalogue entry (undefined when it has none). */
export function twinEntry(state: DemoState): CatalogEntry | undefined {
  const c = state.current;
  const id = c && twinOf(c.entry.id);
  if (!c || !id || c.entry.kind === 'local' || isDinov3(c.model.config)) return undefined;
  return c.entry.kind === 'bundled'
    ? bundledEntry(id, id, c.entry.random)
    : { key: `hub:${id}`, kind: 'hub', id, label: id, classifier: c.entry.classifier };
}

/** The compare button for the shown model, and the panel's note when a DINOv3 model has no twin. */
export function showCompareButton(state: DemoState): void {
  const twin = twinEntry(state);
  const v3 = !!state.current && isDinov3(state.current.model.config);
  ui.compare.disabled = !twin;
  ui.compare.textContent = twin
    ? `Compare with ${twin.id}`
    : v3
      ? 'Compare (no twin for DINOv3)'
      : 'Compare (no twin for this checkpoint)';
  ui.compareNote.hidden = !v3;
  ui.compareNote.textContent = v3
    ? 'DINOv3 was released with register tokens only: no DINOv3 model without registers exists to compare with. The registers’ own attention and the token norms are in the panels above; load a DINOv2 with-registers checkpoint to compare it with its twin.'
    : '';
}

/** Runs the twin on the image of the shown run (a scheduler job). */
export async function forwardTwin(state: DemoState): Promise<void> {
  const { twin } = state.compare;
  if (!state.compare.on || !twin || !state.run) return;
  ui.compareStatus.textContent = `running ${twin.name}…`;
  const next = await forwardOne(state, twin, state.run.source);
  disposeRun(state.compare.run);
  state.compare.run = next;
  ui.compareStatus.textContent = `forward ${fmtMs(next.timings.forward)} for the twin`;
}

async function column(r: Run, label: string, tag: string): Promise<HTMLElement> {
  const inputs = await inputsFor(r, { ...selection(), normLayer: String(selection().layer + 1) });
  const v = computeViews(inputs, { patch: shownPatch(undefined, r.layout) });
  const col = document.createElement('div');
  col.className = 'compare-column';
  const h = document.createElement('h3');
  h.textContent = `${label} (${r.layout.registers} registers)`;
  const layer = inputs.layer + 1;
  col.append(
    h,
    figure(`${tag}-cls`, `cls attention, layer ${layer}`, r, v.clsMean.rgba, {
      range: v.clsMean.range,
      small: true,
    }),
    figure(`${tag}-norms`, `‖token‖ after layer ${layer}`, r, v.norms.rgba, {
      range: v.norms.range,
      small: true,
    }),
    figure(`${tag}-pca`, 'PCA', r, v.pca.rgba, { small: true }),
    hint(
      `${v.normSummary.outliers.length} high-norm patches; cls→registers ${(100 * v.clsShares.registers).toFixed(1)}%`,
    ),
  );
  col.dataset.layer = String(inputs.layer);
  return col;
}

/** Draws both columns at the selected layer (a scheduler job). */
export async function drawCompare(state: DemoState): Promise<void> {
  const { run } = state;
  const twin = state.compare.run;
  if (!state.compare.on || !run || !twin) return;
  ui.compareViews.replaceChildren(
    await column(run, run.modelName, 'compare-current'),
    await column(twin, twin.modelName, 'compare-twin'),
  );
}

export function stopCompare(state: DemoState): void {
  state.compare.on = false;
  disposeRun(state.compare.run);
  state.compare.run = undefined;
  state.compare.twin?.model.dispose();
  state.compare.twin = undefined;
  ui.compareViews.replaceChildren();
  ui.compareStatus.textContent = '';
}
