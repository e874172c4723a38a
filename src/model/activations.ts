import type { HiddenAct } from '../io/config.js';

/** config.hidden_act -> the ACT override of activations.wgsl (transformers' ACT2FN names). */
export const ACTIVATION_CODES: Record<HiddenAct, number> = {
  gelu: 1,
  gelu_new: 2,
  gelu_pytorch_tanh: 2,
  gelu_fast: 2,
  quick_gelu: 3,
  relu: 4,
  selu: 5,
  silu: 6,
  swish: 6,
};
