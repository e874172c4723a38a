// Inputs as transformers takes them, checked before any GPU work.

/** A tensor as transformers.js users hold one: flat data and its dims. */
export interface TensorLike<T = ArrayLike<number>> {
  data: T;
  dims: readonly number[];
}

export class InputError extends Error {
  override name = 'InputError';
}

export interface ForwardOptions {
  /** [B, num_patches] booleans (or 0/1): patches replaced by embeddings.mask_token. */
  bool_masked_pos?: TensorLike<ArrayLike<number | boolean>>;
  /** [heads] or [layers, heads]: multiplies the attention probabilities (1 keeps a head, 0 drops it). */
  head_mask?: TensorLike;
  output_attentions?: boolean;
  output_hidden_states?: boolean;
}

export interface CheckedPixels {
  data: Float32Array;
  batch: number;
  height: number;
  width: number;
}

export function checkPixelValues(pixels: TensorLike, channels: number, patch: number): CheckedPixels {
  const dims = pixels?.dims;
  if (!dims || dims.length !== 4) {
    throw new InputError(`pixel_values must have dims [batch, ${channels}, height, width], got [${dims?.join(', ') ?? ''}]`);
  }
  const [batch, c, height, width] = dims;
  if (!dims.every((d) => Number.isInteger(d) && d >= 0)) throw new InputError(`pixel_values dims [${dims.join(', ')}] must be non-negative integers`);
  if (batch < 1) throw new InputError('pixel_values has an empty batch');
  if (c !== channels) throw new InputError(`pixel_values has ${c} channels; the model expects num_channels = ${channels}`);
  if (height < patch || width < patch) {
    throw new InputError(`pixel_values is ${height}x${width}; it must be at least the patch size (${patch}x${patch})`);
  }
  const n = batch * c * height * width;
  if (pixels.data.length !== n) throw new InputError(`pixel_values holds ${pixels.data.length} values; dims [${dims.join(', ')}] need ${n}`);
  const data = pixels.data instanceof Float32Array ? pixels.data : Float32Array.from(pixels.data);
  return { data, batch, height, width };
}

export function checkMask(mask: ForwardOptions['bool_masked_pos'], batch: number, patches: number, hasMaskToken: boolean): Uint32Array {
  const out = new Uint32Array(batch * patches);
  if (!mask) return out;
  if (!hasMaskToken) throw new InputError('bool_masked_pos was given but this checkpoint has no mask_token (use_mask_token is false)');
  const dims = mask.dims;
  if (dims.length !== 2 || dims[0] !== batch || dims[1] !== patches) {
    throw new InputError(`bool_masked_pos must have dims [${batch}, ${patches}], got [${dims.join(', ')}]`);
  }
  if (mask.data.length !== out.length) throw new InputError(`bool_masked_pos holds ${mask.data.length} values; expected ${out.length}`);
  for (let i = 0; i < out.length; i++) out[i] = mask.data[i] ? 1 : 0;
  return out;
}

/**
 * transformers' get_head_mask: [heads] applies to every layer, [layers, heads] one row per layer.
 * Returned as one row per layer, each row starting at a multiple of `rowStride` floats so that a
 * layer binds its row at an aligned offset.
 */
export function checkHeadMask(mask: TensorLike | undefined, layers: number, heads: number, rowStride: number): Float32Array {
  const out = new Float32Array(layers * rowStride);
  for (let l = 0; l < layers; l++) out.fill(1, l * rowStride, l * rowStride + heads);
  if (!mask) return out;
  const dims = mask.dims;
  const perLayer = dims.length === 1 && dims[0] === heads;
  if (!perLayer && !(dims.length === 2 && dims[0] === layers && dims[1] === heads)) {
    throw new InputError(`head_mask must have dims [${heads}] or [${layers}, ${heads}], got [${dims.join(', ')}]`);
  }
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) out[l * rowStride + h] = Number(mask.data[perLayer ? h : l * heads + h]);
  }
  return out;
}
