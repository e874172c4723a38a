// Painting one forward: the tensors the selection needs are read back, ./views computes the
// pictures, and they go into the panels. The timings table follows.
import { Dinov2WithRegistersForImageClassification, isDinov3 } from 'dinov2-webgpu';
import { hint, ui } from './dom.js';
import { figure, marker } from './figure.js';
import { fmtMs } from './format.js';
import { read } from './forward.js';
import { type DemoState, type Run, shownLayer, shownPatch } from './state.js';
import { computeViews, type ViewInputs, type Views } from './views/index.js';
import { patchAt } from './views/similarity.js';

/** The selected layer (attentions) and token norms ('final' or a hidden_states index), as on the page. */
export interface Selection {
  layer: number;
  normLayer: string;
}

export const selection = (): Selection => ({ layer: Number(ui.layer.value), normLayer: ui.normLayer.value });

/** What the selection needs read back from `r` (the layer clamped to the model's). */
export async function inputsFor(r: Run, sel: Selection): Promise<ViewInputs & { layer: number }> {
  const layer = shownLayer(sel.layer, r.out.attentions!.length);
  const att = r.out.attentions![layer];
  const hs = r.out.hidden_states!;
  const normTensor =
    sel.normLayer === 'final' ? r.out.last_hidden_state : hs[Math.min(Number(sel.normLayer), hs.length - 1)];
  const [attention, lastHidden, normHidden] = await Promise.all([
    read(r, att),
    read(r, r.out.last_hidden_state),
    read(r, normTensor),
  ]);
  return {
    layer,
    layout: r.layout,
    attention: { data: attention, dims: att.dims },
    lastHidden: { data: lastHidden, dims: r.out.last_hidden_state.dims },
    normHidden: { data: normHidden, dims: normTensor.dims },
  };
}

function drawAttention(r: Run, v: Views, layer: number, pick: (fx: number, fy: number) => void): void {
  const L = r.out.attentions!.length;
  ui.clsMean.replaceChildren(
    figure('cls-mean', `mean of ${v.clsHeads.length} heads, layer ${layer + 1}/${L}`, r, v.clsMean.rgba, {
      range: v.clsMean.range,
      onPick: pick,
    }),
  );
  ui.clsHeads.replaceChildren(
    ...v.clsHeads.map((p, h) =>
      figure(`cls-head-${h}`, `head ${h + 1}`, r, p.rgba, { small: true, onPick: pick }),
    ),
  );
  const s = v.clsShares;
  ui.clsShares.textContent = `cls attends ${(100 * s.patches).toFixed(1)}% to patches, ${(100 * s.registers).toFixed(1)}% to registers, ${(100 * s.cls).toFixed(1)}% to itself (mean over heads).`;
  if (v.registers.length)
    ui.registers.replaceChildren(
      ...v.registers.map((p, i) =>
        figure(`register-${i}`, `register ${i + 1}`, r, p.rgba, {
          range: p.range,
          small: true,
          onPick: pick,
        }),
      ),
    );
  else
    ui.registers.replaceChildren(
      hint(
        isDinov3(r.model.config)
          ? 'This checkpoint has no register tokens (num_register_tokens 0).'
          : 'This checkpoint has no register tokens (plain DINOv2).',
      ),
    );
}

