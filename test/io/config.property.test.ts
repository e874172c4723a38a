// Hostile config.json files, generated: parseConfig gives a valid Dinov2Config equal to what
// transformers would make of the file, or a ConfigError naming the field at fault; never another
// error, never a hang. 6,000 configs in all.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  type Dinov2Config,
  type HiddenAct,
  MAX_DEFAULT_LABELS,
  MAX_HIDDEN_LAYERS,
  mlpHiddenSize,
  parseConfig,
} from '../../src/io/config.js';
import { deepArray } from '../reliability/json_text.js';

const SEED = 0xc0f1;
const SOURCE = 'hostile/config.json';
const TIMEOUT_MS = 60_000;
const ACTS: HiddenAct[] = [
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
type ModelType = Dinov2Config['model_type'];
type Json = Record<string, unknown>;

const stats = { configs: 0, accepted: 0, rejected: 0, slowestMs: 0 };
afterAll(() => console.log(`config properties: ${JSON.stringify(stats)}`));

/** parseConfig's outcome, checked against the rules that hold for any input. */
function judge(json: unknown): { config?: Dinov2Config; error?: ConfigError } {
  stats.configs++;
  const start = performance.now();
  let config: Dinov2Config | undefined;
  let error: unknown;
  try {
    config = parseConfig(json, SOURCE);
  } catch (e) {
    error = e;
  }
  stats.slowestMs = Math.max(stats.slowestMs, performance.now() - start);
  if (error !== undefined) {
    stats.rejected++;
    if (!(error instanceof ConfigError))
      throw new Error(`expected a ConfigError, got ${(error as Error)?.name}: ${(error as Error)?.message}`);
    expect(error.name).toBe('ConfigError');
    expect(error.message.startsWith(`${SOURCE}: ${error.field} `), error.message).toBe(true);
    expect(error.message.length, 'a message of bounded length').toBeLessThan(1000);
    return { error };
  }
  stats.accepted++;
  checkValid(config!);
  return { config };
}

/** What every accepted config satisfies. */
function checkValid(c: Dinov2Config): void {
  const int = (v: number, min: number) => Number.isSafeInteger(v) && v >= min;
  expect(
    [
      c.hidden_size,
      c.num_attention_heads,
      c.num_hidden_layers,
      c.image_size,
      c.patch_size,
      c.num_channels,
    ].every((v) => int(v, 1)),
  ).toBe(true);
  expect(int(c.num_register_tokens, 0)).toBe(true);
  expect(c.hidden_size % c.num_attention_heads).toBe(0);
  expect(c.patch_size).toBeLessThanOrEqual(c.image_size);
  expect(ACTS).toContain(c.hidden_act);
  expect(int(mlpHiddenSize(c), 1)).toBe(true);
  expect(c.layer_norm_eps).toBeGreaterThan(0);
  expect(c.stage_names).toEqual([
    'stem',
    ...Array.from({ length: c.num_hidden_layers }, (_, i) => `stage${i + 1}`),
  ]);
  expect(c.out_indices.map((i) => c.stage_names[i])).toEqual(c.out_features);
  expect(
    c.out_indices.every(
      (i, k) => int(i, 0) && i <= c.num_hidden_layers && (k === 0 || i > c.out_indices[k - 1]),
    ),
  ).toBe(true);
  expect(Object.keys(c.id2label).map(Number)).toEqual(Array.from({ length: c.num_labels }, (_, i) => i));
  for (const [label, id] of Object.entries(c.label2id)) expect(c.id2label[id]).toBe(label);
  for (const label of Object.values(c.id2label)) expect(Object.hasOwn(c.label2id, label)).toBe(true);
}

// ---------- valid configs, and what transformers makes of them ----------

/** transformers' defaults (Dinov2WithRegistersConfig / Dinov2Config), restated as the specification. */
const DEFAULTS = {
  mlp_ratio: 4,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0,
  attention_probs_dropout_prob: 0,
  initializer_range: 0.02,
  layer_norm_eps: 1e-6,
  num_channels: 3,
  qkv_bias: true,
  layerscale_value: 1,
  drop_path_rate: 0,
  use_swiglu_ffn: false,
  apply_layernorm: true,
  reshape_hidden_states: true,
  use_mask_token: true,
} as const;
const OMITTABLE = [...Object.keys(DEFAULTS), 'num_register_tokens', 'architectures'] as const;
const KNOWN = new Set([
  'model_type',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'image_size',
  'patch_size',
  ...OMITTABLE,
  'stage_names',
  'out_features',
  'out_indices',
  'id2label',
  'label2id',
  'num_labels',
  'torch_dtype',
  'dtype',
  'transformers_version',
]);

const probability = fc.double({ min: 0, max: 1, noNaN: true });
const labelArb = fc.oneof(
  fc.constantFrom('cat', 'dog', 'crane', '__proto__', 'constructor', 'é', '', 'LABEL_0'),
  fc.string({ maxLength: 6 }),
);

const specArb = fc.record({
  model_type: fc.constantFrom<ModelType>('dinov2_with_registers', 'dinov2'),
  heads: fc.integer({ min: 1, max: 8 }),
  headDim: fc.integer({ min: 1, max: 32 }),
  layers: fc.integer({ min: 1, max: 24 }),
  patch: fc.integer({ min: 1, max: 32 }),
  imageExtra: fc.nat({ max: 200 }),
  mlp_ratio: fc.constantFrom(1, 2, 2.5, 8 / 3, 4, 4.5),
  hidden_act: fc.constantFrom(...ACTS),
  hidden_dropout_prob: probability,
  attention_probs_dropout_prob: probability,
  drop_path_rate: probability,
  initializer_range: fc.double({ min: 0, max: 1, noNaN: true }),
  layer_norm_eps: fc.double({ min: 1e-12, max: 1e-2, noNaN: true }),
  layerscale_value: fc.double({ noNaN: true, noDefaultInfinity: true }),
  num_channels: fc.integer({ min: 1, max: 4 }),
  qkv_bias: fc.boolean(),
  use_swiglu_ffn: fc.boolean(),
  apply_layernorm: fc.boolean(),
  reshape_hidden_states: fc.boolean(),
  num_register_tokens: fc.nat({ max: 8 }),
  use_mask_token: fc.boolean(),
  architectures: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }),
  stateStages: fc.boolean(),
  outPick: fc.array(fc.boolean(), { minLength: 25, maxLength: 25 }),
  outForm: fc.constantFrom('none', 'features', 'indices', 'negative indices', 'both'),
  labelForm: fc.constantFrom(
    'none',
    'num_labels',
    'id2label',
    'id2label + label2id',
    'id2label + num_labels',
    'num_labels + label2id',
  ),
  labels: fc.array(labelArb, { maxLength: 6 }),
  numLabels: fc.nat({ max: 40 }),
  dtype: fc.option(
    fc.constantFrom<[string, string]>(
      ['torch_dtype', 'float32'],
      ['dtype', 'bfloat16'],
      ['torch_dtype', 'float16'],
    ),
  ),
  version: fc.option(fc.constantFrom('4.48.0', '5.0.0.dev0')),
  extras: fc.dictionary(
    fc.string({ maxLength: 8 }).filter((k) => !KNOWN.has(k)),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 3 },
  ),
  omit: fc.subarray([...OMITTABLE]),
});
type Spec = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

