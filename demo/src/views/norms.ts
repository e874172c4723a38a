// Token norms: the register paper (Darcet et al., "Vision Transformers Need Registers") finds the
// artefacts of plain DINOv2 as a few patch tokens whose norm is many times the others'.
import { checkSequence, type TokenLayout } from './tokens.js';

/** Euclidean norm of every token of one image, [tokens], in float64. */
export function tokenNorms(
  hidden: Float32Array,
  dims: readonly number[],
  layout: TokenLayout,
  batch = 0,
): Float64Array {
  const d = checkSequence(dims, layout);
  const out = new Float64Array(layout.tokens);
  const base = batch * layout.tokens * d;
  for (let t = 0; t < layout.tokens; t++) {
    let s = 0;
    for (let k = 0; k < d; k++) {
      const v = hidden[base + t * d + k];
      s += v * v;
    }
    out[t] = Math.sqrt(s);
  }
  return out;
}

/** The patch tokens' norms on the grid, [gridH * gridW]. */
export function patchNorms(
  hidden: Float32Array,
  dims: readonly number[],
  layout: TokenLayout,
  batch = 0,
): Float64Array {
  return tokenNorms(hidden, dims, layout, batch).slice(layout.firstPatch);
}

export interface NormSummary {
  cls: number;
  registers: number[];
  patchMedian: number;
  patchMax: number;
  /** Patches whose norm exceeds `outlierFactor` x the patch median (the artefacts, when there are any). */
  outliers: number[];
}

export function summarizeNorms(norms: Float64Array, layout: TokenLayout, outlierFactor = 2): NormSummary {
  const patches = norms.slice(layout.firstPatch);
  const sorted = Float64Array.from(patches).sort();
  const n = sorted.length;
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const outliers: number[] = [];
  patches.forEach((v, i) => {
    if (v > outlierFactor * median) outliers.push(i);
  });
  return {
    cls: norms[0],
    registers: Array.from(norms.slice(1, layout.firstPatch)),
    patchMedian: median,
    patchMax: sorted[n - 1],
    outliers,
  };
}
