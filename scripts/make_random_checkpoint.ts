// Writes a checkpoint folder in the Hugging Face layout with seeded random weights:
//   config.json        the fields transformers writes for Dinov2WithRegisters / Dinov2 / DINOv3ViT
//                      (sorted, 2-space indent)
//   model.safetensors  transformers' key names, F32 (or F16 / BF16)
//
//   npx tsx scripts/make_random_checkpoint.ts --out DIR --hidden 384 --layers 12 --heads 6 --patch 14 \
//     --image-size 518 --registers 4 [--swiglu] [--act gelu] [--eps 1e-6] [--mlp-ratio 4] [--no-qkv-bias] \
//     [--channels 3] [--classifier N] [--plain] [--no-mask-token] [--seed S] [--dtype F32|F16|BF16] \
//     [--out-indices i,j] [--no-apply-layernorm] [--no-reshape-hidden-states]
//
// DINOv3 ViT (DINOv3ViTModel, model_type dinov3_vit; defaults patch 16, image 224, 4 registers,
// eps 1e-5, rope_theta 100, biases as published: q, v, o and MLP, no k):
//   npx tsx scripts/make_random_checkpoint.ts --dinov3 --out DIR --hidden 384 --layers 12 --heads 6 \
//     [--intermediate N] [--gated] [--act gelu] [--rope-theta 100] [--eps 1e-5] [--registers 4] [--patch 16] \
//     [--query-bias|--no-query-bias] [--key-bias|--no-key-bias] [--value-bias|--no-value-bias] \
//     [--proj-bias|--no-proj-bias] [--mlp-bias|--no-mlp-bias] [--no-qkv-bias] \
//     [--out-indices i,j] [--no-apply-layernorm] [--no-reshape-hidden-states] [--dtype F32|F16|BF16] [--seed S]
//
// The weights are drawn like the golden fixtures' (test/fixtures/golden/PROVENANCE.md,
// test/fixtures/golden-dinov3/PROVENANCE.md): every matrix N(0, 1/fan_in) so activations stay O(1),
// query and key 1.5x that so attention is peaky, biases N(0, 0.1^2), LayerNorm weights
// 1 + N(0, 0.2^2), layer scales 0.5 + N(0, 0.3^2), and cls, mask, register and position tokens
// N(0, 1). Each tensor has its own stream (seed, key), so adding a classifier or changing the dtype
// leaves the other tensors as they were.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { f32ToBf16, f32ToF16 } from '../src/io/dtype.js';
import { writeSafetensors, type WritableTensor } from '../src/io/safetensors.js';
import { Random } from '../test/reference/random.js';
import { integerList, parseArgs, required, UsageError } from '../src/cli/args.js';

export interface CheckpointOptions {
  hidden: number;
  layers: number;
  heads: number;
  patch: number;
  imageSize: number;
  /** Register tokens; must be 0 for plain dinov2. */
  registers: number;
  swiglu: boolean;
  act: string;
  eps: number;
  mlpRatio: number;
  qkvBias: boolean;
  channels: number;
  /** Labels of an image-classification head; 0 for the bare model. */
  classifier: number;
  plain: boolean;
  /** Plain dinov2 only: config.use_mask_token. */
  maskToken: boolean;
  seed: number;
  dtype: 'F32' | 'F16' | 'BF16';
  /** DINOv3 ViT (model_type dinov3_vit) instead of DINOv2; `swiglu` then means use_gated_mlp. */
  dinov3: boolean;
  /** DINOv3: intermediate_size; 0 takes trunc(hidden * mlpRatio). */
  intermediate: number;
  /** DINOv3: rope_theta. */
  ropeTheta: number;
  /** DINOv3: query_bias, key_bias, value_bias, proj_bias, mlp_bias (DINOv2 has qkvBias only). */
  queryBias: boolean;
  keyBias: boolean;
  valueBias: boolean;
  projBias: boolean;
  mlpBias: boolean;
  /** Backbone fields of config.json: apply_layernorm, reshape_hidden_states, out_indices (null: the last stage). */
  applyLayernorm: boolean;
  reshapeHiddenStates: boolean;
  outIndices: number[] | null;
}

