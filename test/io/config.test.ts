import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, type Dinov2Config, headDim, mlpHiddenSize, parseConfig } from '../../src/io/config.js';

const CONFIGS = join(import.meta.dirname, '../fixtures/io/configs');
const fixture = (name: string) =>
  JSON.parse(readFileSync(join(CONFIGS, `${name}.json`), 'utf8')) as Record<string, unknown>;
const base = fixture('tiny-gelu');

function errorOf(json: unknown, source?: string): ConfigError {
  try {
    parseConfig(json, source);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

/** tiny-gelu's config with some fields replaced (undefined: removed) is rejected, naming the field. */
function expectRejected(changes: Record<string, unknown>, field: string, pattern: RegExp) {
  const json: Record<string, unknown> = { ...base, ...changes };
  for (const [k, v] of Object.entries(changes)) if (v === undefined) delete json[k];
  const e = errorOf(json);
  expect(e.name).toBe('ConfigError');
  expect(e.field).toBe(field);
  expect(e.message.startsWith(`config.json: ${field} `)).toBe(true);
  expect(e.message).toMatch(pattern);
}

describe('golden config.json files', () => {
  const names = readdirSync(CONFIGS).map((f) => f.replace(/\.json$/, ''));

  it('are all here', () => {
    expect(names.sort()).toEqual([
      'tiny-classifier',
      'tiny-dinov2-plain',
      'tiny-gelu',
      'tiny-gelu-bf16',
      'tiny-gelu-f16',
      'tiny-swiglu',
    ]);
  });

  it.each(names)('%s parses, keeping every field it states', (name) => {
    const json = fixture(name);
    const c = parseConfig(json, `${name}.json`);
    for (const [key, value] of Object.entries(json)) {
      if (key === 'id2label') continue; // keys become numbers
      expect([key, (c as unknown as Record<string, unknown>)[key]]).toEqual([key, value]);
    }
    expect(c.hidden_size % c.num_attention_heads).toBe(0);
  });

  it('tiny-gelu: registers, GELU MLP', () => {
    const c = parseConfig(fixture('tiny-gelu'));
    expect(c).toMatchObject({
      model_type: 'dinov2_with_registers',
      hidden_size: 64,
      num_hidden_layers: 3,
      num_register_tokens: 4,
    });
    expect([headDim(c), mlpHiddenSize(c)]).toEqual([16, 256]);
    expect([c.stage_names, c.out_features, c.out_indices]).toEqual([
      ['stem', 'stage1', 'stage2', 'stage3'],
      ['stage3'],
      [3],
    ]);
    expect(c.use_mask_token).toBe(true);
    expect([c.num_labels, c.id2label, c.label2id]).toEqual([
      2,
      { 0: 'LABEL_0', 1: 'LABEL_1' },
      { LABEL_0: 0, LABEL_1: 1 },
    ]);
  });

  it('tiny-swiglu: SwiGLU hidden size from the 2/3 rule, 2 registers', () => {
    const c = parseConfig(fixture('tiny-swiglu'));
    expect([c.use_swiglu_ffn, headDim(c), mlpHiddenSize(c), c.num_register_tokens]).toEqual([
      true,
      16,
      128,
      2,
    ]);
  });

  it('tiny-dinov2-plain: no registers, mask token on', () => {
    const c = parseConfig(fixture('tiny-dinov2-plain'));
    expect(c).toMatchObject({
      model_type: 'dinov2',
      num_register_tokens: 0,
      use_mask_token: true,
      architectures: ['Dinov2Model'],
    });
  });

  it('tiny-classifier: five labels, both directions', () => {
    const c = parseConfig(fixture('tiny-classifier'));
    expect(c.num_labels).toBe(5);
    expect(c.id2label[0]).toBe('tabby, tabby cat');
    expect(c.label2id.volcano).toBe(4);
    expect(c.architectures).toEqual(['Dinov2WithRegistersForImageClassification']);
  });
});

describe('defaults', () => {
  it("are transformers' Dinov2WithRegistersConfig()", () => {
    const c = parseConfig({ model_type: 'dinov2_with_registers' });
    const L = 12;
    expect(c).toEqual({
      model_type: 'dinov2_with_registers',
      architectures: ['Dinov2WithRegistersModel'],
      hidden_size: 768,
      num_hidden_layers: L,
      num_attention_heads: 12,
      mlp_ratio: 4,
      hidden_act: 'gelu',
      hidden_dropout_prob: 0,
      attention_probs_dropout_prob: 0,
      initializer_range: 0.02,
      layer_norm_eps: 1e-6,
      image_size: 224,
      patch_size: 16,
      num_channels: 3,
      qkv_bias: true,
      layerscale_value: 1,
      drop_path_rate: 0,
      use_swiglu_ffn: false,
      num_register_tokens: 4,
      use_mask_token: true,
      apply_layernorm: true,
      reshape_hidden_states: true,
      stage_names: ['stem', ...Array.from({ length: L }, (_, i) => `stage${i + 1}`)],
      out_features: ['stage12'],
      out_indices: [12],
      id2label: { 0: 'LABEL_0', 1: 'LABEL_1' },
      label2id: { LABEL_0: 0, LABEL_1: 1 },
      num_labels: 2,
    } satisfies Dinov2Config);
    expect([headDim(c), mlpHiddenSize(c)]).toEqual([64, 3072]);
  });

  it("are transformers' Dinov2Config() for plain dinov2: patch 14, no registers", () => {
    const c = parseConfig({ model_type: 'dinov2' });
    expect(c).toMatchObject({
      architectures: ['Dinov2Model'],
      patch_size: 14,
      num_register_tokens: 0,
      use_mask_token: true,
    });
    expect(parseConfig({ model_type: 'dinov2', use_mask_token: false }).use_mask_token).toBe(false);
  });

  it('ignore unknown fields and registers on plain dinov2; null architectures fall back', () => {
    const c = parseConfig({
      model_type: 'dinov2',
      _name_or_path: 'x',
      foo: [1],
      num_register_tokens: 7,
      architectures: null,
    });
    expect(c.num_register_tokens).toBe(0);
    expect(c.architectures).toEqual(['Dinov2Model']);
    expect('foo' in c).toBe(false);
  });

  it('take torch_dtype from newer transformers\' "dtype"', () => {
    expect(parseConfig({ model_type: 'dinov2', dtype: 'bfloat16' }).torch_dtype).toBe('bfloat16');
    expect(parseConfig({ model_type: 'dinov2' }).torch_dtype).toBeUndefined();
  });
});

describe('derived sizes', () => {
  const sized = (hidden_size: number, num_attention_heads: number, use_swiglu_ffn: boolean, mlp_ratio = 4) =>
    parseConfig({
      model_type: 'dinov2_with_registers',
      hidden_size,
      num_attention_heads,
      use_swiglu_ffn,
      mlp_ratio,
    });

  it.each([
    ['ViT-S/14', 384, 6, false, 64, 1536],
    ['ViT-B/14', 768, 12, false, 64, 3072],
    ['ViT-L/14', 1024, 16, false, 64, 4096],
    ['ViT-g/14 (SwiGLU: int(6144 * 2 / 3) = 4096)', 1536, 24, true, 64, 4096],
    ['SwiGLU rounding up to a multiple of 8: int(192 * 2 / 3) = 128', 48, 3, true, 16, 128],
    ['SwiGLU 40: int(160 * 2 / 3) = 106 -> 112', 40, 5, true, 8, 112],
  ] as const)('%s', (_, hidden, heads, swiglu, head, mlp) => {
    const c = sized(hidden, heads, swiglu);
    expect([headDim(c), mlpHiddenSize(c)]).toEqual([head, mlp]);
  });

  it('truncates int(hidden * mlp_ratio) like Python', () => {
    expect(mlpHiddenSize(sized(64, 4, false, 2.66))).toBe(170); // 170.24
    expect(mlpHiddenSize(sized(64, 4, true, 2.66))).toBe(120); // int(113.33) = 113 -> 120
  });
});

describe('backbone outputs (get_aligned_output_features_output_indices)', () => {
  const outputs = (changes: Record<string, unknown>) => {
    const c = parseConfig({ ...base, out_features: undefined, out_indices: undefined, ...changes });
    return [c.out_features, c.out_indices];
  };

  it('default to the last stage', () => {
    expect(outputs({})).toEqual([['stage3'], [3]]);
    expect(outputs({ out_features: null, out_indices: null })).toEqual([['stage3'], [3]]);
  });

  it('derive indices from features and features from indices', () => {
    expect(outputs({ out_features: ['stem', 'stage2'] })).toEqual([
      ['stem', 'stage2'],
      [0, 2],
    ]);
    expect(outputs({ out_indices: [1, 3] })).toEqual([
      ['stage1', 'stage3'],
      [1, 3],
    ]);
    expect(outputs({ out_features: [], out_indices: [] })).toEqual([[], []]);
  });

  it('accept negative indices like Python and store them normalized', () => {
    expect(outputs({ out_indices: [-3, -1] })).toEqual([
      ['stage1', 'stage3'],
      [1, 3],
    ]);
    expect(outputs({ out_features: ['stage1', 'stage3'], out_indices: [1, -1] })).toEqual([
      ['stage1', 'stage3'],
      [1, 3],
    ]);
  });

  it.each([
    [{ out_features: ['stage4'] }, 'out_features', /"stage4", not one of stage_names/],
    [{ out_features: 'stage1' }, 'out_features', /must be a list of stage names/],
    [{ out_features: ['stage2', 'stage1'] }, 'out_features', /order of stage_names/],
    [{ out_features: ['stage1', 'stage1'] }, 'out_features', /must not repeat/],
    [{ out_indices: [4] }, 'out_indices', /\(4\) is out of range for 4 stages/],
    [{ out_indices: [-5] }, 'out_indices', /\(-5\) is out of range/],
    [{ out_indices: [1.5] }, 'out_indices', /must be a list of integers/],
    [{ out_indices: 3 }, 'out_indices', /must be a list of integers/],
    [{ out_indices: [2, 1] }, 'out_indices', /order of stage_names/],
    [{ out_indices: [-1, 0] }, 'out_indices', /order of stage_names/],
    [{ out_indices: [3, -1] }, 'out_indices', /must not repeat/],
    [
      { out_features: ['stage1'], out_indices: [2] },
      'out_indices',
      /name stages \["stage2"\], but out_features is \["stage1"\]/,
    ],
    [{ out_features: ['stage1', 'stage2'], out_indices: [1] }, 'out_indices', /out_features is/],
  ])('reject %j', (changes, field, pattern) => {
    expectRejected(changes, field, pattern);
  });
});

describe('labels', () => {
  const labels = (changes: Record<string, unknown>) => {
    const c = parseConfig({ model_type: 'dinov2_with_registers', ...changes });
    return [c.num_labels, c.id2label, c.label2id];
  };

  it('default to two generic labels, or num_labels of them', () => {
    expect(labels({})).toEqual([2, { 0: 'LABEL_0', 1: 'LABEL_1' }, { LABEL_0: 0, LABEL_1: 1 }]);
    expect(labels({ num_labels: 3 })).toEqual([
      3,
      { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' },
      { LABEL_0: 0, LABEL_1: 1, LABEL_2: 2 },
    ]);
    expect(labels({ num_labels: 0 })).toEqual([0, {}, {}]);
  });

  it('read id2label with string keys, deriving label2id when absent', () => {
    expect(labels({ id2label: { 1: 'dog', 0: 'cat' } })).toEqual([
      2,
      { 0: 'cat', 1: 'dog' },
      { cat: 0, dog: 1 },
    ]);
    expect(labels({ id2label: { 0: 'cat' }, num_labels: 1 })[0]).toBe(1);
  });

  it("accept repeated label names (ImageNet's two cranes) with label2id keeping one id, as Python's dict does", () => {
    const id2label = { 0: 'crane', 1: 'bird', 2: 'crane' };
    expect(labels({ id2label })).toEqual([3, { 0: 'crane', 1: 'bird', 2: 'crane' }, { crane: 2, bird: 1 }]);
    expect(labels({ id2label, label2id: { crane: 0, bird: 1 } })[2]).toEqual({ crane: 0, bird: 1 });
  });

  it('keep a label named __proto__ as data', () => {
    const [, , label2id] = labels({ id2label: { 0: '__proto__' } }) as [
      number,
      unknown,
      Record<string, number>,
    ];
    expect(Object.keys(label2id)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(label2id)).toBe(Object.prototype);
  });

  it.each([
    [{ id2label: ['cat'] }, 'id2label', /must be an object/],
    [{ id2label: { a: 'cat' } }, 'id2label', /key "a" is not a non-negative integer/],
    [{ id2label: { '-1': 'cat' } }, 'id2label', /key "-1"/],
    [{ id2label: { '01': 'cat' } }, 'id2label', /key "01"/],
    [{ id2label: { 0: 'cat', 2: 'dog' } }, 'id2label', /key 2 is out of range: ids must be 0..1/],
    [{ id2label: { 0: 7 } }, 'id2label', /label of 0 \(7\) is not a string/],
    [{ id2label: { 0: 'cat' }, num_labels: 2 }, 'num_labels', /\(2\) must equal the 1 entries of id2label/],
    [{ num_labels: -1 }, 'num_labels', /must be a non-negative integer/],
    [{ num_labels: '2' }, 'num_labels', /must be a non-negative integer/],
    [{ id2label: { 0: 'cat' }, label2id: { cat: 1 } }, 'label2id', /maps "cat" to 1, but id2label does not/],
    [{ id2label: { 0: 'cat' }, label2id: { cat: '0' } }, 'label2id', /maps "cat" to "0"/],
    [{ id2label: { 0: 'cat', 1: 'dog' }, label2id: { cat: 0 } }, 'label2id', /lacks the label "dog"/],
    [{ id2label: { 0: 'cat' }, label2id: { cat: 0, dog: 1 } }, 'label2id', /maps "dog" to 1/],
    [{ label2id: { cat: 0 } }, 'label2id', /maps "cat" to 0, but id2label does not/],
    [{ label2id: [] }, 'label2id', /must be an object/],
  ])('reject %j', (changes, field, pattern) => {
    expectRejected(changes, field, pattern);
  });
});

describe('invalid fields', () => {
  it('a config that is not an object', () => {
    for (const json of [null, [], 'x', 3]) expect(errorOf(json).field).toBe('(root)');
  });

  it('names the source it was given', () => {
    const e = errorOf({ ...base, hidden_size: 64, num_attention_heads: 5 }, 'models/x/config.json');
    expect(e.message).toBe(
      'models/x/config.json: hidden_size (64) must be divisible by num_attention_heads (5)',
    );
  });

  it.each([
    [{ model_type: undefined }, 'model_type', /undefined is not "dinov2_with_registers" or "dinov2"/],
    [{ model_type: 'vit' }, 'model_type', /"vit" is not/],
    [
      { hidden_size: 64, num_attention_heads: 5 },
      'hidden_size',
      /^config\.json: hidden_size \(64\) must be divisible by num_attention_heads \(5\)$/,
    ],
    [{ hidden_size: 0 }, 'hidden_size', /\(0\) must be a positive integer/],
    [{ hidden_size: -64 }, 'hidden_size', /positive integer/],
    [{ hidden_size: 64.5 }, 'hidden_size', /positive integer/],
    [{ hidden_size: '64' }, 'hidden_size', /\("64"\) must be a positive integer/],
    [{ hidden_size: null }, 'hidden_size', /\(null\) must be a positive integer/],
    [{ num_hidden_layers: 0 }, 'num_hidden_layers', /positive integer/],
    [{ num_attention_heads: 0 }, 'num_attention_heads', /positive integer/],
    [{ image_size: 0 }, 'image_size', /positive integer/],
    [{ patch_size: 2 ** 53 }, 'patch_size', /positive integer/],
    [{ patch_size: 64 }, 'patch_size', /\(64\) must not exceed image_size \(56\)/],
    [{ num_channels: 0 }, 'num_channels', /positive integer/],
    [{ num_register_tokens: -1 }, 'num_register_tokens', /non-negative integer/],
    [{ num_register_tokens: 1.5 }, 'num_register_tokens', /non-negative integer/],
    [{ hidden_act: 'tanh' }, 'hidden_act', /\("tanh"\) must be one of gelu, gelu_new/],
    [{ hidden_act: 'GELU' }, 'hidden_act', /must be one of/],
    [{ hidden_act: 1 }, 'hidden_act', /must be one of/],
    [{ layer_norm_eps: 0 }, 'layer_norm_eps', /\(0\) must be a finite positive number/],
    [{ layer_norm_eps: -1e-6 }, 'layer_norm_eps', /finite positive/],
    [{ layer_norm_eps: '1e-6' }, 'layer_norm_eps', /finite positive/],
    [{ layer_norm_eps: Infinity }, 'layer_norm_eps', /finite positive/],
    [{ mlp_ratio: 0 }, 'mlp_ratio', /positive number/],
    [{ mlp_ratio: 0.001 }, 'mlp_ratio', /leaves the MLP with no hidden units/],
    [{ hidden_dropout_prob: 1.5 }, 'hidden_dropout_prob', /in \[0, 1\]/],
    [{ attention_probs_dropout_prob: -0.1 }, 'attention_probs_dropout_prob', /in \[0, 1\]/],
    [{ drop_path_rate: NaN }, 'drop_path_rate', /in \[0, 1\]/],
    [{ initializer_range: -1 }, 'initializer_range', /non-negative/],
    [{ layerscale_value: 'x' }, 'layerscale_value', /finite number/],
    [{ qkv_bias: 'true' }, 'qkv_bias', /\("true"\) must be true or false/],
    [{ use_swiglu_ffn: 1 }, 'use_swiglu_ffn', /true or false/],
    [{ apply_layernorm: null }, 'apply_layernorm', /true or false/],
    [{ reshape_hidden_states: 0 }, 'reshape_hidden_states', /true or false/],
    [{ architectures: 'Dinov2Model' }, 'architectures', /list of strings/],
    [{ architectures: [1] }, 'architectures', /list of strings/],
    [
      { stage_names: ['stem', 'stage1'] },
      'stage_names',
      /must be \["stem","stage1","stage2","stage3"\] for num_hidden_layers 3/,
    ],
    [{ torch_dtype: 32 }, 'torch_dtype', /must be a string/],
    [{ transformers_version: 4 }, 'transformers_version', /must be a string/],
  ])('reject %j', (changes, field, pattern) => {
    expectRejected(changes, field, pattern);
  });

  it('plain dinov2 checks use_mask_token', () => {
    const e = errorOf({ ...fixture('tiny-dinov2-plain'), use_mask_token: 'yes' });
    expect(e.field).toBe('use_mask_token');
  });
});
