// Float64 CPU twins of the model's operations, written from transformers' / torch's definitions:
// the one reference library of the tests. The whole-model reference (dinov2_f64.ts) is built from
// them, and the kernel tests (test/kernels/) check each WGSL entry point against its twin here.
// Activations are in activations_f64.ts, keyed by config.hidden_act.

/** y [rows, out] = x [rows, in] W^T + b  (nn.Linear; W is [out, in]). */
export function linear64(
  x: ArrayLike<number>,
  rows: number,
  w: ArrayLike<number>,
  b: ArrayLike<number> | undefined,
  inF: number,
  outF: number,
): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    const xo = r * inF;
    for (let o = 0; o < outF; o++) {
      const wo = o * inF;
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[xo + i] * w[wo + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

/** nn.LayerNorm over the last dim: (x - mean) / sqrt(var + eps) * w + b, biased variance, two passes. */
export function layerNorm64(
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  eps: number,
): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[o + i];
    mean /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[o + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + eps);
    for (let i = 0; i < dim; i++) y[o + i] = (x[o + i] - mean) * inv * w[i] + b[i];
  }
  return y;
}

/** The query, key and value [rows, D] of the fused projection's output [rows, 3D] (query | key | value columns). */
export function splitQkv(
  qkv: ArrayLike<number>,
  rows: number,
  d: number,
): [Float64Array, Float64Array, Float64Array] {
  const parts = [0, 1, 2].map(() => new Float64Array(rows * d));
  for (let r = 0; r < rows; r++)
    for (let part = 0; part < 3; part++)
      for (let i = 0; i < d; i++) parts[part][r * d + i] = qkv[r * 3 * d + part * d + i];
  return parts as [Float64Array, Float64Array, Float64Array];
}

/**
 * Multi-head self-attention (eager_attention_forward): probs = softmax(q kᵀ / sqrt(headDim)) *
 * head_mask[h], context = probs v. q, k, v, context [B * T, heads * headDim], head h at columns
 * h * headDim; probs [B, heads, T, T]; `headMask` [heads] (1 when not given).
 */
export function attention64(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  shape: { batch: number; tokens: number; heads: number; headDim: number },
  headMask?: ArrayLike<number>,
): { context: Float64Array; probs: Float64Array } {
  const { batch: B, tokens: T, heads, headDim: hd } = shape;
  const D = heads * hd;
  const scaling = hd ** -0.5;
  const probs = new Float64Array(B * heads * T * T);
  const context = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      const headScale = headMask ? headMask[h] : 1;
      for (let i = 0; i < T; i++) {
        const qo = (b * T + i) * D + h * hd;
        const po = ((b * heads + h) * T + i) * T;
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          const ko = (b * T + j) * D + h * hd;
          let s = 0;
          for (let e = 0; e < hd; e++) s += q[qo + e] * k[ko + e];
          s *= scaling;
          probs[po + j] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = 0; j < T; j++) {
          const e = Math.exp(probs[po + j] - max);
          probs[po + j] = e;
          sum += e;
        }
        for (let j = 0; j < T; j++) probs[po + j] = (probs[po + j] / sum) * headScale;
        for (let j = 0; j < T; j++) {
          const pj = probs[po + j];
          const vo = (b * T + j) * D + h * hd;
          for (let e = 0; e < hd; e++) context[qo + e] += pj * v[vo + e];
        }
      }
    }
  }
  return { context, probs };
}

/**
 * The patches of pixel_values [B, C, H, W] as rows [B * gh * gw, C * p * p] (column c * p * p +
 * ky * p + kx): nn.Conv2d(C, D, kernel=p, stride=p) is these rows times the weight [D, C * p * p].
 * Pixels past the last whole patch are dropped, as the convolution drops them.
 */
export function im2col64(
  pixels: ArrayLike<number>,
  image: { batch: number; channels: number; height: number; width: number },
  p: number,
): Float64Array {
  const { batch: B, channels: C, height: H, width: W } = image;
  const gh = Math.floor(H / p);
  const gw = Math.floor(W / p);
  const cols = C * p * p;
  const out = new Float64Array(B * gh * gw * cols);
  for (let b = 0; b < B; b++)
    for (let y = 0; y < gh; y++)
      for (let x = 0; x < gw; x++) {
        const row = ((b * gh + y) * gw + x) * cols;
        for (let c = 0; c < C; c++)
          for (let ky = 0; ky < p; ky++)
            for (let kx = 0; kx < p; kx++)
              out[row + (c * p + ky) * p + kx] = pixels[((b * C + c) * H + y * p + ky) * W + x * p + kx];
      }
  return out;
}

