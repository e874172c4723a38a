import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/io/config.js';
import { parseDinov3Config } from '../../src/io/config_dinov3.js';

const golden = (name: string) =>
  JSON.parse(readFileSync(`test/fixtures/golden-dinov3/${name}/config.json`, 'utf8')) as Record<
    string,
    unknown
  >;

describe('parseDinov3Config reads DINOv3ViTConfig', () => {
  it('the golden checkpoints, every field as written', () => {
    const mlp = parseDinov3Config(golden('tiny-v3-mlp'));
    expect(mlp).toMatchObject({
      model_type: 'dinov3_vit',
      architectures: ['DINOv3ViTModel'],
      hidden_size: 64,
      intermediate_size: 256,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      num_register_tokens: 4,
      patch_size: 16,
      layer_norm_eps: 1e-5,
      rope_theta: 100,
      query_bias: true,
      key_bias: false,
      value_bias: true,
      proj_bias: true,
      mlp_bias: true,
      use_gated_mlp: false,
      pos_embed_shift: null,
      pos_embed_jitter: null,
      pos_embed_rescale: 2,
      torch_dtype: 'float32',
      stage_names: ['stem', 'stage1', 'stage2', 'stage3'],
      out_features: ['stage3'],
      out_indices: [3],
    });
    expect(parseDinov3Config(golden('tiny-v3-swiglu-nobias'))).toMatchObject({
      use_gated_mlp: true,
      hidden_act: 'silu',
      query_bias: false,
      value_bias: false,
    });
    expect(parseDinov3Config(golden('tiny-v3-noreg-p8'))).toMatchObject({
      num_register_tokens: 0,
      key_bias: true,
    });
  });

  it("transformers' defaults for a config that gives only its type (ViT-S/16, eps 1e-5, theta 100)", () => {
    expect(parseDinov3Config({ model_type: 'dinov3_vit' })).toMatchObject({
      hidden_size: 384,
      intermediate_size: 1536,
      num_hidden_layers: 12,
      num_attention_heads: 6,
      patch_size: 16,
      layer_norm_eps: 1e-5,
      rope_theta: 100,
      num_register_tokens: 0,
      key_bias: false,
      apply_layernorm: true,
      reshape_hidden_states: true,
    });
  });

  it('backbone fields aligned as transformers aligns them', () => {
    const c = parseDinov3Config({
      model_type: 'dinov3_vit',
      num_hidden_layers: 4,
      out_indices: [-1, 2].reverse(),
    });
    expect(c.out_indices).toEqual([2, 4]);
    expect(c.out_features).toEqual(['stage2', 'stage4']);
  });

  it.each([
    [{ hidden_size: 40, num_attention_heads: 4 }, 'hidden_size', /multiple of 4 for 2D RoPE/],
    [{ hidden_size: 30, num_attention_heads: 4 }, 'hidden_size', /divisible/],
    [{ rope_theta: 0 }, 'rope_theta', /positive/],
    [{ intermediate_size: 0 }, 'intermediate_size', /positive integer/],
    [{ key_bias: 'no' }, 'key_bias', /true or false/],
    [{ pos_embed_rescale: -1 }, 'pos_embed_rescale', /null or a positive number/],
    [{ hidden_act: 'tanh' }, 'hidden_act', /one of/],
    [{ out_features: ['stage99'] }, 'out_features', /not one of stage_names/],
    [{ stage_names: ['stem'] }, 'stage_names', /must be/],
  ])('%j is a ConfigError naming %s', (fields, field, message) => {
    let error: unknown;
    try {
      parseDinov3Config({ model_type: 'dinov3_vit', ...fields }, 'x/config.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
    expect((error as Error).message).toMatch(/^x\/config\.json: /);
    expect((error as Error).message).toMatch(message);
  });

  it('parseConfig names a DINOv3 config as such instead of calling its model_type unknown', () => {
    expect(() => parseConfig(golden('tiny-v3-mlp'))).toThrow(/"dinov3_vit" is a DINOv3 checkpoint/);
  });
});
