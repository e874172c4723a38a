// Attention maps over the image from transformers' `attentions[layer]` [B, heads, T, T]: row q of
// head h is the softmax of token q's attention over all T keys (rows sum to 1). A map is the part
// of one row that falls on the patch tokens, laid out on the patch grid.
import type { TokenLayout } from './tokens.js';

export type Head = number | 'mean';

function checkAttention(
  dims: readonly number[],
  layout: TokenLayout,
): { batch: number; heads: number; t: number } {
  if (dims.length !== 4 || dims[2] !== layout.tokens || dims[3] !== layout.tokens) {
    throw new Error(
      `attentions: dims [${dims.join(', ')}] are not [B, heads, ${layout.tokens}, ${layout.tokens}]`,
    );
  }
  return { batch: dims[0], heads: dims[1], t: dims[2] };
}

/**
 * Token `query`'s attention to every patch, [gridH * gridW] in row-major grid order, for one head
 * or averaged over the heads (the mean of the probabilities, in float64).
 */
export function attentionToPatches(
  att: Float32Array,
  dims: readonly number[],
  layout: TokenLayout,
  query: number,
  head: Head,
  batch = 0,
): Float64Array {
  const { batch: b, heads, t } = checkAttention(dims, layout);
  if (att.length !== b * heads * t * t)
    throw new Error(`attentions: ${att.length} values for dims [${dims.join(', ')}]`);
  if (!Number.isInteger(query) || query < 0 || query >= t)
    throw new Error(`query token ${query} is outside [0, ${t})`);
  if (!Number.isInteger(batch) || batch < 0 || batch >= b)
    throw new Error(`batch ${batch} is outside [0, ${b})`);
  const selected = head === 'mean' ? Array.from({ length: heads }, (_, h) => h) : [head];
  for (const h of selected)
    if (!Number.isInteger(h) || h < 0 || h >= heads) throw new Error(`head ${h} is outside [0, ${heads})`);
  const out = new Float64Array(layout.patches);
  for (const h of selected) {
    const row = ((batch * heads + h) * t + query) * t + layout.firstPatch;
    for (let p = 0; p < layout.patches; p++) out[p] += att[row + p];
  }
  if (selected.length > 1) for (let p = 0; p < out.length; p++) out[p] /= selected.length;
  return out;
}

/** cls -> patches (the DINO attention map). */
export function clsAttention(
  att: Float32Array,
  dims: readonly number[],
  layout: TokenLayout,
  head: Head,
  batch = 0,
): Float64Array {
  return attentionToPatches(att, dims, layout, 0, head, batch);
}

/** Register `r` (0-based) -> patches. */
export function registerAttention(
  att: Float32Array,
  dims: readonly number[],
  layout: TokenLayout,
  r: number,
  head: Head,
  batch = 0,
): Float64Array {
  if (!Number.isInteger(r) || r < 0 || r >= layout.registers)
    throw new Error(`register ${r} is outside [0, ${layout.registers})`);
  return attentionToPatches(att, dims, layout, 1 + r, head, batch);
}

/** How the query's attention splits between cls, the registers and the patches (sums to 1 per row). */
export function attentionShares(
  att: Float32Array,
  dims: readonly number[],
  layout: TokenLayout,
  query: number,
  head: Head,
  batch = 0,
): { cls: number; registers: number; patches: number } {
  const { heads, t } = checkAttention(dims, layout);
  const selected = head === 'mean' ? Array.from({ length: heads }, (_, h) => h) : [head];
  let cls = 0;
  let registers = 0;
  let patches = 0;
  for (const h of selected) {
    const row = ((batch * heads + h) * t + query) * t;
    cls += att[row];
    for (let r = 0; r < layout.registers; r++) registers += att[row + 1 + r];
    for (let p = 0; p < layout.patches; p++) patches += att[row + layout.firstPatch + p];
  }
  const n = selected.length;
  return { cls: cls / n, registers: registers / n, patches: patches / n };
}