/** The config.json a spec describes, and the Dinov2Config transformers would make of it. */
function build(s: Spec): { json: Json; expected: Dinov2Config } {
  const hidden_size = s.heads * s.headDim;
  const registers = s.model_type === 'dinov2_with_registers';
  const mlp_ratio = s.use_swiglu_ffn && hidden_size * s.mlp_ratio < 2 ? 4 : s.mlp_ratio; // SwiGLU needs int(h * 2/3) >= 1
  const json: Json = {
    model_type: s.model_type,
    hidden_size,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    image_size: s.patch + s.imageExtra,
    patch_size: s.patch,
    mlp_ratio,
    hidden_act: s.hidden_act,
    hidden_dropout_prob: s.hidden_dropout_prob,
    attention_probs_dropout_prob: s.attention_probs_dropout_prob,
    drop_path_rate: s.drop_path_rate,
    initializer_range: s.initializer_range,
    layer_norm_eps: s.layer_norm_eps,
    layerscale_value: s.layerscale_value,
    num_channels: s.num_channels,
    qkv_bias: s.qkv_bias,
    use_swiglu_ffn: s.use_swiglu_ffn,
    apply_layernorm: s.apply_layernorm,
    reshape_hidden_states: s.reshape_hidden_states,
    num_register_tokens: s.num_register_tokens,
    use_mask_token: s.use_mask_token,
    architectures: s.architectures,
    ...s.extras,
  };
  for (const field of s.omit) delete json[field];
  const stated = <T>(field: string, fallback: T): T => (field in json ? (json[field] as T) : fallback);

  const stage_names = ['stem', ...Array.from({ length: s.layers }, (_, i) => `stage${i + 1}`)];
  if (s.stateStages) json.stage_names = stage_names;
  const picked = stage_names.map((_, i) => i).filter((i) => s.outPick[i]);
  let out_indices = picked.length || s.outForm === 'none' ? picked : [s.layers];
  if (s.outForm === 'none') out_indices = [s.layers];
  if (s.outForm === 'features' || s.outForm === 'both')
    json.out_features = out_indices.map((i) => stage_names[i]);
  if (s.outForm === 'indices' || s.outForm === 'both') json.out_indices = out_indices;
  if (s.outForm === 'negative indices') json.out_indices = out_indices.map((i) => i - stage_names.length);

  let id2label: Record<number, string> = { 0: 'LABEL_0', 1: 'LABEL_1' };
  if (s.labelForm.startsWith('num_labels')) {
    json.num_labels = s.numLabels;
    id2label = Object.fromEntries(Array.from({ length: s.numLabels }, (_, i) => [i, `LABEL_${i}`]));
  }
  if (s.labelForm.startsWith('id2label')) {
    id2label = Object.fromEntries(s.labels.map((label, i) => [i, label]));
    json.id2label = Object.fromEntries(s.labels.map((label, i) => [String(i), label]));
  }
  if (s.labelForm.endsWith('+ num_labels')) json.num_labels = s.labels.length;
  const label2id = Object.fromEntries(Object.entries(id2label).map(([id, label]) => [label, Number(id)]));
  if (s.labelForm.endsWith('label2id')) json.label2id = label2id;
  if (s.dtype) json[s.dtype[0]] = s.dtype[1];
  if (s.version) json.transformers_version = s.version;

  const expected: Dinov2Config = {
    model_type: s.model_type,
    architectures: stated('architectures', [registers ? 'Dinov2WithRegistersModel' : 'Dinov2Model']),
    hidden_size,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    mlp_ratio: stated('mlp_ratio', DEFAULTS.mlp_ratio),
    hidden_act: stated('hidden_act', DEFAULTS.hidden_act),
    hidden_dropout_prob: stated('hidden_dropout_prob', DEFAULTS.hidden_dropout_prob),
    attention_probs_dropout_prob: stated(
      'attention_probs_dropout_prob',
      DEFAULTS.attention_probs_dropout_prob,
    ),
    initializer_range: stated('initializer_range', DEFAULTS.initializer_range),
    layer_norm_eps: stated('layer_norm_eps', DEFAULTS.layer_norm_eps),
    image_size: s.patch + s.imageExtra,
    patch_size: s.patch,
    num_channels: stated('num_channels', DEFAULTS.num_channels),
    qkv_bias: stated('qkv_bias', DEFAULTS.qkv_bias),
    layerscale_value: stated('layerscale_value', DEFAULTS.layerscale_value),
    drop_path_rate: stated('drop_path_rate', DEFAULTS.drop_path_rate),
    use_swiglu_ffn: stated('use_swiglu_ffn', DEFAULTS.use_swiglu_ffn),
    num_register_tokens: registers ? stated('num_register_tokens', 4) : 0,
    use_mask_token: registers ? true : stated('use_mask_token', DEFAULTS.use_mask_token),
    apply_layernorm: stated('apply_layernorm', DEFAULTS.apply_layernorm),
    reshape_hidden_states: stated('reshape_hidden_states', DEFAULTS.reshape_hidden_states),
    stage_names,
    out_features: out_indices.map((i) => stage_names[i]),
    out_indices,
    id2label,
    label2id,
    num_labels: Object.keys(id2label).length,
  };
  if (s.dtype) expected.torch_dtype = s.dtype[1];
  if (s.version) expected.transformers_version = s.version;
  return { json, expected };
}

