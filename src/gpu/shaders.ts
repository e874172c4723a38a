// Every WGSL kernel family, in one manifest. WGSL has no include: shape.wgsl (the per-call sizes
// uniform) is appended to the modules that read it, activations.wgsl to linear.wgsl.
//
// Storage types. A kernel that may keep tensors in half precision names their element type by an
// alias (linear.wgsl: X the input, Y the output, W the weights; attention.wgsl: A for q, k, v and
// the context) and converts explicitly: `f32(x[i])`, `vec4<f32>(wT[i])` on load, `to_Y(v)`,
// `to_Y4(v)` on store. Arithmetic is f32 throughout. A header prepended per variant defines them:
//   'f32'          alias Y = f32, to_Y the identity;
//   'f16'          alias Y = f16 (needs `shader-f16`), to_Y the conversion (rounds to nearest);
//   'f16-emulated' alias Y = f32 and to_Y rounds to the nearest f16 through pack2x16float: the
//                  values and arithmetic of 'f16' on a device without shader-f16 (SwiftShader),
//                  at f32's size.
import activations from '../../shaders/activations.wgsl?raw';
import attention from '../../shaders/attention.wgsl?raw';
import embeddings from '../../shaders/embeddings.wgsl?raw';
import heads from '../../shaders/heads.wgsl?raw';
import layernorm from '../../shaders/layernorm.wgsl?raw';
import linear from '../../shaders/linear.wgsl?raw';
import pack from '../../shaders/pack.wgsl?raw';
import shape from '../../shaders/shape.wgsl?raw';

/** shaders/shape.wgsl: the `Shape` struct of the per-call sizes (src/gpu/recorder.ts writes it by field name). */
export const SHAPE_WGSL = shape;

export const SHADERS = {
  attention: `${attention}\n${shape}`,
  embeddings: `${embeddings}\n${shape}`,
  heads: `${heads}\n${shape}`,
  layernorm: `${layernorm}\n${shape}`,
  linear: `${linear}\n${activations}\n${shape}`,
  pack,
} as const;

export type ShaderName = keyof typeof SHADERS;

export type StorageType = 'f32' | 'f16' | 'f16-emulated';

/** The storage aliases each shader declares through its header (all 'f32' unless a dispatch says otherwise). */
export const STORAGE_ALIASES: Partial<Record<ShaderName, readonly string[]>> = {
  linear: ['X', 'Y', 'W'],
  attention: ['A'],
};

export type StorageTypes = Record<string, StorageType>;

/** Bytes of one element stored as `type`. */
export function storageBytes(type: StorageType): number {
  return type === 'f16' ? 2 : 4;
}

function aliasHeader(name: string, type: StorageType): string {
  const scalar = type === 'f16' ? 'f16' : 'f32';
  const lines = [`alias ${name} = ${scalar};`, `alias ${name}4 = vec4<${scalar}>;`];
  if (type === 'f16-emulated') {
    lines.push(
      `fn to_${name}(v: f32) -> f32 { return unpack2x16float(pack2x16float(vec2<f32>(v, 0.0))).x; }`,
      `fn to_${name}4(v: vec4<f32>) -> vec4<f32> { return vec4<f32>(unpack2x16float(pack2x16float(v.xy)), unpack2x16float(pack2x16float(v.zw))); }`,
    );
  } else {
    lines.push(
      `fn to_${name}(v: f32) -> ${name} { return ${name}(v); }`,
      `fn to_${name}4(v: vec4<f32>) -> ${name}4 { return ${name}4(v); }`,
    );
  }
  return lines.join('\n');
}

/** The storage types of `shader` with `types` over the all-f32 default; throws on an alias the shader lacks. */
function resolveTypes(shader: ShaderName, types: Partial<StorageTypes> = {}): StorageTypes {
  const names = STORAGE_ALIASES[shader] ?? [];
  for (const n of Object.keys(types))
    if (!names.includes(n)) throw new Error(`${shader}.wgsl has no storage alias '${n}'`);
  return Object.fromEntries(names.map((n) => [n, types[n] ?? 'f32']));
}

/** A shader's module name and source for one choice of storage types. */
export function shaderVariant(
  shader: ShaderName,
  types: Partial<StorageTypes> = {},
): { name: string; code: string } {
  const resolved = resolveTypes(shader, types);
  const names = Object.keys(resolved);
  if (!names.length) return { name: shader, code: SHADERS[shader] };
  const enable = names.some((n) => resolved[n] === 'f16') ? 'enable f16;\n' : '';
  const header = names.map((n) => aliasHeader(n, resolved[n])).join('\n');
  const tag = names.map((n) => `${n}=${resolved[n]}`).join(',');
  return { name: `${shader}[${tag}]`, code: `${enable}${header}\n${SHADERS[shader]}` };
}