/**
 * The embeddings' token sequence [B * T, D], T = 1 + R + N: cls + position 0, the R registers (no
 * position), then each patch (or mask_token where `mask` [B * N] is set) + its position.
 * `positions` [(1 + N), D] is the table resampled to this grid.
 */
export function assembleTokens64(
  patches: ArrayLike<number>,
  tokens: {
    batch: number;
    patches: number;
    dim: number;
    cls: ArrayLike<number>;
    registers?: ArrayLike<number>;
    registerCount: number;
    maskToken?: ArrayLike<number>;
    mask?: ArrayLike<number | boolean>;
    positions: ArrayLike<number>;
  },
): Float64Array {
  const { batch: B, patches: N, dim: D, registerCount: R, positions } = tokens;
  const T = 1 + R + N;
  const h = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) {
    const first = b * T;
    for (let d = 0; d < D; d++) h[first * D + d] = tokens.cls[d] + positions[d];
    for (let r = 0; r < R; r++)
      for (let d = 0; d < D; d++) h[(first + 1 + r) * D + d] = tokens.registers![r * D + d];
    for (let n = 0; n < N; n++) {
      const masked =
        tokens.maskToken !== undefined && tokens.mask !== undefined && Boolean(tokens.mask[b * N + n]);
      const row = (first + 1 + R + n) * D;
      for (let d = 0; d < D; d++) {
        const v = masked ? tokens.maskToken![d] : patches[(b * N + n) * D + d];
        h[row + d] = v + positions[(1 + n) * D + d];
      }
    }
  }
  return h;
}

/** The classifier's input [B, 2D]: cat([cls, mean of the patch tokens]) of `sequence` [B * T, D]; the first `prefix` tokens (cls, registers) are not patches. */
export function clsAndPatchMean64(
  sequence: ArrayLike<number>,
  batch: number,
  tokens: number,
  prefix: number,
  d: number,
): Float64Array {
  const out = new Float64Array(batch * 2 * d);
  const n = tokens - prefix;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < d; i++) {
      out[b * 2 * d + i] = sequence[b * tokens * d + i];
      let s = 0;
      for (let t = prefix; t < tokens; t++) s += sequence[(b * tokens + t) * d + i];
      out[b * 2 * d + d + i] = s / n;
    }
  }
  return out;
}

/** The backbone's feature map [B, D, N] (N = gh * gw patches) of `sequence` [B * T, D], the first `prefix` tokens dropped. */
export function patchTokensToMap64(
  sequence: ArrayLike<number>,
  batch: number,
  tokens: number,
  prefix: number,
  d: number,
): Float64Array {
  const n = tokens - prefix;
  const map = new Float64Array(batch * d * n);
  for (let b = 0; b < batch; b++)
    for (let p = 0; p < n; p++)
      for (let i = 0; i < d; i++) map[(b * d + i) * n + p] = sequence[(b * tokens + prefix + p) * d + i];
  return map;
}

/**
 * transformers' classification losses on logits [B, n] in float64: 'regression' MSELoss (mean),
 * 'single_label_classification' CrossEntropyLoss (mean over labels other than -100),
 * 'multi_label_classification' BCEWithLogitsLoss (mean), each from its definition.
 */
export function classificationLoss64(
  logits: ArrayLike<number>,
  n: number,
  labels: ArrayLike<number>,
  problem: 'regression' | 'single_label_classification' | 'multi_label_classification',
): number {
  const batch = logits.length / n;
  if (problem === 'regression') {
    let s = 0;
    for (let i = 0; i < logits.length; i++) s += (logits[i] - labels[i]) * (logits[i] - labels[i]);
    return s / logits.length;
  }
  if (problem === 'single_label_classification') {
    let s = 0;
    let counted = 0;
    for (let b = 0; b < batch; b++) {
      if (labels[b] === -100) continue;
      // -log softmax(logits[b])[label]
      let z = 0;
      for (let j = 0; j < n; j++) z += Math.exp(logits[b * n + j]);
      s += -Math.log(Math.exp(logits[b * n + labels[b]]) / z);
      counted++;
    }
    return s / counted;
  }
  let s = 0;
  for (let i = 0; i < logits.length; i++) {
    const p = 1 / (1 + Math.exp(-logits[i])); // sigmoid
    s += -(labels[i] * Math.log(p) + (1 - labels[i]) * Math.log(1 - p));
  }
  return s / logits.length;
}
