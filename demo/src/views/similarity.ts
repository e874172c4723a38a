// Cosine similarity of one patch's feature to every patch's (itself included: 1).

/** `features` is [n, d] row-major; returns [n]. A zero vector has similarity 0 to everything. */
export function cosineSimilarities(
  features: Float64Array,
  n: number,
  d: number,
  index: number,
): Float64Array {
  if (features.length !== n * d) throw new Error(`features: ${features.length} values are not [${n}, ${d}]`);
  if (!Number.isInteger(index) || index < 0 || index >= n)
    throw new Error(`patch ${index} is outside [0, ${n})`);
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += features[i * d + k] ** 2;
    norms[i] = Math.sqrt(s);
  }
  const out = new Float64Array(n);
  const q = index * d;
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let k = 0; k < d; k++) dot += features[q + k] * features[i * d + k];
    const denom = norms[index] * norms[i];
    out[i] = denom > 0 ? Math.max(-1, Math.min(1, dot / denom)) : 0;
  }
  return out;
}

/** The patch under a point of an element showing the grid (fractions 0..1 across and down). */
export function patchAt(fx: number, fy: number, gridH: number, gridW: number): number {
  const col = Math.min(gridW - 1, Math.max(0, Math.floor(fx * gridW)));
  const row = Math.min(gridH - 1, Math.max(0, Math.floor(fy * gridH)));
  return row * gridW + col;
}