function drawFeatures(r: Run, v: Views, patch: number, pick: (fx: number, fy: number) => void): void {
  const pcaCaption = v.pca.second
    ? `foreground (${v.pca.foreground.reduce((a, b) => a + b, 0)} patches), PCA redone on it`
    : 'all patches, last_hidden_state';
  ui.pca.replaceChildren(figure('pca', pcaCaption, r, v.pca.rgba, { onPick: pick }));
  const p = v.pca.second ?? v.pca.first;
  ui.pcaInfo.textContent = `explained variance: ${p.explained.map((e) => `${(100 * e).toFixed(1)}%`).join(', ')}${p.converged ? '' : ' (not fully converged)'}`;

  const normName =
    ui.normLayer.value === 'final' ? 'last_hidden_state' : `hidden_states[${ui.normLayer.value}]`;
  ui.norms.replaceChildren(
    figure('norms', `‖token‖ of ${normName}`, r, v.norms.rgba, { range: v.norms.range, onPick: pick }),
  );
  const ns = v.normSummary;
  ui.normInfo.textContent =
    `patch median ${ns.patchMedian.toFixed(2)}, max ${ns.patchMax.toFixed(2)}; cls ${ns.cls.toFixed(2)}` +
    (ns.registers.length ? `; registers ${ns.registers.map((x) => x.toFixed(2)).join(', ')}` : '') +
    `. ${ns.outliers.length} patch${ns.outliers.length === 1 ? '' : 'es'} above 2× the median${ns.outliers.length ? ' (the artefacts registers remove)' : ''}.`;

  const { gridW, gridH } = r.layout;
  const [row, col] = [Math.floor(patch / gridW), patch % gridW];
  const sim = figure('similarity', `cosine similarity to patch (${row}, ${col})`, r, v.similarity.rgba, {
    range: v.similarity.range,
    onPick: pick,
  });
  sim.querySelector('canvas')!.dataset.patch = String(patch);
  sim.querySelector('.frame')!.append(marker(r, patch));
  ui.similarity.replaceChildren(sim);
  ui.similarityInfo.textContent = `Patch ${patch} (row ${row}, column ${col}) of the ${gridH}×${gridW} grid, last_hidden_state features.`;
}

async function drawTop5(r: Run): Promise<void> {
  if (!r.out.logits || !(r.model instanceof Dinov2WithRegistersForImageClassification)) return;
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

/** Draws state.run at the page's selection; a click on a map selects that patch and calls `repaint`. */
export async function drawViews(state: DemoState, repaint: () => void): Promise<void> {
  const r = state.run;
  if (!r) return;
  const t0 = performance.now();
  const inputs = await inputsFor(r, selection());
  const t1 = performance.now();
  const patch = shownPatch(state.patch, r.layout);
  const v = computeViews(inputs, {
    patch,
    pcaThreshold: ui.pcaFg.checked ? Number(ui.pcaThreshold.value) : undefined,
  });
  const pick = (fx: number, fy: number) => {
    if (state.run !== r) return;
    state.patch = patchAt(fx, fy, r.layout.gridH, r.layout.gridW);
    repaint();
  };
  drawAttention(r, v, inputs.layer, pick);
  drawFeatures(r, v, patch, pick);
  await drawTop5(r);
  r.timings.readback ??= t1 - t0;
  r.timings.views = performance.now() - t1;
  showTimings(state, r);
  ui.runStatus.classList.remove('error');
  ui.runStatus.textContent = `${r.modelName} on ${r.source.name}: ${r.layout.tokens} tokens (1 cls + ${r.layout.registers} registers + ${r.layout.gridH}×${r.layout.gridW} patches)`;
  document.body.dataset.model = r.modelName;
}

export function showTimings(state: DemoState, r: Run): void {
  const t = r.timings;
  const rows: [string, string][] = [
    ['decode', fmtMs(t.decode)],
    ['preprocess', fmtMs(t.preprocess)],
    [t.firstRun ? 'forward, first (compiles shaders)' : 'forward (submit → done)', fmtMs(t.forward)],
    ['forward, GPU (timestamps)', state.timer ? fmtMs(t.forwardGpu) : 'no timestamp-query'],
    ['readback', fmtMs(t.readback)],
    ['views (CPU)', fmtMs(t.views)],
    ['dispatches', String(t.dispatches ?? '–')],
  ];
  if (state.webcam) rows.push(['webcam', state.webcam.fps ? `${state.webcam.fps.toFixed(1)} frames/s` : '…']);
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
