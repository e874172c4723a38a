// Writes a DINOv3 ViT checkpoint folder with seeded random weights, in the Hugging Face layout of the
// facebook/dinov3-*-pretrain-lvd1689m checkpoints:
//   config.json               every DINOv3ViTConfig key, sorted, as transformers' to_json_string writes it
//   model.safetensors         DINOv3ViTModel's key names and shapes, F32
//   preprocessor_config.json  the published one (DINOv3ViTImageProcessorFast: 224 x 224, no crop)
//
// The demo's bundled model, demo/models/tiny-dinov3 (the defaults; about 0.8 MB):
//   npx tsx demo/scripts/make_tiny_dinov3.ts
// A full-size random ViT-S/16 (hidden 384, 12 layers, 6 heads, intermediate 1536; about 86 MB):
//   npx tsx demo/scripts/make_tiny_dinov3.ts --out /tmp/vits16 --hidden 384 --layers 12 --heads 6 --intermediate 1536
// Options: --out DIR --hidden D --layers L --heads H --intermediate I --registers R --patch P
//   --theta T --gated (SwiGLU MLP with silu, as S+, H+ and 7B) --seed S
//
// The weights are drawn as scripts/make_random_checkpoint.ts draws them, so that every parameter
// matters: matrices N(0, 1/fan_in) (q and k 1.5x that: attention is peaky), biases N(0, 0.1²),
// LayerNorm weights 1 + N(0, 0.2²), layer scales 0.5 + N(0, 0.3²), cls, mask and register tokens
// N(0, 1). Each tensor has its own stream (seed, key): the same options give the same bytes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type WritableTensor, writeSafetensors } from '../../src/io/safetensors.js';
import { Random } from '../../test/reference/random.js';

export interface TinyDinov3Options {
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  registers: number;
  patch: number;
  theta: number;
  gated: boolean;
  seed: number;
}

/** The bundled model: hidden 64, 3 layers of 4 heads (head_dim 16), 4 registers, patch 16. */
export const TINY_DINOV3: TinyDinov3Options = {
  hidden: 64,
  layers: 3,
  heads: 4,
  intermediate: 256,
  registers: 4,
  patch: 16,
  theta: 100,
  gated: false,
  seed: 1,
};

/** config.json: DINOv3ViTConfig's keys, sorted (json.dumps(..., indent=2, sort_keys=True)). */
export function dinov3Config(o: TinyDinov3Options): Record<string, unknown> {
  const config: Record<string, unknown> = {
    architectures: ['DINOv3ViTModel'],
    attention_dropout: 0.0,
    drop_path_rate: 0.0,
    hidden_act: o.gated ? 'silu' : 'gelu',
    hidden_size: o.hidden,
    image_size: 224,
    initializer_range: 0.02,
    intermediate_size: o.intermediate,
    key_bias: false,
    layer_norm_eps: 1e-5,
    layerscale_value: 1.0,
    mlp_bias: true,
    model_type: 'dinov3_vit',
    num_attention_heads: o.heads,
    num_channels: 3,
    num_hidden_layers: o.layers,
    num_register_tokens: o.registers,
    patch_size: o.patch,
    pos_embed_jitter: null,
    pos_embed_rescale: 2.0,
    pos_embed_shift: null,
    proj_bias: true,
    query_bias: true,
    rope_theta: o.theta,
    torch_dtype: 'float32',
    transformers_version: '4.56.0',
    use_gated_mlp: o.gated,
    value_bias: true,
  };
  return Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** preprocessor_config.json of the facebook/dinov3-*-pretrain-lvd1689m checkpoints. */
export const DINOV3_PREPROCESSOR = {
  crop_size: null,
  data_format: 'channels_first',
  default_to_square: true,
  do_center_crop: null,
  do_convert_rgb: null,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.485, 0.456, 0.406],
  image_processor_type: 'DINOv3ViTImageProcessorFast',
  image_std: [0.229, 0.224, 0.225],
  resample: 2,
  rescale_factor: 0.00392156862745098,
  size: { height: 224, width: 224 },
};

