// Everything the page draws for one forward, from the tensors it read back: pure, so the browser
// test computes the same pictures in Node from the library's outputs and compares pixels.
import { clsAttention, registerAttention, attentionShares } from './attention.js';
import { scalarToRgba, type Range } from './colormap.js';
import { patchNorms, summarizeNorms, tokenNorms, type NormSummary } from './norms.js';
import { pcaPicture, type PcaPicture } from './pca.js';
import { cosineSimilarities } from './similarity.js';
import { checkSequence, patchFeatures, type TokenLayout } from './tokens.js';

export interface Tensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface ViewInputs {
  layout: TokenLayout;
  /** attentions[layer]: [B, heads, T, T]. */
  attention: Tensor;
  /** last_hidden_state [B, T, D]: the features of PCA and similarity. */
  lastHidden: Tensor;
  /** hidden_states[i] [B, T, D]: the tokens whose norms are shown. */
  normHidden: Tensor;
}

export interface ViewSelection {
  /** The patch whose similarity to the others is shown. */
  patch: number;
  /** Foreground threshold on the first PCA component (0..1), or none. */
  pcaThreshold?: number;
}

export interface Picture {
  values: Float64Array;
  rgba: Uint8ClampedArray;
  range: Range;
}

export interface Views {
  clsMean: Picture;
  clsHeads: Picture[];
  /** Each register's attention to the patches, averaged over heads. */
  registers: Picture[];
  /** Where cls's attention goes (mean over heads). */
  clsShares: { cls: number; registers: number; patches: number };
  pca: PcaPicture;
  norms: Picture;
  normSummary: NormSummary;
  similarity: Picture;
}

function picture(values: Float64Array): Picture {
  const { rgba, range } = scalarToRgba(values);
  return { values, rgba, range };
}

export function computeViews(inputs: ViewInputs, selection: ViewSelection): Views {
  const { layout, attention, lastHidden, normHidden } = inputs;
  const heads = attention.dims[1];
  const a = attention.data;
  const d = checkSequence(lastHidden.dims, layout, 'last_hidden_state');
  const features = patchFeatures(lastHidden.data, lastHidden.dims, layout);
  const norms = tokenNorms(normHidden.data, normHidden.dims, layout);
  return {
    clsMean: picture(clsAttention(a, attention.dims, layout, 'mean')),
    clsHeads: Array.from({ length: heads }, (_, h) => picture(clsAttention(a, attention.dims, layout, h))),
    registers: Array.from({ length: layout.registers }, (_, r) =>
      picture(registerAttention(a, attention.dims, layout, r, 'mean')),
    ),
    clsShares: attentionShares(a, attention.dims, layout, 0, 'mean'),
    pca: pcaPicture(features, layout.patches, d, selection.pcaThreshold),
    norms: picture(patchNorms(normHidden.data, normHidden.dims, layout)),
    normSummary: summarizeNorms(norms, layout),
    similarity: picture(cosineSimilarities(features, layout.patches, d, selection.patch)),
  };
}

export { tokenLayout, layoutFor, type TokenLayout } from './tokens.js';
