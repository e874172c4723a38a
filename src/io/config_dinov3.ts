// config.json of transformers' DINOv3ViTConfig (model_type "dinov3_vit"), every field with
// transformers' name and default, checked with the same typed errors as the DINOv2 configs.
// pos_embed_shift / jitter / rescale are training-time augmentations of the RoPE coordinates:
// read and validated, ignored at inference. The backbone fields follow transformers'
// BackboneConfigMixin (stage_names 'stem', 'stage1'..'stageL').
import {
  alignOutputs,
  ConfigError,
  type Fail,
  fieldReaders,
  HIDDEN_ACTS,
  type HiddenAct,
  MAX_HIDDEN_LAYERS,
} from './config.js';
import { describeJson } from './safetensors.js';

export interface Dinov3Config {
  model_type: 'dinov3_vit';
  architectures: string[];
  patch_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  hidden_act: HiddenAct;
  attention_dropout: number;
  initializer_range: number;
  layer_norm_eps: number;
  rope_theta: number;
  image_size: number;
  num_channels: number;
  query_bias: boolean;
  key_bias: boolean;
  value_bias: boolean;
  proj_bias: boolean;
  mlp_bias: boolean;
  layerscale_value: number;
  drop_path_rate: number;
  use_gated_mlp: boolean;
  num_register_tokens: number;
  /** Training only (null: off). */
  pos_embed_shift: number | null;
  pos_embed_jitter: number | null;
  pos_embed_rescale: number | null;
  apply_layernorm: boolean;
  reshape_hidden_states: boolean;
  stage_names: string[];
  out_features: string[];
  out_indices: number[];
  /** Defaults of the forward options of the same names (PretrainedConfig's). */
  output_attentions?: boolean;
  output_hidden_states?: boolean;
  torch_dtype?: string;
  transformers_version?: string;
}

// DINOv3ViTConfig's defaults: ViT-S/16 (facebook/dinov3-vits16-pretrain-lvd1689m) without registers.
const DEFAULTS = {
  patch_size: 16,
  hidden_size: 384,
  intermediate_size: 1536,
  num_hidden_layers: 12,
  num_attention_heads: 6,
  hidden_act: 'gelu',
  attention_dropout: 0,
  initializer_range: 0.02,
  layer_norm_eps: 1e-5,
  rope_theta: 100,
  image_size: 224,
  num_channels: 3,
  query_bias: true,
  key_bias: false,
  value_bias: true,
  proj_bias: true,
  mlp_bias: true,
  layerscale_value: 1.0,
  drop_path_rate: 0,
  use_gated_mlp: false,
  num_register_tokens: 0,
  apply_layernorm: true,
  reshape_hidden_states: true,
} as const;

export function parseDinov3Config(json: unknown, source = 'config.json'): Dinov3Config {
  const fail: Fail = (field, message) => {
    throw new ConfigError(field, `${source}: ${field} ${message}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return fail('(root)', 'is not a JSON object');
  const raw = json as Record<string, unknown>;
  if (raw.model_type !== 'dinov3_vit')
    return fail('model_type', `${describeJson(raw.model_type)} is not "dinov3_vit"`);
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
  } = fieldReaders(raw, DEFAULTS, fail);
  // null (as transformers writes None) or a positive number.
  const optionalPositive = (field: string, dflt: number | null): number | null => {
    const v = raw[field] === undefined ? dflt : raw[field];
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      return fail(field, `(${describeJson(v)}) must be null or a positive number`);
    return v;
  };

  const hidden_size = integer('hidden_size', 1);
  const num_hidden_layers = integer('num_hidden_layers', 1, MAX_HIDDEN_LAYERS);
  const num_attention_heads = integer('num_attention_heads', 1);
  if (hidden_size % num_attention_heads !== 0)
    fail('hidden_size', `(${hidden_size}) must be divisible by num_attention_heads (${num_attention_heads})`);
  const headSize = hidden_size / num_attention_heads;
  if (headSize % 4 !== 0)
    fail('hidden_size', `/ num_attention_heads (${headSize}) must be a multiple of 4 for 2D RoPE`);
  const hidden_act = get('hidden_act');
  if (!HIDDEN_ACTS.includes(hidden_act as HiddenAct))
    fail('hidden_act', `(${describeJson(hidden_act)}) must be one of ${HIDDEN_ACTS.join(', ')}`);
  const architectures = stringList('architectures', ['DINOv3ViTModel']);
  const stage_names = stageNames(num_hidden_layers);

  const config: Dinov3Config = {
    model_type: 'dinov3_vit',
    architectures,
    patch_size: integer('patch_size', 1),
    hidden_size,
    intermediate_size: integer('intermediate_size', 1),
    num_hidden_layers,
    num_attention_heads,
    hidden_act: hidden_act as HiddenAct,
    attention_dropout: probability('attention_dropout'),
    initializer_range: real('initializer_range', (v) => v >= 0, 'a non-negative number'),
    layer_norm_eps: real('layer_norm_eps', (v) => v > 0, 'a finite positive number'),
    rope_theta: real('rope_theta', (v) => v > 0, 'a finite positive number'),
    image_size: integer('image_size', 1),
    num_channels: integer('num_channels', 1),
    query_bias: boolean('query_bias'),
    key_bias: boolean('key_bias'),
    value_bias: boolean('value_bias'),
    proj_bias: boolean('proj_bias'),
    mlp_bias: boolean('mlp_bias'),
    layerscale_value: real('layerscale_value', () => true, 'a finite number'),
    drop_path_rate: probability('drop_path_rate'),
    use_gated_mlp: boolean('use_gated_mlp'),
    num_register_tokens: integer('num_register_tokens', 0),
    pos_embed_shift: optionalPositive('pos_embed_shift', null),
    pos_embed_jitter: optionalPositive('pos_embed_jitter', null),
    pos_embed_rescale: optionalPositive('pos_embed_rescale', 2.0),
    apply_layernorm: boolean('apply_layernorm'),
    reshape_hidden_states: boolean('reshape_hidden_states'),
    stage_names,
    ...alignOutputs(raw.out_features, raw.out_indices, stage_names, fail),
    output_attentions: optionalBoolean('output_attentions'),
    output_hidden_states: optionalBoolean('output_hidden_states'),
    torch_dtype: optionalString('torch_dtype') ?? optionalString('dtype'),
    transformers_version: optionalString('transformers_version'),
  };
  for (const key of [
    'output_attentions',
    'output_hidden_states',
    'torch_dtype',
    'transformers_version',
  ] as const)
    if (config[key] === undefined) delete config[key];
  return config;
}