// ---------- faults ----------

const deep = fc.integer({ min: 10_000, max: 30_000 }).map((d) => JSON.parse(deepArray(d).text) as unknown);
const longString = fc.integer({ min: 1000, max: 100_000 }).map((n) => 'x'.repeat(n));
const junk = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    false,
    '64',
    '',
    [],
    {},
    [1],
    { value: 1 },
    NaN,
    Infinity,
    -Infinity,
    2 ** 53,
    1e300,
    -1,
    1.5,
    0.5,
  ),
  fc.string({ maxLength: 6 }),
  deep,
  longString,
  fc.bigInt({ min: 1n, max: 100n }),
);
const notInteger = (min: number) =>
  junk.filter((v) => !(typeof v === 'number' && Number.isSafeInteger(v) && v >= min));
const notNumber = junk.filter((v) => typeof v !== 'number');
const notBoolean = junk.filter((v) => typeof v !== 'boolean');
const notStringOrNull = junk.filter((v) => typeof v !== 'string' && v !== null);
const notListOrNull = junk.filter((v) => !Array.isArray(v) && v !== null);

/** A change to a valid config, and the fields a ConfigError may name ('accepted': none, it stays valid). */
type Fault = { label: string; apply: (json: Json) => Json | unknown; fields: readonly string[] | 'accepted' };
const set = (changes: Json) => (json: Json) => ({ ...json, ...changes });

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc
    .oneof(junk, fc.constantFrom('vit', 'Dinov2', 'dinov2_with_registers '))
    .map((v) => ({ label: 'model_type', apply: set({ model_type: v }), fields: ['model_type'] })),
  fc.constant({
    label: 'model_type missing',
    apply: (j: Json) => ({ ...j, model_type: undefined }),
    fields: ['model_type'],
  }),
  fc
    .constantFrom(
      'hidden_size',
      'num_hidden_layers',
      'num_attention_heads',
      'image_size',
      'patch_size',
      'num_channels',
    )
    .chain((field) =>
      notInteger(1).map((v) => ({
        label: `${field} not a positive integer`,
        apply: set({ [field]: v }),
        fields: [field],
      })),
    ),
  notInteger(0).map((v) => ({
    label: 'num_register_tokens not a count',
    apply: set({ num_register_tokens: v }),
    fields: ['num_register_tokens'], // ignored, and accepted, by plain dinov2: see below
  })),
  fc.integer({ min: MAX_HIDDEN_LAYERS + 1, max: Number.MAX_SAFE_INTEGER }).map((v) => ({
    label: 'num_hidden_layers huge',
    apply: set({ num_hidden_layers: v }),
    fields: ['num_hidden_layers'],
  })),
  fc.nat({ max: 100 }).map((k) => ({
    label: 'heads not dividing hidden_size',
    apply: (j: Json) => ({ ...j, num_attention_heads: (j.hidden_size as number) + 1 + k }),
    fields: ['hidden_size'],
  })),
  fc.nat({ max: 100 }).map((k) => ({
    label: 'patch over image',
    apply: (j: Json) => ({ ...j, patch_size: (j.image_size as number) + 1 + k }),
    fields: ['patch_size'],
  })),
  fc
    .oneof(notNumber, fc.constantFrom<unknown>(0, -1, NaN, Infinity, -4))
    .map((v) => ({ label: 'mlp_ratio not positive', apply: set({ mlp_ratio: v }), fields: ['mlp_ratio'] })),
  fc.constant({
    label: 'mlp_ratio leaving no units',
    apply: set({ mlp_ratio: 1e-9 }),
    fields: ['mlp_ratio'],
  }),
  fc.constant({
    label: 'MLP too wide to count',
    apply: set({ hidden_size: 2 ** 52, num_attention_heads: 1, mlp_ratio: 4 }),
    fields: ['mlp_ratio'],
  }),
  fc
    .constantFrom('hidden_dropout_prob', 'attention_probs_dropout_prob', 'drop_path_rate')
    .chain((field) =>
      fc
        .oneof(notNumber, fc.constantFrom<unknown>(-0.1, 1.5, NaN, Infinity))
        .map((v) => ({ label: `${field} outside [0, 1]`, apply: set({ [field]: v }), fields: [field] })),
    ),
  fc
    .oneof(notNumber, fc.constantFrom<unknown>(0, -1e-6, NaN, Infinity))
    .map((v) => ({ label: 'layer_norm_eps', apply: set({ layer_norm_eps: v }), fields: ['layer_norm_eps'] })),
  fc.oneof(notNumber, fc.constantFrom<unknown>(-0.02, NaN)).map((v) => ({
    label: 'initializer_range',
    apply: set({ initializer_range: v }),
    fields: ['initializer_range'],
  })),
  fc.oneof(notNumber, fc.constantFrom<unknown>(NaN, Infinity, -Infinity)).map((v) => ({
    label: 'layerscale_value',
    apply: set({ layerscale_value: v }),
    fields: ['layerscale_value'],
  })),
  fc.constantFrom('qkv_bias', 'use_swiglu_ffn', 'apply_layernorm', 'reshape_hidden_states').chain((field) =>
    notBoolean.map((v) => ({
      label: `${field} not a boolean`,
      apply: set({ [field]: v }),
      fields: [field],
    })),
  ),
  notBoolean.map((v) => ({
    label: 'use_mask_token not a boolean',
    apply: set({ use_mask_token: v }),
    fields: ['use_mask_token'],
  })),
  fc
    .oneof(junk, fc.constantFrom('tanh', 'GELU', 'gelu ', 'swiglu', 'toString', '__proto__'))
    .filter((v) => !ACTS.includes(v as HiddenAct) && v !== undefined)
    .map((v) => ({
      label: 'hidden_act unknown',
      apply: set({ hidden_act: v }),
      fields: ['hidden_act'],
    })),
  fc
    .oneof(notListOrNull, fc.constant([1]), fc.constant(['a', null]))
    .map((v) => ({ label: 'architectures', apply: set({ architectures: v }), fields: ['architectures'] })),
  fc
    .oneof(notListOrNull, fc.constant(['stem']), fc.constant(['stage1']))
    .map((v) => ({ label: 'stage_names wrong', apply: set({ stage_names: v }), fields: ['stage_names'] })),
  fc
    .oneof(
      notListOrNull,
      fc.constant(['stage999']),
      fc.constant(['stem', 'stem']),
      fc.constant(['stage1', 'stem']),
      fc.constant([0]),
    )
    .map((v) => ({
      label: 'out_features wrong',
      apply: set({ out_features: v }),
      fields: ['out_features'],
    })),
  fc
    .oneof(
      notListOrNull,
      fc.constant([999]),
      fc.constant([-999]),
      fc.constant([1, 0]),
      fc.constant([0, 0]),
      fc.constant([0.5]),
      fc.constant(['0']),
    )
    .map((v) => ({
      label: 'out_indices wrong',
      apply: set({ out_indices: v }),
      fields: ['out_indices'],
    })),
  fc.constant({
    label: 'out_indices not naming out_features',
    apply: set({ out_features: ['stem'], out_indices: [1] }),
    fields: ['out_indices'],
  }),
  fc
    .oneof(
      notListOrNull.filter((v) => typeof v !== 'object' || Array.isArray(v)),
      fc.constant({ a: 'cat' }),
      fc.constant({ '01': 'cat' }),
      fc.constant({ 1: 'cat' }),
      fc.constant({ 0: 7 }),
      fc.constant({ 0: null }),
    )
    .map((v) => ({
      label: 'id2label wrong',
      apply: set({ id2label: v, label2id: undefined, num_labels: undefined }),
      fields: ['id2label'],
    })),
  fc.constant({
    label: 'num_labels not matching id2label',
    apply: set({ id2label: { 0: 'cat' }, num_labels: 2, label2id: undefined }),
    fields: ['num_labels'],
  }),
  fc
    .oneof(notInteger(0), fc.integer({ min: MAX_DEFAULT_LABELS + 1, max: Number.MAX_SAFE_INTEGER }))
    .filter((v) => v !== null)
    .map((v) => ({
      label: 'num_labels without id2label',
      apply: set({ num_labels: v, id2label: undefined, label2id: undefined }),
      fields: ['num_labels'],
    })),
  fc
    .oneof(
      notListOrNull.filter((v) => typeof v !== 'object' || Array.isArray(v)),
      fc.constant({ LABEL_0: 1 }),
      fc.constant({ LABEL_0: '0' }),
      fc.constant({ LABEL_0: 0 }),
      fc.constant({ nope: 0, LABEL_0: 0, LABEL_1: 1 }),
    )
    .map((v) => ({
      label: 'label2id wrong',
      apply: set({ label2id: v, id2label: undefined, num_labels: undefined }),
      fields: ['label2id'],
    })),
  fc.constantFrom('torch_dtype', 'transformers_version').chain((field) =>
    notStringOrNull.map((v) => ({
      label: `${field} not a string`,
      apply: set({ [field]: v }),
      fields: [field],
    })),
  ),
  notStringOrNull.map((v) => ({
    label: 'dtype not a string',
    apply: set({ dtype: v, torch_dtype: undefined }),
    fields: ['dtype'],
  })),
  fc
    .oneof(fc.constantFrom<unknown>(null, [], 'config', 3, true), deep)
    .map((v) => ({ label: 'root not an object', apply: () => v, fields: ['(root)'] })),
  deep.map((v) => ({ label: 'deep unknown field', apply: set({ _deep: v }), fields: 'accepted' as const })),
);

