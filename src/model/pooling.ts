// Image embeddings from last_hidden_state [B, T, D], whose tokens are cls, the registers, then the
// patch tokens:
//   cls              the cls token (= pooler_output: the final layernorm is already applied)
//   mean             the mean of the patch tokens (cls and registers left out)
//   cls+patch-mean   both, concatenated [2D]: the input of Dinov2WithRegistersForImageClassification's classifier
// Means are taken in float64 and rounded once to float32.

export const POOLINGS = ['cls', 'mean', 'cls+patch-mean'] as const;
export type Pooling = (typeof POOLINGS)[number];

export function pooledSize(pooling: Pooling, hidden: number): number {
  return pooling === 'cls+patch-mean' ? 2 * hidden : hidden;
}

/** [B, T, D] -> [B, pooledSize]; `prefix` = 1 + registers (the tokens before the patches). */
export function poolEmbeddings(
  hidden: Float32Array,
  dims: number[],
  prefix: number,
  pooling: Pooling,
): Float32Array {
  const [batch, tokens, d] = dims;
  if (hidden.length !== batch * tokens * d)
    throw new Error(`poolEmbeddings: ${hidden.length} values for [${dims.join(', ')}]`);
  if (tokens <= prefix)
    throw new Error(`poolEmbeddings: ${tokens} tokens leave no patch tokens after ${prefix}`);
  const width = pooledSize(pooling, d);
  const out = new Float32Array(batch * width);
  const sum = new Float64Array(d);
  for (let b = 0; b < batch; b++) {
    const base = b * tokens * d;
    const row = b * width;
    if (pooling !== 'mean') out.set(hidden.subarray(base, base + d), row);
    if (pooling === 'cls') continue;
    sum.fill(0);
    for (let t = prefix; t < tokens; t++) {
      const at = base + t * d;
      for (let j = 0; j < d; j++) sum[j] += hidden[at + j];
    }
    const at = pooling === 'mean' ? row : row + d;
    for (let j = 0; j < d; j++) out[at + j] = sum[j] / (tokens - prefix);
  }
  return out;
}
