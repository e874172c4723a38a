// What `dtype: 'fp16'` changes. The encoder's projection weights (query/key/value, output.dense,
// fc1/fc2 or weights_in/weights_out) and the activations inside a block (qkv, the attention
// context, the MLP hidden layer) are stored in half precision; every kernel computes in f32, and the
// residual stream, layernorm and softmax statistics, the patch embedding, the classifier and every
// returned tensor stay f32. Halving the largest tensors halves the bytes the matmuls and attention
// read, which is what limits them on a GPU.
import type { StorageType } from '../gpu/shaders.js';

/**
 * 'fp32' everything f32. 'fp16' the half-precision path above (needs the adapter's `shader-f16`).
 * 'fp16-emulated' the same values on any adapter: f32 storage with every half-precision store
 * rounded to the nearest f16, so its outputs are those of 'fp16' (a test path, at f32's memory).
 */
export type ModelDtype = 'fp32' | 'fp16' | 'fp16-emulated';

/** The spellings accepted for `dtype`: ours, transformers.js's and transformers' ('auto' keeps f32). */
const SPELLINGS = {
  fp32: 'fp32',
  float32: 'fp32',
  auto: 'fp32',
  fp16: 'fp16',
  float16: 'fp16',
  'fp16-emulated': 'fp16-emulated',
} as const satisfies Record<string, ModelDtype>;

/** The `dtype` option of the loaders. */
export type DtypeOption = keyof typeof SPELLINGS;

export function parseDtype(dtype: string | undefined): ModelDtype {
  if (dtype === undefined) return 'fp32';
  const parsed = Object.hasOwn(SPELLINGS, dtype) ? SPELLINGS[dtype as DtypeOption] : undefined;
  if (!parsed)
    throw new Error(
      `dtype ${JSON.stringify(dtype)}: pass 'fp32' (or 'float32', 'auto'), 'fp16' (or 'float16') or 'fp16-emulated'`,
    );
  return parsed;
}

/** The storage type of the block weights and activations for `dtype` on `device`; fp16 needs shader-f16. */
export function blockStorage(dtype: ModelDtype, device: GPUDevice): StorageType {
  if (dtype === 'fp32') return 'f32';
  if (dtype === 'fp16-emulated') return 'f16-emulated';
  if (!device.features.has('shader-f16')) {
    throw new Error(
      "dtype 'fp16' needs the WebGPU feature 'shader-f16', which this device was not created with (its adapter lacks it, " +
        "or the device was requested without it). Use 'fp32', or 'fp16-emulated' to get fp16's numbers at fp32's speed and memory.",
    );
  }
  return 'f16';
}

export function dtypeOf(storage: StorageType): ModelDtype {
  return storage === 'f32' ? 'fp32' : storage === 'f16' ? 'fp16' : 'fp16-emulated';
}