describe('config.json, generated (fast-check, seed fixed)', () => {
  it('2,000 valid configs parse to what transformers makes of them', { timeout: TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const { json, expected } = build(spec);
        const { config, error } = judge(json);
        expect(error?.message).toBeUndefined();
        expect(config).toEqual(expected);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('2,000 configs with one fault each give a ConfigError naming the field', { timeout: TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(specArb, faultArb, (spec, fault) => {
        const { json, expected } = build(spec);
        const changed = fault.apply(json);
        if (changed !== null && typeof changed === 'object' && !Array.isArray(changed)) {
          for (const [k, v] of Object.entries(changed)) if (v === undefined) delete (changed as Json)[k];
        }
        // Fields a model type does not read are ignored, whatever they hold.
        const ignored =
          (fault.fields !== 'accepted' &&
            fault.fields[0] === 'num_register_tokens' &&
            expected.model_type === 'dinov2') ||
          (fault.fields !== 'accepted' &&
            fault.fields[0] === 'use_mask_token' &&
            expected.model_type === 'dinov2_with_registers') ||
          (fault.label === 'dtype not a string' && 'torch_dtype' in (changed as Json));
        const { error } = judge(changed);
        if (fault.fields === 'accepted' || ignored) expect(error?.message, fault.label).toBeUndefined();
        else expect(fault.fields, `${fault.label}: ${error?.message ?? 'accepted'}`).toContain(error?.field);
      }),
      { seed: SEED + 1, numRuns: 2000 },
    );
  });

  it(
    '2,000 configs with random fields replaced: a ConfigError naming a replaced field (or one it constrains), or a valid config',
    { timeout: TIMEOUT_MS },
    () => {
      const fields = [...KNOWN, 'unknown_field'];
      /** A replaced field may surface as an error of the fields it constrains. */
      const constrains: Record<string, string[]> = {
        hidden_size: ['mlp_ratio'],
        num_attention_heads: ['hidden_size'],
        num_hidden_layers: ['stage_names', 'out_features', 'out_indices'],
        image_size: ['patch_size'],
        use_swiglu_ffn: ['mlp_ratio'],
        out_features: ['out_indices'],
        id2label: ['num_labels', 'label2id'],
        num_labels: ['label2id'],
        torch_dtype: ['dtype'],
      };
      const value = fc.oneof(
        fc.jsonValue({ maxDepth: 2 }),
        junk,
        fc.integer({ min: -2, max: 40 }),
        fc.constantFrom<unknown>(undefined, 'stem', ['stem'], ['stage1'], [0], { 0: 'a' }),
      );
      fc.assert(
        fc.property(
          specArb,
          fc.uniqueArray(fc.tuple(fc.constantFrom(...fields), value), {
            selector: ([f]) => f,
            minLength: 1,
            maxLength: 3,
          }),
          (spec, changes) => {
            const json = build(spec).json;
            for (const [field, v] of changes) {
              if (v === undefined) delete json[field];
              else json[field] = v;
            }
            const { error } = judge(json);
            if (!error) return;
            const replaced = changes.map(([f]) => f);
            if (replaced.includes('model_type')) return; // another model type: other defaults, any field may fail
            const allowed = new Set(replaced.flatMap((f) => [f, ...(constrains[f] ?? [])]));
            expect([...allowed], error.message).toContain(error.field);
          },
        ),
        { seed: SEED + 2, numRuns: 2000 },
      );
    },
  );
});

describe('hostile configs at scale: fast errors, no hang', () => {
  const BOUND_MS = 10_000; // measured: well under a second each
  const base = {
    model_type: 'dinov2',
    hidden_size: 8,
    num_attention_heads: 2,
    num_hidden_layers: 2,
    image_size: 28,
    patch_size: 14,
  };
  const timed = (json: unknown) => {
    const start = performance.now();
    const outcome = judge(json);
    expect(performance.now() - start).toBeLessThan(BOUND_MS);
    return outcome;
  };

  it('num_hidden_layers and num_labels that would make lists of 2^53 entries', () => {
    expect(timed({ ...base, num_hidden_layers: Number.MAX_SAFE_INTEGER }).error!.field).toBe(
      'num_hidden_layers',
    );
    expect(timed({ ...base, num_labels: Number.MAX_SAFE_INTEGER }).error!.field).toBe('num_labels');
    expect(
      timed({ ...base, num_hidden_layers: MAX_HIDDEN_LAYERS, num_labels: MAX_DEFAULT_LABELS }).config!
        .num_labels,
    ).toBe(MAX_DEFAULT_LABELS);
  });

  it('200,000 out_features naming the last of 10,000 stages', () => {
    const out_features = new Array(200_000).fill(`stage${MAX_HIDDEN_LAYERS}`);
    expect(timed({ ...base, num_hidden_layers: MAX_HIDDEN_LAYERS, out_features }).error!.message).toMatch(
      /must not repeat a stage/,
    );
  });

  it('200,000 labels given in id2label, and label2id for them', () => {
    const id2label = Object.fromEntries(
      Array.from({ length: 200_000 }, (_, i) => [String(i), `class ${i % 1000}`]),
    );
    const { config } = timed({ ...base, id2label });
    expect(config!.num_labels).toBe(200_000);
    const label2id = Object.fromEntries(Object.entries(config!.label2id));
    expect(timed({ ...base, id2label, label2id }).config!.label2id).toEqual(label2id);
  });

  it('values nested 200,000 deep, and cyclic ones from a caller', () => {
    const nested = JSON.parse(deepArray(200_000).text) as unknown;
    for (const field of [
      'hidden_act',
      'stage_names',
      'out_features',
      'id2label',
      'torch_dtype',
      'hidden_size',
    ]) {
      expect(timed({ ...base, [field]: nested }).error!.field).toBe(field);
    }
    const cyclic: Json = {};
    cyclic.self = cyclic;
    expect(timed({ ...base, hidden_act: cyclic }).error!.message).toMatch(
      /hidden_act \(\{\.\.\.\} \(too deep or cyclic to print\)\) must be one of/,
    );
  });
});
