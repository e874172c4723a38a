// What "download embeddings" saves: the final layernormed tokens of one image, named and laid out
// as transformers returns them, with the token layout spelled out.
import type { TokenLayout } from './tokens.js';

export interface EmbeddingsJson {
  model: string;
  image: string;
  /** transformers' pooler_output: the cls token after the final layernorm, [D]. */
  pooler_output: number[];
  /** The register tokens after the final layernorm, [R][D]. */
  register_tokens: number[][];
  /** The patch tokens after the final layernorm, [gridH * gridW][D] in row-major grid order. */
  patch_tokens: number[][];
  /** The mean of the patch tokens, [D] (the classifier's second half). */
  patch_mean: number[];
  layout: { tokens: number; registers: number; grid: [number, number]; hidden_size: number; order: string };
}

/** The JSON of one image's last_hidden_state [B, T, D] (batch index `batch`). */
export function embeddingsJson(
  model: string,
  image: string,
  lastHidden: Float32Array,
  dims: readonly number[],
  layout: TokenLayout,
  batch = 0,
): EmbeddingsJson {
  const [, t, d] = dims;
  if (dims.length !== 3 || t !== layout.tokens)
    throw new Error(`last_hidden_state dims [${dims.join(', ')}] do not match ${layout.tokens} tokens`);
  const row = (i: number) => Array.from(lastHidden.subarray((batch * t + i) * d, (batch * t + i + 1) * d));
  const patches = Array.from({ length: layout.patches }, (_, p) => row(layout.firstPatch + p));
  const mean = new Array<number>(d).fill(0);
  for (const p of patches) for (let k = 0; k < d; k++) mean[k] += p[k] / patches.length;
  return {
    model,
    image,
    pooler_output: row(0),
    register_tokens: Array.from({ length: layout.registers }, (_, r) => row(1 + r)),
    patch_tokens: patches,
    patch_mean: mean.map((v) => Math.fround(v)),
    layout: {
      tokens: t,
      registers: layout.registers,
      grid: [layout.gridH, layout.gridW],
      hidden_size: d,
      order: 'cls, registers, patches row-major',
    },
  };
}
