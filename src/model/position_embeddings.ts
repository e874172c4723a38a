// Position embeddings for any input size: transformers' `interpolate_pos_encoding`, computed on the
// host in float64 once per patch grid.
//
// The checkpoint holds one table `embeddings.position_embeddings` [1, 1 + N0, D]: row 0 belongs to
// the cls token, rows 1.. to an s x s patch grid (s = sqrt(N0)). For another grid transformers
// resamples that s x s grid (one image with D channels) to (floor(H / p), floor(W / p)) with
// `torch.nn.functional.interpolate(mode='bicubic', align_corners=False, size=(h, w))`:
//   - Dinov2WithRegisters passes antialias=True: torch's separable "aa" filter, PIL's bicubic
//     (Keys a = -0.5) whose support (2 taps each side) is stretched by in/out when shrinking, with
//     the weights of each output normalised to sum to one over the taps that fall inside the input.
//   - plain Dinov2 passes no antialias: the classic 4-tap bicubic (a = -0.75) at source position
//     (i + 0.5) * in / out - 0.5, with taps past the border clamped onto the border.
// The table is returned unchanged (no resampling at all) only when the input has the checkpoint's
// patch count AND is square in pixels, exactly transformers' skip condition.

/** The 1-D filter of one resampling: output i = sum over t < taps of weight[i * taps + t] * input[index[i * taps + t]]. */
export interface ResampleWeights {
  inSize: number;
  outSize: number;
  taps: number;
  /** [outSize * taps] input indices, always inside [0, inSize). Padding taps repeat a valid index with weight 0. */
  index: Int32Array;
  /** [outSize * taps] weights. */
  weight: Float64Array;
}

/** Keys' cubic convolution kernel with parameter a, for |x| < 1 and 1 <= |x| < 2 (torch's cubic_convolution1/2). */
function cubicConvolution1(x: number, a: number): number {
  return ((a + 2) * x - (a + 3)) * x * x + 1;
}

function cubicConvolution2(x: number, a: number): number {
  return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

/** The bicubic kernel with a = -0.5 (PIL, torch's antialiased bicubic). */
export function keysCubic(x: number, a = -0.5): number {
  const t = Math.abs(x);
  if (t < 1) return cubicConvolution1(t, a);
  if (t < 2) return cubicConvolution2(t, a);
  return 0;
}

/**
 * The 1-D weights torch uses to resample `inSize` samples to `outSize` (align_corners=False, size
 * given, so scale = inSize / outSize).
 *
 * antialias (torch's `_compute_indices_min_size_weights_aa`): center = scale * (i + 0.5); support =
 * 2 * max(scale, 1); the window is [trunc(center - support + 0.5), trunc(center + support + 0.5))
 * clipped to the input; tap j weighs keys(-0.5)((j - center + 0.5) / max(scale, 1)), then the
 * window's weights are divided by their sum.
 *
 * no antialias (torch's `HelperInterpCubic::compute_indices_weights`): x = scale * (i + 0.5) - 0.5,
 * x0 = floor(x), t = x - x0; taps x0-1 .. x0+2, each clamped into [0, inSize), with the a = -0.75
 * weights of distances 1+t, t, 1-t, 2-t.
 */
export function resampleWeights(inSize: number, outSize: number, antialias: boolean): ResampleWeights {
  if (!(Number.isInteger(inSize) && inSize > 0 && Number.isInteger(outSize) && outSize > 0)) {
    throw new RangeError(`resampleWeights: sizes must be positive integers, got ${inSize} -> ${outSize}`);
  }
  const scale = inSize / outSize;
  if (!antialias) {
    const taps = 4;
    const a = -0.75;
    const index = new Int32Array(outSize * taps);
    const weight = new Float64Array(outSize * taps);
    for (let i = 0; i < outSize; i++) {
      const real = scale * (i + 0.5) - 0.5;
      // torch's guard_index_and_lambda: the base index never passes the last sample, lambda stays in [0, 1].
      const x0 = Math.min(Math.floor(real), inSize - 1);
      const t = Math.min(Math.max(real - x0, 0), 1);
      const w = [
        cubicConvolution2(t + 1, a),
        cubicConvolution1(t, a),
        cubicConvolution1(1 - t, a),
        cubicConvolution2(2 - t, a),
      ];
      for (let k = 0; k < taps; k++) {
        index[i * taps + k] = Math.max(Math.min(x0 - 1 + k, inSize - 1), 0);
        weight[i * taps + k] = w[k];
      }
    }
    return { inSize, outSize, taps, index, weight };
  }

  const stretch = scale >= 1 ? scale : 1;
  const support = 2 * stretch;
  const taps = Math.ceil(support) * 2 + 1;
  const index = new Int32Array(outSize * taps);
  const weight = new Float64Array(outSize * taps);
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    // C++ static_cast<int64_t> truncates toward zero; the max with 0 makes that a floor here.
    const start = Math.max(Math.trunc(center - support + 0.5), 0);
    const size = Math.max(Math.min(Math.min(Math.trunc(center + support + 0.5), inSize) - start, taps), 0);
    let total = 0;
    for (let j = 0; j < size; j++) {
      const w = keysCubic((j + start - center + 0.5) / stretch);
      weight[i * taps + j] = w;
      total += w;
    }
    for (let j = 0; j < taps; j++) {
      index[i * taps + j] = j < size ? start + j : start;
      if (j < size && total !== 0) weight[i * taps + j] /= total;
    }
  }
  return { inSize, outSize, taps, index, weight };
}