/** Every tensor as [key, shape, mean, std], in transformers' module order (published biases: q, v, o, MLP). */
export function dinov3Tensors(o: TinyDinov3Options): [string, number[], number, number][] {
  const D = o.hidden;
  const I = o.intermediate;
  const t: [string, number[], number, number][] = [];
  const add = (key: string, shape: number[], mean: number, std: number) => t.push([key, shape, mean, std]);
  const norm = (key: string) => {
    add(`${key}.weight`, [D], 1, 0.2);
    add(`${key}.bias`, [D], 0, 0.1);
  };
  const linear = (key: string, outF: number, inF: number, bias: boolean, gain = 1) => {
    add(`${key}.weight`, [outF, inF], 0, gain / Math.sqrt(inF));
    if (bias) add(`${key}.bias`, [outF], 0, 0.1);
  };
  add('embeddings.cls_token', [1, 1, D], 0, 1);
  add('embeddings.mask_token', [1, 1, D], 0, 1);
  add('embeddings.register_tokens', [1, o.registers, D], 0, 1);
  add(
    'embeddings.patch_embeddings.weight',
    [D, 3, o.patch, o.patch],
    0,
    1 / Math.sqrt(3 * o.patch * o.patch),
  );
  add('embeddings.patch_embeddings.bias', [D], 0, 0.1);
  norm('norm');
  for (let l = 0; l < o.layers; l++) {
    const k = `layer.${l}.`;
    norm(`${k}norm1`);
    norm(`${k}norm2`);
    linear(`${k}attention.q_proj`, D, D, true, 1.5);
    linear(`${k}attention.k_proj`, D, D, false, 1.5);
    linear(`${k}attention.v_proj`, D, D, true);
    linear(`${k}attention.o_proj`, D, D, true);
    if (o.gated) linear(`${k}mlp.gate_proj`, I, D, true);
    linear(`${k}mlp.up_proj`, I, D, true);
    linear(`${k}mlp.down_proj`, D, I, true);
    add(`${k}layer_scale1.lambda1`, [D], 0.5, 0.3);
    add(`${k}layer_scale2.lambda1`, [D], 0.5, 0.3);
  }
  return t;
}

function check(o: TinyDinov3Options): void {
  for (const k of ['hidden', 'layers', 'heads', 'intermediate', 'patch'] as const)
    if (!(Number.isInteger(o[k]) && o[k] > 0))
      throw new Error(`--${k} must be a positive integer, got ${o[k]}`);
  if (!(Number.isInteger(o.registers) && o.registers >= 0))
    throw new Error(`--registers must be a non-negative integer, got ${o.registers}`);
  if (o.hidden % o.heads !== 0 || (o.hidden / o.heads) % 4 !== 0)
    throw new Error(
      `--hidden ${o.hidden} / --heads ${o.heads} must be a head_dim that is a multiple of 4 (RoPE)`,
    );
  if (!(o.theta > 0)) throw new Error(`--theta must be positive, got ${o.theta}`);
}

/** Writes the three files into `out`; returns the safetensors size in bytes. */
export function writeTinyDinov3(out: string, o: TinyDinov3Options = TINY_DINOV3): number {
  check(o);
  const tensors: Record<string, WritableTensor> = {};
  for (const [key, shape, mean, std] of dinov3Tensors(o)) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors[key] = { dtype: 'F32', shape, data: Random.stream(o.seed, key).normals(n, mean, std) };
  }
  const bytes = writeSafetensors(tensors, { format: 'pt' });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'model.safetensors'), bytes);
  writeFileSync(join(out, 'config.json'), `${JSON.stringify(dinov3Config(o), null, 2)}\n`);
  writeFileSync(join(out, 'preprocessor_config.json'), `${JSON.stringify(DINOV3_PREPROCESSOR, null, 2)}\n`);
  return bytes.length;
}

function parse(argv: string[]): { out: string; options: TinyDinov3Options } {
  const o = { ...TINY_DINOV3 };
  let out = join(import.meta.dirname, '../models/tiny-dinov3');
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--gated') {
      o.gated = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--out') out = resolve(value);
    else {
      const key = flag.replace(/^--/, '') as keyof TinyDinov3Options;
      if (!(key in o) || key === 'gated') throw new Error(`unknown option ${flag}`);
      (o as Record<string, number | boolean>)[key] = Number(value);
    }
  }
  return { out, options: o };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { out, options } = parse(process.argv.slice(2));
  const bytes = writeTinyDinov3(out, options);
  console.log(`${out}: model.safetensors ${bytes} bytes, config.json, preprocessor_config.json`);
}
