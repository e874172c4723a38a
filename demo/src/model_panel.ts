// What the page shows of the loaded model: its facts, the layers to pick from, the note on random
// weights, and the picker naming it.
import { Dinov2WithRegistersBackbone, Dinov2WithRegistersForImageClassification } from 'dinov2-webgpu';
import type { AnyDinov2Model } from 'dinov2-webgpu';
import { HUB_EXAMPLE, LOCAL_ENTRY, localLabel } from './catalog.js';
import { ui } from './dom.js';
import { fmtBytes, fmtCount } from './format.js';
import { randomModelNote } from './messages.js';
import type { Current, DemoState } from './state.js';

/** The transformers class name (constructor names do not survive minification). */
function className(m: AnyDinov2Model): string {
  const base = m.config.model_type === 'dinov2' ? 'Dinov2' : 'Dinov2WithRegisters';
  if (m instanceof Dinov2WithRegistersForImageClassification) return `${base}ForImageClassification`;
  if (m instanceof Dinov2WithRegistersBackbone) return `${base}Backbone`;
  return `${base}Model`;
}

/** Parameters the model declares (from its checkpoint keys and shapes). */
function parameterCount(model: AnyDinov2Model): number {
  let n = 0;
  for (const shape of model.params.expected.values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

function showFacts(c: Current): void {
  const m = c.model;
  const cfg = m.config;
  const params = parameterCount(m);
  const facts: [string, string][] = [
    ['class', className(m)],
    ['parameters', fmtCount(params)],
    ['weights (float32)', fmtBytes(4 * params)],
    ...(c.checkpointBytes ? [['checkpoint files', fmtBytes(c.checkpointBytes)] as [string, string]] : []),
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

/** Points the picker at `c` (the local option named after its folder when it came from one). */
export function showInPicker(c: Current | undefined): void {
  const local = ui.modelSelect.querySelector<HTMLOptionElement>(`option[value="${LOCAL_ENTRY.key}"]`);
  if (local) local.text = c?.entry.kind === 'local' ? localLabel(c.name) : LOCAL_ENTRY.label;
  ui.modelSelect.value = c?.entry.key ?? '';
}

/**
 * The note on random weights, while such a model is shown: it suggests the hub while the browser is
 * online and the hub was not found unreachable, a local folder otherwise.
 */
export function showModelNote(state: DemoState): void {
  const c = state.current;
  ui.modelNote.hidden = !c?.entry.random;
  const online = navigator.onLine && !state.hubUnreachable;
  if (c?.entry.random) ui.modelNote.textContent = randomModelNote(c.name, online, HUB_EXAMPLE);
}

/** Everything about the model shown. */
export function showModel(state: DemoState): void {
  const c = state.current!;
  showFacts(c);
  fillLayerSelects(c.model.config.num_hidden_layers);
  showInPicker(c);
  showModelNote(state);
  ui.top5Panel.hidden = !(c.model instanceof Dinov2WithRegistersForImageClassification);
}