/** The grid side s of a position table with 1 + s*s rows; throws when the patch rows are not a square. */
function positionGridSide(rows: number): number {
  const n0 = rows - 1;
  const side = Math.trunc(Math.sqrt(n0));
  if (n0 < 1 || side * side !== n0) {
    throw new RangeError(
      `position_embeddings has ${rows} rows: 1 + ${n0} patch positions is not 1 + a square grid`,
    );
  }
  return side;
}

/**
 * Resamples a [s*s, D] grid (row-major y, x; D channels per position) to [outH*outW, D]:
 * rows first along the width, then along the height, as torch's separable kernels do.
 */
function resampleGrid(
  grid: Float64Array,
  side: number,
  dim: number,
  outH: number,
  outW: number,
  antialias: boolean,
): Float64Array {
  const fw = resampleWeights(side, outW, antialias);
  const fh = resampleWeights(side, outH, antialias);
  // Horizontal pass: [side, outW, D].
  const mid = new Float64Array(side * outW * dim);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < outW; x++) {
      const dst = (y * outW + x) * dim;
      for (let t = 0; t < fw.taps; t++) {
        const w = fw.weight[x * fw.taps + t];
        if (w === 0) continue;
        const src = (y * side + fw.index[x * fw.taps + t]) * dim;
        for (let c = 0; c < dim; c++) mid[dst + c] += w * grid[src + c];
      }
    }
  }
  // Vertical pass: [outH, outW, D].
  const out = new Float64Array(outH * outW * dim);
  for (let y = 0; y < outH; y++) {
    for (let t = 0; t < fh.taps; t++) {
      const w = fh.weight[y * fh.taps + t];
      if (w === 0) continue;
      const srcRow = fh.index[y * fh.taps + t] * outW * dim;
      const dstRow = y * outW * dim;
      for (let k = 0; k < outW * dim; k++) out[dstRow + k] += w * mid[srcRow + k];
    }
  }
  return out;
}

/**
 * Position embeddings [(1 + h*w), D] in float64 for an input of height x width pixels, h = floor(height / p),
 * w = floor(width / p). Row 0 is the cls position, rows 1.. the patch grid row-major.
 */
export function positionEmbeddingsFor64(
  positionEmbeddings: Float32Array | Float64Array, // [1 + N0, D]
  hiddenSize: number,
  patchSize: number,
  height: number,
  width: number,
  antialias: boolean,
): Float64Array {
  const dim = hiddenSize;
  if (positionEmbeddings.length % dim !== 0) {
    throw new RangeError(
      `position_embeddings has ${positionEmbeddings.length} values, not a multiple of hidden_size ${dim}`,
    );
  }
  const rows = positionEmbeddings.length / dim;
  const side = positionGridSide(rows);
  const gridH = Math.floor(height / patchSize);
  const gridW = Math.floor(width / patchSize);
  if (gridH < 1 || gridW < 1) {
    throw new RangeError(`an input of ${height}x${width} pixels has no ${patchSize}x${patchSize} patch`);
  }
  // transformers: `num_patches == num_positions and height == width` (height, width in pixels).
  if (gridH * gridW === side * side && height === width) return Float64Array.from(positionEmbeddings);

  const grid = Float64Array.from(positionEmbeddings.subarray(dim));
  const patches = resampleGrid(grid, side, dim, gridH, gridW, antialias);
  const out = new Float64Array((1 + gridH * gridW) * dim);
  for (let c = 0; c < dim; c++) out[c] = positionEmbeddings[c];
  out.set(patches, dim);
  return out;
}

/**
 * Position embeddings for an input of height x width pixels, exactly as transformers'
 * interpolate_pos_encoding (see the top of this file); computed in float64, returned as float32
 * [(1 + h*w), D] with row 0 the cls position.
 */
export function positionEmbeddingsFor(
  positionEmbeddings: Float32Array | Float64Array, // [1 + N0, D]
  hiddenSize: number,
  patchSize: number,
  height: number,
  width: number,
  antialias: boolean,
): Float32Array {
  return Float32Array.from(
    positionEmbeddingsFor64(positionEmbeddings, hiddenSize, patchSize, height, width, antialias),
  );
}