export const DEFAULT_OPTIONS: CheckpointOptions = {
  hidden: 384,
  layers: 12,
  heads: 6,
  patch: 14,
  imageSize: 518,
  registers: 4,
  swiglu: false,
  act: 'gelu',
  eps: 1e-6,
  mlpRatio: 4,
  qkvBias: true,
  channels: 3,
  classifier: 0,
  plain: false,
  maskToken: true,
  seed: 0,
  dtype: 'F32',
  dinov3: false,
  intermediate: 0,
  ropeTheta: 100,
  queryBias: true,
  keyBias: false,
  valueBias: true,
  projBias: true,
  mlpBias: true,
  applyLayernorm: true,
  reshapeHiddenStates: true,
  outIndices: null,
};

/** What --dinov3 changes in the defaults: DINOv3ViTConfig's (eps 1e-5, patch 16, image 224) with the published 4 registers. */
export const DINOV3_DEFAULTS: Partial<CheckpointOptions> = {
  dinov3: true,
  patch: 16,
  imageSize: 224,
  registers: 4,
  eps: 1e-5,
};

const TORCH_DTYPE = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/** Label names for a classification head: a few real-looking ones (one with a comma), then numbered. */
export function labelNames(n: number): string[] {
  const named = ['tabby, tabby cat', 'goldfish', 'tench', 'daisy', 'volcano', 'crane', 'bubble'];
  return Array.from({ length: n }, (_, i) => named[i] ?? `label ${i}`);
}

