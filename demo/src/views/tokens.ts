// Where each token sits in a DINOv2 or DINOv3 sequence: [cls, register_1..R, patch_(0,0) ..
// patch_(h-1,w-1)], patches in row-major order over the image (transformers'
// Dinov2WithRegistersEmbeddings and DINOv3ViTEmbeddings); h = ⌊H/p⌋, w = ⌊W/p⌋ (p: 14 or 16).

export interface TokenLayout {
  /** Register tokens between cls and the patches (0 for plain DINOv2). */
  registers: number;
  gridH: number;
  gridW: number;
  /** 1 + registers + gridH * gridW */
  tokens: number;
  /** Index of the first patch token: 1 + registers. */
  firstPatch: number;
  patches: number;
}

export function tokenLayout(registers: number, gridH: number, gridW: number): TokenLayout {
  for (const [name, v] of [
    ['registers', registers],
    ['gridH', gridH],
    ['gridW', gridW],
  ] as const) {
    if (!Number.isInteger(v) || v < (name === 'registers' ? 0 : 1))
      throw new Error(
        `tokenLayout: ${name} must be a ${name === 'registers' ? 'non-negative' : 'positive'} integer, got ${v}`,
      );
  }
  const patches = gridH * gridW;
  return { registers, gridH, gridW, patches, firstPatch: 1 + registers, tokens: 1 + registers + patches };
}

/** The layout of a forward on a height x width image with this patch size. */
export function layoutFor(
  config: { num_register_tokens: number; patch_size: number },
  height: number,
  width: number,
): TokenLayout {
  return tokenLayout(
    config.num_register_tokens,
    Math.floor(height / config.patch_size),
    Math.floor(width / config.patch_size),
  );
}

/** Throws unless `dims` is [B, T, D] with T = layout.tokens; returns D. */
export function checkSequence(dims: readonly number[], layout: TokenLayout, what = 'hidden state'): number {
  if (dims.length !== 3 || dims[1] !== layout.tokens) {
    throw new Error(
      `${what}: dims [${dims.join(', ')}] are not [B, ${layout.tokens}, D] (1 cls + ${layout.registers} registers + ${layout.gridH}x${layout.gridW} patches)`,
    );
  }
  return dims[2];
}

/** The patch tokens of one image as float64 rows [patches, D]. */
export function patchFeatures(
  hidden: Float32Array,
  dims: readonly number[],
  layout: TokenLayout,
  batch = 0,
): Float64Array {
  const d = checkSequence(dims, layout);
  if (batch < 0 || batch >= dims[0]) throw new Error(`batch ${batch} is outside [0, ${dims[0]})`);
  const start = (batch * layout.tokens + layout.firstPatch) * d;
  return Float64Array.from(hidden.subarray(start, start + layout.patches * d));
}
