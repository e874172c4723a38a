// What the page shows of the loaded model: its facts (DINOv2's or DINOv3's), the layers and input
// sizes to pick from, the note on random weights, and the picker naming it.
import {
  DINOv3ViTBackbone,
  Dinov2WithRegistersBackbone,
  Dinov2WithRegistersForImageClassification,
  isDinov3,
  mlpFeatures,
} from 'dinov2-webgpu';
import type { AnyModel } from 'dinov2-webgpu';
import { HUB_EXAMPLE, HUB_EXAMPLE_DINOV3, LOCAL_ENTRY, localLabel } from './catalog.js';
import { ui } from './dom.js';
import { fmtBytes, fmtCount } from './format.js';
import { processorShape } from './forward.js';
import { inputSizeChoices } from './input_sizes.js';
import { randomModelNote } from './messages.js';
import type { Current, DemoState } from './state.js';

/** The transformers class name (constructor names do not survive minification). */
function className(m: AnyModel): string {
  if (isDinov3(m.config)) return m instanceof DINOv3ViTBackbone ? 'DINOv3ViTBackbone' : 'DINOv3ViTModel';
  const base = m.config.model_type === 'dinov2' ? 'Dinov2' : 'Dinov2WithRegisters';
  if (m instanceof Dinov2WithRegistersForImageClassification) return `${base}ForImageClassification`;
  if (m instanceof Dinov2WithRegistersBackbone) return `${base}Backbone`;
  return `${base}Model`;
}

/** Parameters the model declares (from its checkpoint keys and shapes). */
function parameterCount(model: AnyModel): number {
  let n = 0;
  for (const shape of model.params.expected.values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** What sets the family apart: DINOv2's learned position embeddings and MLP, DINOv3's RoPE and gated MLP. */
function familyFacts(m: AnyModel): [string, string][] {
  const cfg = m.config;
  if (isDinov3(cfg)) {
    const biases = (
      [
        ['q', cfg.query_bias],
        ['k', cfg.key_bias],
        ['v', cfg.value_bias],
        ['o', cfg.proj_bias],
      ] as const
    )
      .filter(([, on]) => on)
      .map(([name]) => name);
    return [
      ['position', `2D RoPE, θ = ${cfg.rope_theta} (no position embeddings)`],
      ['intermediate size', String(cfg.intermediate_size)],
      ['MLP', cfg.use_gated_mlp ? `gated (${cfg.hidden_act} gate × up)` : `${cfg.hidden_act}, not gated`],
      ['attention biases', biases.length ? biases.join(', ') : 'none'],
      ['layer norm ε', cfg.layer_norm_eps.toExponential()],
    ];
  }
  const grid = Math.floor(cfg.image_size / cfg.patch_size);
  return [
    ['position', `learned, ${grid}×${grid} (${cfg.image_size} px), interpolated`],
    ['MLP', `${mlpFeatures(cfg)}, ${cfg.use_swiglu_ffn ? 'SwiGLU' : cfg.hidden_act}`],
    ['layer norm ε', cfg.layer_norm_eps.toExponential()],
  ];
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
    ...familyFacts(m),
    ['processor', c.processor.image_processor_type],
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

function fillLayerSelects(layers: number, dinov3: boolean): void {
  ui.layer.replaceChildren(
    ...Array.from({ length: layers }, (_, i) => new Option(`${i + 1} of ${layers}`, String(i))),
  );
  ui.layer.value = String(layers - 1);
  ui.normLayer.replaceChildren(
    new Option('embeddings', '0'),
    ...Array.from({ length: layers }, (_, i) => new Option(`after layer ${i + 1}`, String(i + 1))),
    // transformers' module: `norm` in DINOv3, `layernorm` in DINOv2.
    new Option(dinov3 ? 'final norm' : 'final layernorm', 'final'),
  );
  ui.normLayer.value = String(layers);
}

/** The input sizes for `c`: its processor, then squares of whole patches; the same position stays chosen. */
function fillResolution(c: Current): void {
  const at = Math.max(0, ui.resolution.selectedIndex);
  const choices = inputSizeChoices(processorShape(c.processor), c.model.config.patch_size);
  ui.resolution.replaceChildren(...choices.map((o) => new Option(o.label, o.value)));
  ui.resolution.selectedIndex = Math.min(at, choices.length - 1);
}

/** Points the picker at `c` (the local option named after its folder when it came from one). */
export function showInPicker(c: Current | undefined): void {
  const local = ui.modelSelect.querySelector<HTMLOptionElement>(`option[value="${LOCAL_ENTRY.key}"]`);
  if (local) local.text = c?.entry.kind === 'local' ? localLabel(c.name) : LOCAL_ENTRY.label;
  ui.modelSelect.value = c?.entry.key ?? '';
}

/**
 * The note on random weights, while such a model is shown: it suggests the hub while the browser is
 * online and the hub was not found unreachable, a local folder otherwise. A DINOv3 model suggests
 * the DINOv3 ViT-S/16, and says it needs a token.
 */
export function showModelNote(state: DemoState): void {
  const c = state.current;
  ui.modelNote.hidden = !c?.entry.random;
  const online = navigator.onLine && !state.hubUnreachable;
  if (!c?.entry.random) return;
  const v3 = isDinov3(c.model.config);
  ui.modelNote.textContent = randomModelNote(c.name, online, v3 ? HUB_EXAMPLE_DINOV3 : HUB_EXAMPLE, v3);
}

/** Everything about the model shown. */
export function showModel(state: DemoState): void {
  const c = state.current!;
  showFacts(c);
  fillLayerSelects(c.model.config.num_hidden_layers, isDinov3(c.model.config));
  fillResolution(c);
  showInPicker(c);
  showModelNote(state);
  ui.top5Panel.hidden = !(c.model instanceof Dinov2WithRegistersForImageClassification);
}
