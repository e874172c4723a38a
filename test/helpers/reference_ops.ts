// Float64 CPU twins of the kernels, written from the formulas (transformers / torch semantics).

export function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for a reference; use the series / continued fraction split.
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc x = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz-free backward evaluation)
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

export const ACTIVATIONS: Record<number, (x: number) => number> = {
  0: (x) => x,
  1: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  2: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  3: (x) => x / (1 + Math.exp(-1.702 * x)),
  4: (x) => Math.max(0, x),
  5: (x) => 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (Math.exp(x) - 1)),
  6: (x) => x / (1 + Math.exp(-x)),
};

/** y[r, n] = x[r, :] · w[n, :] + b[n] (w as nn.Linear stores it: [out, in]). */
export function linear(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | undefined,
  rows: number,
  out: number,
  k: number,
): Float64Array {
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < out; n++) {
      let s = b ? b[n] : 0;
      for (let i = 0; i < k; i++) s += x[r * k + i] * w[n * k + i];
      y[r * out + n] = s;
    }
  }
  return y;
}

export function layerNorm(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  rows: number,
  d: number,
  eps: number,
): Float64Array {
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i];
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[r * d + i] - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = (x[r * d + i] - mean) * rstd * weight[i] + bias[i];
  }
  return y;
}

/** Attention over qkv [B*T, 3D]: context [B*T, D] and probabilities [B, H, T, T] (after head_mask). */
export function attention(
  qkv: ArrayLike<number>,
  batch: number,
  tokens: number,
  heads: number,
  headDim: number,
  headMask?: ArrayLike<number>,
) {
  const d = heads * headDim;
  const context = new Float64Array(batch * tokens * d);
  const probs = new Float64Array(batch * heads * tokens * tokens);
  const at = (b: number, t: number, part: number, h: number, i: number) =>
    qkv[(b * tokens + t) * 3 * d + part * d + h * headDim + i];
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const hm = headMask ? headMask[h] : 1;
      for (let q = 0; q < tokens; q++) {
        const s = new Float64Array(tokens);
        let max = -Infinity;
        for (let k = 0; k < tokens; k++) {
          let dot = 0;
          for (let i = 0; i < headDim; i++) dot += at(b, q, 0, h, i) * at(b, k, 1, h, i);
          s[k] = dot / Math.sqrt(headDim);
          max = Math.max(max, s[k]);
        }
        let sum = 0;
        for (let k = 0; k < tokens; k++) sum += s[k] = Math.exp(s[k] - max);
        for (let k = 0; k < tokens; k++) {
          const p = (s[k] / sum) * hm;
          probs[((b * heads + h) * tokens + q) * tokens + k] = p;
          for (let i = 0; i < headDim; i++)
            context[(b * tokens + q) * d + h * headDim + i] += p * at(b, k, 2, h, i);
        }
      }
    }
  }
  return { context, probs };
}
