// config.json of transformers' Dinov2WithRegistersConfig (model_type "dinov2_with_registers") and
// Dinov2Config ("dinov2"), with transformers' field names and defaults, checked field by field.
// Fields this engine does not read are ignored, as transformers keeps them without looking.
// Stricter than transformers where it would run on with a broken config: a stated stage_names
// must match num_hidden_layers, num_labels must match id2label, and id2label's ids are 0..n-1.
// A hostile file gets a ConfigError, never a hang: sizes that make lists (layers, default labels)
// are bounded, and values are clipped in messages.
import { describeJson } from './safetensors.js';

export type HiddenAct =
  | 'gelu'
  | 'gelu_new'
  | 'gelu_pytorch_tanh'
  | 'gelu_fast'
  | 'quick_gelu'
  | 'relu'
  | 'selu'
  | 'silu'
  | 'swish';

export const HIDDEN_ACTS: readonly HiddenAct[] = [
  'gelu',
  'gelu_new',
  'gelu_pytorch_tanh',
  'gelu_fast',
  'quick_gelu',
  'relu',
  'selu',
  'silu',
  'swish',
];

export interface Dinov2Config {
  model_type: 'dinov2_with_registers' | 'dinov2';
  architectures: string[];
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  mlp_ratio: number;
  hidden_act: HiddenAct;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  initializer_range: number;
  layer_norm_eps: number;
  image_size: number;
  patch_size: number;
  num_channels: number;
  qkv_bias: boolean;
  layerscale_value: number;
  drop_path_rate: number;
  use_swiglu_ffn: boolean;
  /** 0 for plain dinov2. */
  num_register_tokens: number;
  /** Plain dinov2's switch for the mask token; always true with registers. */
  use_mask_token: boolean;
  apply_layernorm: boolean;
  reshape_hidden_states: boolean;
  /** ['stem', 'stage1', ..., 'stageL'], derived from num_hidden_layers (a stated one must agree). */
  stage_names: string[];
  /** Backbone outputs, aligned as transformers does; default the last stage. */
  out_features: string[];
  /** Indices into stage_names, normalized to non-negative (transformers keeps negative ones as given). */
  out_indices: number[];
  id2label: Record<number, string>;
  label2id: Record<string, number>;
  num_labels: number;
  /** The loss of the classifier's forward(labels); inferred from the labels when not set (src/model/loss.ts). */
  problem_type?: ProblemType;
  /** Defaults of the forward options of the same names (PretrainedConfig's). */
  output_attentions?: boolean;
  output_hidden_states?: boolean;
  torch_dtype?: string;
  transformers_version?: string;
}

export const PROBLEM_TYPES = [
  'regression',
  'single_label_classification',
  'multi_label_classification',
] as const;
export type ProblemType = (typeof PROBLEM_TYPES)[number];

/** stage_names lists every layer; ViT-g has 40. */
export const MAX_HIDDEN_LAYERS = 10_000;
/** num_labels without id2label makes LABEL_0 ... LABEL_{n-1}; ImageNet-21k has 21,843 classes. */
export const MAX_DEFAULT_LABELS = 100_000;

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

type ModelType = Dinov2Config['model_type'];

// transformers' defaults; the two classes differ in patch_size and the register/mask fields.
const DEFAULTS = {
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  mlp_ratio: 4,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0,
  attention_probs_dropout_prob: 0,
  initializer_range: 0.02,
  layer_norm_eps: 1e-6,
  image_size: 224,
  num_channels: 3,
  qkv_bias: true,
  layerscale_value: 1.0,
  drop_path_rate: 0,
  use_swiglu_ffn: false,
  apply_layernorm: true,
  reshape_hidden_states: true,
  use_mask_token: true,
  num_labels: 2,
} as const;

const PER_MODEL: Record<
  ModelType,
  { architectures: string[]; patch_size: number; num_register_tokens: number }
> = {
  dinov2_with_registers: {
    architectures: ['Dinov2WithRegistersModel'],
    patch_size: 16,
    num_register_tokens: 4,
  },
  dinov2: { architectures: ['Dinov2Model'], patch_size: 14, num_register_tokens: 0 },
};