function sortedKeys(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function stageNamesFor(o: CheckpointOptions): string[] {
  return ['stem', ...Array.from({ length: o.layers }, (_, i) => `stage${i + 1}`)];
}

/** config.json as transformers writes it (json.dumps(..., indent=2, sort_keys=True)). */
export function makeConfig(o: CheckpointOptions): Record<string, unknown> {
  if (o.dinov3) return makeDinov3Config(o);
  const stageNames = stageNamesFor(o);
  const outIndices = o.outIndices ?? [o.layers];
  const model = o.plain ? 'Dinov2' : 'Dinov2WithRegisters';
  const config: Record<string, unknown> = {
    apply_layernorm: o.applyLayernorm,
    architectures: [o.classifier > 0 ? `${model}ForImageClassification` : `${model}Model`],
    attention_probs_dropout_prob: 0.0,
    drop_path_rate: 0.0,
    hidden_act: o.act,
    hidden_dropout_prob: 0.0,
    hidden_size: o.hidden,
    image_size: o.imageSize,
    initializer_range: 0.02,
    layer_norm_eps: o.eps,
    layerscale_value: 1.0,
    mlp_ratio: o.mlpRatio,
    model_type: o.plain ? 'dinov2' : 'dinov2_with_registers',
    num_attention_heads: o.heads,
    num_channels: o.channels,
    num_hidden_layers: o.layers,
    out_features: outIndices.map((i) => stageNames[i]),
    out_indices: outIndices,
    patch_size: o.patch,
    qkv_bias: o.qkvBias,
    reshape_hidden_states: o.reshapeHiddenStates,
    stage_names: stageNames,
    torch_dtype: TORCH_DTYPE[o.dtype],
    transformers_version: '4.48.0',
    use_swiglu_ffn: o.swiglu,
  };
  if (o.plain) config.use_mask_token = o.maskToken;
  else config.num_register_tokens = o.registers;
  if (o.classifier > 0) {
    const names = labelNames(o.classifier);
    config.id2label = Object.fromEntries(names.map((n, i) => [String(i), n]));
    config.label2id = Object.fromEntries(names.map((n, i) => [n, i]));
  }
  return sortedKeys(config);
}

/**
 * DINOv3ViTConfig.to_json_string() of transformers v5 (the release with DINOv3ViTBackbone, whose
 * BackboneConfigMixin adds out_features, out_indices and stage_names, and which writes "dtype").
 */
function makeDinov3Config(o: CheckpointOptions): Record<string, unknown> {
  const stageNames = stageNamesFor(o);
  const outIndices = o.outIndices ?? [o.layers];
  return sortedKeys({
    apply_layernorm: o.applyLayernorm,
    architectures: ['DINOv3ViTModel'],
    attention_dropout: 0.0,
    drop_path_rate: 0.0,
    dtype: TORCH_DTYPE[o.dtype],
    hidden_act: o.act,
    hidden_size: o.hidden,
    image_size: o.imageSize,
    initializer_range: 0.02,
    intermediate_size: mlpHidden(o),
    key_bias: o.keyBias,
    layer_norm_eps: o.eps,
    layerscale_value: 1.0,
    mlp_bias: o.mlpBias,
    model_type: 'dinov3_vit',
    num_attention_heads: o.heads,
    num_channels: o.channels,
    num_hidden_layers: o.layers,
    num_register_tokens: o.registers,
    out_features: outIndices.map((i) => stageNames[i]),
    out_indices: outIndices,
    patch_size: o.patch,
    pos_embed_jitter: null,
    pos_embed_rescale: 2.0,
    pos_embed_shift: null,
    proj_bias: o.projBias,
    query_bias: o.queryBias,
    reshape_hidden_states: o.reshapeHiddenStates,
    rope_theta: o.ropeTheta,
    stage_names: stageNames,
    transformers_version: '5.0.0',
    use_gated_mlp: o.swiglu,
    value_bias: o.valueBias,
  });
}

function mlpHidden(o: CheckpointOptions): number {
  const h = Math.trunc(o.hidden * o.mlpRatio);
  if (o.dinov3) return o.intermediate > 0 ? o.intermediate : h;
  return o.swiglu ? Math.floor((Math.trunc((h * 2) / 3) + 7) / 8) * 8 : h;
}

/** DINOv3ViTModel's tensors (test/fixtures/golden-dinov3/PROVENANCE.md: names and shapes), as [key, shape, mean, std]. */
function dinov3Layout(o: CheckpointOptions): [string, number[], number, number][] {
  const D = o.hidden;
  const I = mlpHidden(o);
  const w = (fanIn: number, gain = 1) => gain / Math.sqrt(fanIn);
  const t: [string, number[], number, number][] = [];
  const add = (key: string, shape: number[], mean: number, std: number) => t.push([key, shape, mean, std]);
  const norm = (key: string) => {
    add(`${key}.weight`, [D], 1, 0.2);
    add(`${key}.bias`, [D], 0, 0.1);
  };
  const linear = (key: string, outF: number, inF: number, bias: boolean, gain = 1) => {
    add(`${key}.weight`, [outF, inF], 0, w(inF, gain));
    if (bias) add(`${key}.bias`, [outF], 0, 0.1);
  };
  add('embeddings.cls_token', [1, 1, D], 0, 1);
  add('embeddings.mask_token', [1, 1, D], 0, 1);
  // Present even with no registers: [1, 0, D].
  add('embeddings.register_tokens', [1, o.registers, D], 0, 1);
  add(
    'embeddings.patch_embeddings.weight',
    [D, o.channels, o.patch, o.patch],
    0,
    w(o.channels * o.patch * o.patch),
  );
  add('embeddings.patch_embeddings.bias', [D], 0, 0.1);
  for (let l = 0; l < o.layers; l++) {
    const k = `layer.${l}.`;
    norm(`${k}norm1`);
    linear(`${k}attention.q_proj`, D, D, o.queryBias, 1.5);
    linear(`${k}attention.k_proj`, D, D, o.keyBias, 1.5);
    linear(`${k}attention.v_proj`, D, D, o.valueBias);
    linear(`${k}attention.o_proj`, D, D, o.projBias);
    add(`${k}layer_scale1.lambda1`, [D], 0.5, 0.3);
    norm(`${k}norm2`);
    if (o.swiglu) linear(`${k}mlp.gate_proj`, I, D, o.mlpBias);
    linear(`${k}mlp.up_proj`, I, D, o.mlpBias);
    linear(`${k}mlp.down_proj`, D, I, o.mlpBias);
    add(`${k}layer_scale2.lambda1`, [D], 0.5, 0.3);
  }
  norm('norm');
  return t;
}

/** Every tensor of the checkpoint as [key, shape, mean, std], in transformers' module order. */
export function checkpointLayout(o: CheckpointOptions): [string, number[], number, number][] {
  if (o.dinov3) return dinov3Layout(o);
  const D = o.hidden;
  const F = mlpHidden(o);
  const grid = Math.floor(o.imageSize / o.patch);
  const base = o.classifier > 0 ? (o.plain ? 'dinov2.' : 'dinov2_with_registers.') : '';
  const w = (fanIn: number, gain = 1) => gain / Math.sqrt(fanIn);
  const t: [string, number[], number, number][] = [];
  const add = (key: string, shape: number[], mean: number, std: number) =>
    t.push([base + key, shape, mean, std]);
  const norm = (key: string) => {
    add(`${key}.weight`, [D], 1, 0.2);
    add(`${key}.bias`, [D], 0, 0.1);
  };
  add('embeddings.cls_token', [1, 1, D], 0, 1);
  if (!o.plain || o.maskToken) add('embeddings.mask_token', [1, D], 0, 1);
  if (!o.plain) add('embeddings.register_tokens', [1, o.registers, D], 0, 1);
  add('embeddings.position_embeddings', [1, grid * grid + 1, D], 0, 1);
  add(
    'embeddings.patch_embeddings.projection.weight',
    [D, o.channels, o.patch, o.patch],
    0,
    w(o.channels * o.patch * o.patch),
  );
  add('embeddings.patch_embeddings.projection.bias', [D], 0, 0.1);
  for (let l = 0; l < o.layers; l++) {
    const k = `encoder.layer.${l}.`;
    norm(`${k}norm1`);
    for (const [name, gain] of [
      ['query', 1.5],
      ['key', 1.5],
      ['value', 1],
    ] as const) {
      add(`${k}attention.attention.${name}.weight`, [D, D], 0, w(D, gain));
      if (o.qkvBias) add(`${k}attention.attention.${name}.bias`, [D], 0, 0.1);
    }
    add(`${k}attention.output.dense.weight`, [D, D], 0, w(D));
    add(`${k}attention.output.dense.bias`, [D], 0, 0.1);
    add(`${k}layer_scale1.lambda1`, [D], 0.5, 0.3);
    norm(`${k}norm2`);
    if (o.swiglu) {
      add(`${k}mlp.weights_in.weight`, [2 * F, D], 0, w(D));
      add(`${k}mlp.weights_in.bias`, [2 * F], 0, 0.1);
      add(`${k}mlp.weights_out.weight`, [D, F], 0, w(F));
      add(`${k}mlp.weights_out.bias`, [D], 0, 0.1);
    } else {
      add(`${k}mlp.fc1.weight`, [F, D], 0, w(D));
      add(`${k}mlp.fc1.bias`, [F], 0, 0.1);
      add(`${k}mlp.fc2.weight`, [D, F], 0, w(F));
      add(`${k}mlp.fc2.bias`, [D], 0, 0.1);
    }
    add(`${k}layer_scale2.lambda1`, [D], 0.5, 0.3);
  }
  norm('layernorm');
  if (o.classifier > 0) {
    t.push(['classifier.weight', [o.classifier, 2 * D], 0, w(2 * D)]);
    t.push(['classifier.bias', [o.classifier], 0, 0.1]);
  }
  return t;
}

function checkOptions(o: CheckpointOptions): void {
  const positive = ['hidden', 'layers', 'heads', 'patch', 'imageSize', 'channels'] as const;
  for (const k of positive)
    if (!(Number.isInteger(o[k]) && o[k] > 0))
      throw new Error(`--${k} must be a positive integer, got ${o[k]}`);
  if (o.hidden % o.heads !== 0)
    throw new Error(`--hidden ${o.hidden} is not divisible by --heads ${o.heads}`);
  if (o.patch > o.imageSize) throw new Error(`--patch ${o.patch} exceeds --image-size ${o.imageSize}`);
  if (!(Number.isInteger(o.registers) && o.registers >= 0))
    throw new Error(`--registers must be a non-negative integer`);
  if (o.plain && o.registers !== 0)
    throw new Error('--plain dinov2 has no register tokens: pass --registers 0');
  if (!(Number.isInteger(o.classifier) && o.classifier >= 0))
    throw new Error('--classifier must be a non-negative integer');
  if (!['F32', 'F16', 'BF16'].includes(o.dtype))
    throw new Error(`--dtype must be F32, F16 or BF16, got ${o.dtype}`);
  if (!(o.eps > 0)) throw new Error('--eps must be positive');
  if (!(o.mlpRatio > 0) || mlpHidden(o) < 1) throw new Error('--mlp-ratio leaves no hidden units');
  if (o.outIndices !== null) {
    if (o.outIndices.length === 0) throw new Error('--out-indices needs at least one stage');
    o.outIndices.forEach((v, i) => {
      if (!(Number.isInteger(v) && v >= 0 && v <= o.layers))
        throw new Error(`--out-indices ${v} is not a stage 0..${o.layers}`);
      if (i > 0 && v <= o.outIndices![i - 1])
        throw new Error('--out-indices must be increasing (transformers keeps the stage order)');
    });
  }
  if (o.dinov3) {
    if (o.plain) throw new Error('--plain and --dinov3 cannot be combined');
    if (o.classifier > 0) throw new Error('--classifier: DINOv3 has no image-classification head here');
    if ((o.hidden / o.heads) % 4 !== 0)
      throw new Error(
        `DINOv3's 2D RoPE needs a head size that is a multiple of 4, got ${o.hidden / o.heads}`,
      );
    if (!(Number.isInteger(o.intermediate) && o.intermediate >= 0))
      throw new Error('--intermediate must be a non-negative integer (0: hidden * mlp-ratio)');
    if (!(o.ropeTheta > 0 && Number.isFinite(o.ropeTheta))) throw new Error('--rope-theta must be positive');
  }
}

/** The tensors, generated one at a time (a full ViT-S/14 is about 88 MB in F32, held once). */
export function makeCheckpoint(o: CheckpointOptions): {
  config: Record<string, unknown>;
  tensors: Record<string, WritableTensor>;
} {
  checkOptions(o);
  const tensors: Record<string, WritableTensor> = {};
  for (const [key, shape, mean, std] of checkpointLayout(o)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Random.stream(o.seed, key).normals(n, mean, std);
    const data = o.dtype === 'F16' ? f32ToF16(values) : o.dtype === 'BF16' ? f32ToBf16(values) : values;
    tensors[key] = { dtype: o.dtype, shape, data };
  }
  return { config: makeConfig(o), tensors };
}

export function writeCheckpoint(dir: string, o: CheckpointOptions): { bytes: number; tensors: number } {
  const { config, tensors } = makeCheckpoint(o);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const file = writeSafetensors(tensors, { format: 'pt' });
  writeFileSync(join(dir, 'model.safetensors'), file);
  return { bytes: file.byteLength, tensors: Object.keys(tensors).length };
}

function parseOptions(argv: string[]): { out: string; options: CheckpointOptions } {
  const numeric: Record<string, keyof CheckpointOptions> = {
    hidden: 'hidden',
    layers: 'layers',
    heads: 'heads',
    patch: 'patch',
    'image-size': 'imageSize',
    registers: 'registers',
    eps: 'eps',
    'mlp-ratio': 'mlpRatio',
    channels: 'channels',
    classifier: 'classifier',
    seed: 'seed',
    intermediate: 'intermediate',
    'rope-theta': 'ropeTheta',
  };
  const biases: Record<string, keyof CheckpointOptions> = {
    'query-bias': 'queryBias',
    'key-bias': 'keyBias',
    'value-bias': 'valueBias',
    'proj-bias': 'projBias',
    'mlp-bias': 'mlpBias',
  };
  const args = parseArgs(
    argv,
    [...Object.keys(numeric), 'out', 'act', 'dtype', 'out-indices'],
    [
      'swiglu',
      'gated',
      'plain',
      'dinov3',
      'no-qkv-bias',
      'no-mask-token',
      'no-apply-layernorm',
      'no-reshape-hidden-states',
      ...Object.keys(biases).flatMap((b) => [b, `no-${b}`]),
    ],
  );
  if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
  const o: CheckpointOptions = { ...DEFAULT_OPTIONS };
  if (args.flags.has('plain')) {
    o.plain = true;
    o.registers = 0; // unless --registers says otherwise, below
  }
  if (args.flags.has('dinov3')) Object.assign(o, DINOV3_DEFAULTS);
  const dinov3Only = ['gated', ...Object.keys(biases).flatMap((b) => [b, `no-${b}`])].filter((f) =>
    args.flags.has(f),
  );
  for (const v of ['intermediate', 'rope-theta']) if (args.values.has(v)) dinov3Only.push(v);
  if (!o.dinov3 && dinov3Only.length > 0) throw new UsageError(`--${dinov3Only[0]} needs --dinov3`);
  for (const [name, key] of Object.entries(numeric)) {
    const text = args.values.get(name);
    if (text === undefined) continue;
    const v = Number(text);
    if (!Number.isFinite(v)) throw new UsageError(`--${name} needs a number`);
    (o as unknown as Record<string, number>)[key] = v;
  }
  o.act = args.values.get('act') ?? o.act;
  const dtype = args.values.get('dtype');
  if (dtype !== undefined) o.dtype = dtype.toUpperCase() as CheckpointOptions['dtype'];
  if (args.flags.has('swiglu') || args.flags.has('gated')) o.swiglu = true;
  if (args.flags.has('no-qkv-bias')) {
    o.qkvBias = false;
    o.queryBias = false;
    o.keyBias = false;
    o.valueBias = false;
  }
  for (const [name, key] of Object.entries(biases)) {
    if (args.flags.has(name) && args.flags.has(`no-${name}`))
      throw new UsageError(`--${name} and --no-${name} contradict each other`);
    if (args.flags.has(name)) (o as unknown as Record<string, boolean>)[key] = true;
    if (args.flags.has(`no-${name}`)) (o as unknown as Record<string, boolean>)[key] = false;
  }
  if (args.flags.has('no-mask-token')) o.maskToken = false;
  if (args.flags.has('no-apply-layernorm')) o.applyLayernorm = false;
  if (args.flags.has('no-reshape-hidden-states')) o.reshapeHiddenStates = false;
  const indices = args.values.get('out-indices');
  if (indices !== undefined) o.outIndices = integerList(indices, 'out-indices');
  return { out: required(args, 'out'), options: o };
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  try {
    const { out, options } = parseOptions(process.argv.slice(2));
    const { bytes, tensors } = writeCheckpoint(out, options);
    console.log(
      `${out}: ${tensors} tensors, model.safetensors ${(bytes / 1e6).toFixed(2)} MB (${options.dtype}, seed ${options.seed})`,
    );
  } catch (e) {
    console.error(`make_random_checkpoint: ${(e as Error).message}`);
    process.exit(1);
  }
}
