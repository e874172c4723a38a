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
  const dims = checkDims(
    'pixel_values',
    pixels,
    `[batch, ${channels}, height, width]`,
    (d) => d.length === 4,
  );
  const [batch, c, height, width] = dims;
  if (batch < 1) throw new InputError('pixel_values has an empty batch');
  if (c !== channels)
    throw new InputError(`pixel_values has ${c} channels; the model expects num_channels = ${channels}`);
  if (height < patch || width < patch) {
    throw new InputError(
      `pixel_values is ${height}x${width}; it must be at least the patch size (${patch}x${patch})`,
    );
  }
  // Non-finite values are kept: they propagate through the image they are in, as in PyTorch.
  const values = checkData('pixel_values', pixels, dims, false);
  const data = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
  return { data, batch, height, width };
}

export function checkMask(
  mask: ForwardOptions['bool_masked_pos'],
  batch: number,
  patches: number,
  hasMaskToken: boolean,
): Uint32Array {
  const out = new Uint32Array(batch * patches);
  if (mask === undefined || mask === null) return out;
  if (!hasMaskToken)
    throw new InputError(
      'bool_masked_pos was given but this checkpoint has no mask_token (use_mask_token is false)',
    );
  const dims = checkDims(
    'bool_masked_pos',
    mask,
    `[${batch}, ${patches}]`,
    (d) => d.length === 2 && d[0] === batch && d[1] === patches,
  );
  const data = checkData('bool_masked_pos', mask, dims, true);
  for (let i = 0; i < out.length; i++) {
    const v = data[i];
    // transformers takes a bool tensor; anything but 0/1 is a mistake, not a mask.
    if (v !== 0 && v !== 1 && v !== true && v !== false)
      throw new InputError(`bool_masked_pos[${i}] is ${String(v)}; it must be 0, 1, true or false`);
    out[i] = v ? 1 : 0;
  }
  return out;
}

/**
 * transformers' get_head_mask: [heads] applies to every layer, [layers, heads] one row per layer.
 * Returned as one row per layer, each row starting at a multiple of `rowStride` floats so that a
 * layer binds its row at an aligned offset.
 */
export function checkHeadMask(
  mask: TensorLike | undefined,
  layers: number,
  heads: number,
  rowStride: number,
): Float32Array {
  const out = new Float32Array(layers * rowStride);
  for (let l = 0; l < layers; l++) out.fill(1, l * rowStride, l * rowStride + heads);
  if (mask === undefined || mask === null) return out;
  const fits = (d: number[]) =>
    (d.length === 1 && d[0] === heads) || (d.length === 2 && d[0] === layers && d[1] === heads);
  const dims = checkDims('head_mask', mask, `[${heads}] or [${layers}, ${heads}]`, fits);
  const data = checkData('head_mask', mask, dims, true);
  const perLayer = dims.length === 1;
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) out[l * rowStride + h] = Number(data[perLayer ? h : l * heads + h]);
  }
  return out;
}

/** `t.dims` as a list of counts that `fits` accepts; else an InputError that says what was expected. */
function checkDims(name: string, t: unknown, expected: string, fits: (dims: number[]) => boolean): number[] {
  const dims = (t as { dims?: unknown } | null | undefined)?.dims;
  if (!Array.isArray(dims)) {
    const what = typeof t !== 'object' || t === null ? String(t) : `an object with dims ${String(dims)}`;
    throw new InputError(`${name} must be a tensor ({ data, dims }) with dims ${expected}, got ${what}`);
  }
  const shown =
    dims.length > 8 ? `${dims.slice(0, 8).join(', ')}, ... (${dims.length} dims)` : dims.join(', ');
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new InputError(`${name} dims [${shown}] must be non-negative integers`);
  if (!fits(dims)) throw new InputError(`${name} must have dims ${expected}, got [${shown}]`);
  return dims;
}

const BIGINT_ARRAYS = [BigInt64Array, BigUint64Array];

/** `t.data`, holding exactly the values `dims` need, each a number (or with `booleans`, a boolean). */
function checkData(
  name: string,
  t: { data: unknown },
  dims: number[],
  booleans: boolean,
): ArrayLike<unknown> {
  const data = t.data as ArrayLike<unknown> | null | undefined;
  const kinds = booleans ? 'numbers or booleans' : 'numbers';
  if (
    data === null ||
    typeof data !== 'object' ||
    typeof data.length !== 'number' ||
    BIGINT_ARRAYS.some((c) => data instanceof c)
  ) {
    throw new InputError(`${name}.data must be an array or typed array of ${kinds}`);
  }
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n)
    throw new InputError(`${name} holds ${data.length} values; dims [${dims.join(', ')}] need ${n}`);
  if (!ArrayBuffer.isView(data)) {
    for (let i = 0; i < n; i++) {
      const v = data[i];
      if (typeof v !== 'number' && !(booleans && typeof v === 'boolean')) {
        throw new InputError(
          `${name}[${i}] is ${typeof v === 'string' ? JSON.stringify(v.slice(0, 20)) : String(v)}, not one of the ${kinds} it must hold`,
        );
      }
    }
  }
  return data;
}