export function parseConfig(json: unknown, source = 'config.json'): Dinov2Config {
  const fail = (field: string, message: string): never => {
    throw new ConfigError(field, `${source}: ${field} ${message}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return fail('(root)', 'is not a JSON object');
  const raw = json as Record<string, unknown>;

  const modelType = raw.model_type;
  if (modelType === 'dinov3_vit') {
    return fail(
      'model_type',
      '"dinov3_vit" is a DINOv3 checkpoint: parseDinov3Config (or parseModelConfig, for any model) reads its config.json',
    );
  }
  if (modelType !== 'dinov2_with_registers' && modelType !== 'dinov2') {
    return fail('model_type', `${describeJson(modelType)} is not "dinov2_with_registers" or "dinov2"`);
  }
  const defaults = { ...DEFAULTS, ...PER_MODEL[modelType] };
  const {
    get,
    integer,
    real,
    probability,
    boolean,
    optionalBoolean,
    optionalString,
    stringList,
    stageNames,
  } = fieldReaders(raw, defaults, fail);

  const hidden_size = integer('hidden_size', 1);
  const num_hidden_layers = integer('num_hidden_layers', 1, MAX_HIDDEN_LAYERS);
  const num_attention_heads = integer('num_attention_heads', 1);
  if (hidden_size % num_attention_heads !== 0) {
    fail('hidden_size', `(${hidden_size}) must be divisible by num_attention_heads (${num_attention_heads})`);
  }
  const hidden_act = get('hidden_act');
  if (!HIDDEN_ACTS.includes(hidden_act as HiddenAct)) {
    fail('hidden_act', `(${describeJson(hidden_act)}) must be one of ${HIDDEN_ACTS.join(', ')}`);
  }
  const image_size = integer('image_size', 1);
  const patch_size = integer('patch_size', 1);
  if (patch_size > image_size)
    fail('patch_size', `(${patch_size}) must not exceed image_size (${image_size})`);

  const architectures = stringList('architectures', defaults.architectures);
  const stage_names = stageNames(num_hidden_layers);

  const config: Dinov2Config = {
    model_type: modelType,
    architectures,
    hidden_size,
    num_hidden_layers,
    num_attention_heads,
    mlp_ratio: real('mlp_ratio', (v) => v > 0, 'a positive number'),
    hidden_act: hidden_act as HiddenAct,
    hidden_dropout_prob: probability('hidden_dropout_prob'),
    attention_probs_dropout_prob: probability('attention_probs_dropout_prob'),
    initializer_range: real('initializer_range', (v) => v >= 0, 'a non-negative number'),
    layer_norm_eps: real('layer_norm_eps', (v) => v > 0, 'a finite positive number'),
    image_size,
    patch_size,
    num_channels: integer('num_channels', 1),
    qkv_bias: boolean('qkv_bias'),
    layerscale_value: real('layerscale_value', () => true, 'a finite number'),
    drop_path_rate: probability('drop_path_rate'),
    use_swiglu_ffn: boolean('use_swiglu_ffn'),
    num_register_tokens: modelType === 'dinov2' ? 0 : integer('num_register_tokens', 0),
    use_mask_token: modelType === 'dinov2' ? boolean('use_mask_token') : true,
    apply_layernorm: boolean('apply_layernorm'),
    reshape_hidden_states: boolean('reshape_hidden_states'),
    stage_names,
    ...alignOutputs(raw.out_features, raw.out_indices, stage_names, fail),
    ...labels(raw, fail),
    problem_type: optionalString('problem_type') as ProblemType | undefined,
    output_attentions: optionalBoolean('output_attentions'),
    output_hidden_states: optionalBoolean('output_hidden_states'),
    torch_dtype: optionalString('torch_dtype') ?? optionalString('dtype'), // newer transformers write "dtype"
    transformers_version: optionalString('transformers_version'),
  };
  const mlpHidden = mlpHiddenSize(config);
  if (mlpHidden < 1) fail('mlp_ratio', `(${config.mlp_ratio}) leaves the MLP with no hidden units`);
  if (!Number.isSafeInteger(mlpHidden))
    fail('mlp_ratio', `(${config.mlp_ratio}) makes ${mlpHidden} MLP hidden units, too many to count`);
  if (config.problem_type !== undefined && !PROBLEM_TYPES.includes(config.problem_type))
    fail('problem_type', `(${describeJson(config.problem_type)}) must be one of ${PROBLEM_TYPES.join(', ')}`);
  for (const key of ['problem_type', 'output_attentions', 'output_hidden_states'] as const)
    if (config[key] === undefined) delete config[key];
  if (config.torch_dtype === undefined) delete config.torch_dtype;
  if (config.transformers_version === undefined) delete config.transformers_version;
  return config;
}

export type Fail = (field: string, message: string) => never;

/**
 * Readers of config.json fields with transformers' defaults (a missing field takes `defaults`),
 * each failing with a ConfigError that names the field and says what it must be.
 */
export function fieldReaders<D extends Record<string, unknown>>(
  raw: Record<string, unknown>,
  defaults: D,
  fail: Fail,
) {
  const has = (field: string) => raw[field] !== undefined && raw[field] !== null;
  const get = (field: keyof D & string): unknown => (raw[field] === undefined ? defaults[field] : raw[field]);
  const integer = (field: keyof D & string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = get(field);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      return fail(
        field,
        `(${describeJson(v)}) must be ${min === 1 ? 'a positive' : 'a non-negative'} integer`,
      );
    }
    if (v > max) return fail(field, `(${v}) must be at most ${max}`);
    return v;
  };
  const real = (field: keyof D & string, ok: (v: number) => boolean, range: string): number => {
    const v = get(field);
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))
      return fail(field, `(${describeJson(v)}) must be ${range}`);
    return v;
  };
  const probability = (field: keyof D & string) => real(field, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  const boolean = (field: keyof D & string): boolean => {
    const v = get(field);
    if (typeof v !== 'boolean') return fail(field, `(${describeJson(v)}) must be true or false`);
    return v;
  };
  const optionalBoolean = (field: string): boolean | undefined => {
    if (!has(field)) return undefined;
    if (typeof raw[field] !== 'boolean')
      return fail(field, `(${describeJson(raw[field])}) must be true or false`);
    return raw[field] as boolean;
  };
  const optionalString = (field: string): string | undefined => {
    if (!has(field)) return undefined;
    if (typeof raw[field] !== 'string') return fail(field, `(${describeJson(raw[field])}) must be a string`);
    return raw[field] as string;
  };
  const stringList = (field: string, dflt: readonly string[]): string[] => {
    const v = has(field) ? raw[field] : dflt;
    if (!Array.isArray(v) || !v.every((a) => typeof a === 'string'))
      return fail(field, `(${describeJson(v)}) must be a list of strings`);
    return [...v];
  };
  /** BackboneConfigMixin's stage_names for `layers` layers; a stated one must agree. */
  const stageNames = (layers: number): string[] => {
    const names = ['stem', ...Array.from({ length: layers }, (_, i) => `stage${i + 1}`)];
    if (has('stage_names') && !sameStrings(raw.stage_names, names))
      fail(
        'stage_names',
        `(${describeJson(raw.stage_names)}) must be ${describeJson(names)} for num_hidden_layers ${layers}`,
      );
    return names;
  };
  return {
    has,
    get,
    integer,
    real,
    probability,
    boolean,
    optionalBoolean,
    optionalString,
    stringList,
    stageNames,
  };
}

export function sameStrings(a: unknown, b: string[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** transformers' get_aligned_output_features_output_indices (backbone_utils.py), with its checks. */
export function alignOutputs(
  features: unknown,
  indices: unknown,
  stages: string[],
  fail: Fail,
): { out_features: string[]; out_indices: number[] } {
  const n = stages.length;
  const position = new Map(stages.map((s, i) => [s, i]));
  let out_features: string[] | undefined;
  let out_indices: number[] | undefined;
  if (features !== undefined && features !== null) {
    if (!Array.isArray(features) || !features.every((f) => typeof f === 'string')) {
      return fail('out_features', `(${describeJson(features)}) must be a list of stage names`);
    }
    const unknown = features.find((f) => !position.has(f));
    if (unknown !== undefined)
      fail('out_features', `names ${describeJson(unknown)}, not one of stage_names ${describeJson(stages)}`);
    if (new Set(features).size !== features.length)
      fail('out_features', `(${describeJson(features)}) must not repeat a stage`);
    const positions = features.map((f) => position.get(f)!);
    if (positions.some((p, i) => i > 0 && p < positions[i - 1])) {
      fail('out_features', `(${describeJson(features)}) must be in the order of stage_names`);
    }
    out_features = features;
  }
  if (indices !== undefined && indices !== null) {
    if (!Array.isArray(indices) || !indices.every((i) => Number.isSafeInteger(i))) {
      return fail('out_indices', `(${describeJson(indices)}) must be a list of integers`);
    }
    const bad = indices.find((i: number) => i < -n || i >= n);
    if (bad !== undefined) fail('out_indices', `(${bad}) is out of range for ${n} stages`);
    const positive = indices.map((i: number) => (i + n) % n);
    if (new Set(positive).size !== positive.length)
      fail('out_indices', `(${describeJson(indices)}) must not repeat a stage`);
    if (positive.some((p, i) => i > 0 && p < positive[i - 1])) {
      fail('out_indices', `(${describeJson(indices)}) must be in the order of stage_names`);
    }
    out_indices = positive;
  }
  if (out_features && out_indices) {
    const named = out_indices.map((i) => stages[i]);
    if (!sameStrings(named, out_features)) {
      fail(
        'out_indices',
        `(${describeJson(indices)}) name stages ${describeJson(named)}, but out_features is ${describeJson(out_features)}`,
      );
    }
  }
  out_features ??= out_indices ? out_indices.map((i) => stages[i]) : [stages[n - 1]];
  out_indices ??= out_features.map((f) => position.get(f)!);
  return { out_features: [...out_features], out_indices };
}

/** PretrainedConfig's id2label / label2id / num_labels, with id2label's ids required to be 0..num_labels-1. */
export function labels(
  raw: Record<string, unknown>,
  fail: Fail,
): Pick<Dinov2Config, 'id2label' | 'label2id' | 'num_labels'> {
  const given = (field: string) => raw[field] !== undefined && raw[field] !== null;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  let num_labels: number;
  const id2label: Record<number, string> = {};
  if (given('id2label')) {
    if (!isObject(raw.id2label)) return fail('id2label', 'must be an object of id -> label');
    const entries = Object.entries(raw.id2label);
    num_labels = entries.length;
    for (const [id, label] of entries) {
      if (!/^(0|[1-9]\d*)$/.test(id))
        fail('id2label', `key ${describeJson(id)} is not a non-negative integer`);
      if (Number(id) >= num_labels)
        fail('id2label', `key ${id} is out of range: ids must be 0..${num_labels - 1}`);
      if (typeof label !== 'string')
        fail('id2label', `label of ${id} (${describeJson(label)}) is not a string`);
      id2label[Number(id)] = label as string;
    }
    if (given('num_labels') && raw.num_labels !== num_labels) {
      fail(
        'num_labels',
        `(${describeJson(raw.num_labels)}) must equal the ${num_labels} entries of id2label`,
      );
    }
  } else {
    const n = given('num_labels') ? raw.num_labels : DEFAULTS.num_labels;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      return fail('num_labels', `(${describeJson(n)}) must be a non-negative integer`);
    }
    if (n > MAX_DEFAULT_LABELS) {
      return fail(
        'num_labels',
        `(${n}) without id2label must be at most ${MAX_DEFAULT_LABELS}; give id2label for more labels`,
      );
    }
    num_labels = n;
    for (let i = 0; i < n; i++) id2label[i] = `LABEL_${i}`;
  }
  // Labels may repeat (ImageNet's "crane"); label2id then keeps one id per name, as Python's dict does.
  // (Object.fromEntries, not assignment: a label may be "__proto__".)
  const derived = Object.fromEntries(Object.entries(id2label).map(([id, label]) => [label, Number(id)]));
  if (!given('label2id')) return { id2label, label2id: derived, num_labels };
  if (!isObject(raw.label2id)) return fail('label2id', 'must be an object of label -> id');
  const label2id = raw.label2id;
  for (const [label, id] of Object.entries(label2id)) {
    if (typeof id !== 'number' || id2label[id] !== label) {
      fail('label2id', `maps ${describeJson(label)} to ${describeJson(id)}, but id2label does not`);
    }
  }
  const missing = Object.keys(derived).find((label) => !Object.hasOwn(label2id, label));
  if (missing !== undefined) fail('label2id', `lacks the label ${describeJson(missing)} of id2label`);
  return {
    id2label,
    label2id: Object.fromEntries(Object.entries(label2id)) as Record<string, number>,
    num_labels,
  };
}

/** Per-head size. */
export function headDim(c: Dinov2Config): number {
  return c.hidden_size / c.num_attention_heads;
}

/** Width of fc1's output: int(hidden * mlp_ratio), or for SwiGLU the 2/3 rule rounded up to a multiple of 8. */
export function mlpHiddenSize(c: Dinov2Config): number {
  const h = Math.trunc(c.hidden_size * c.mlp_ratio);
  return c.use_swiglu_ffn ? Math.floor((Math.trunc((h * 2) / 3) + 7) / 8) * 8 : h;
}
