// The configurations this engine runs, one type for the model classes: DINOv2 (with registers, or
// plain) and DINOv3 ViT, told apart by model_type. parseModelConfig reads config.json by that field.
import { ConfigError, type Dinov2Config, mlpHiddenSize, parseConfig } from './config.js';
import { type Dinov3Config, parseDinov3Config } from './config_dinov3.js';
import { describeJson } from './safetensors.js';

export type ModelConfig = Dinov2Config | Dinov3Config;

export function isDinov3(config: ModelConfig): config is Dinov3Config {
  return config.model_type === 'dinov3_vit';
}

/** config.json of any model this library runs, parsed by its model_type (DINOv2's parser names the accepted types). */
export function parseModelConfig(json: unknown, source = 'config.json'): ModelConfig {
  const type = (json as { model_type?: unknown } | null)?.model_type;
  if (type === 'dinov3_vit') return parseDinov3Config(json, source);
  if (type === 'dinov2_with_registers' || type === 'dinov2' || typeof json !== 'object' || json === null)
    return parseConfig(json, source);
  throw new ConfigError(
    'model_type',
    `${source}: model_type ${describeJson(type)} is not one this library runs ("dinov2_with_registers", "dinov2", "dinov3_vit")`,
  );
}

/** Width of the MLP's hidden layer (per half with a gated MLP): DINOv3 states it, DINOv2 derives it from mlp_ratio. */
export function mlpFeatures(config: ModelConfig): number {
  return isDinov3(config) ? config.intermediate_size : mlpHiddenSize(config);
}
