// DINOv3's model classes, named as in transformers (models/dinov3_vit): the same machinery as
// DINOv2's (PreTrainedModel in src/model/modeling.ts) on DINOv3's module tree, which the modules
// build from its config.json (keys `embeddings.*`, `layer.N.*`, `norm.*`; 2D RoPE in the attention).
import type { DeviceInfo } from '../gpu/device.js';
import type { StorageType } from '../gpu/shaders.js';
import { ConfigError } from '../io/config.js';
import type { Dinov3Config } from '../io/config_dinov3.js';
import { isDinov3, type ModelConfig } from '../io/model_config.js';
import type { ModelBuilder } from './from_pretrained.js';
import type { ForwardOptions, TensorLike } from './inputs.js';
import { type AllOutputs, type BackboneOutput, type BaseModelOutput, PreTrainedModel } from './modeling.js';

type WithIndices = ForwardOptions & { out_indices?: number[] };

/** transformers' DINOv3ViTPreTrainedModel: a DINOv3 module tree, read from bare checkpoint keys. */
export abstract class DINOv3ViTPreTrainedModel extends PreTrainedModel<Dinov3Config> {
  constructor(config: Dinov3Config, deviceInfo: DeviceInfo, storage: StorageType = 'f32') {
    super(config, deviceInfo, '', storage);
  }
}

function dinov3Only(config: ModelConfig, cls: string): Dinov3Config {
  if (!isDinov3(config)) {
    throw new ConfigError(
      'model_type',
      `${cls} runs DINOv3 checkpoints; this config.json is DINOv2's (model_type "${config.model_type}"): load it with Dinov2WithRegistersModel, Dinov2WithRegistersBackbone or AutoModel`,
    );
  }
  return config;
}

function builder<M extends DINOv3ViTPreTrainedModel>(
  cls: (new (config: Dinov3Config, deviceInfo: DeviceInfo, storage: StorageType) => M) & { name: string },
): ModelBuilder<M> {
  return (config, device, _names, storage) => ({
    model: new cls(dinov3Only(config, cls.name), device, storage),
  });
}

/**
 * DINOv3ViTModel: last_hidden_state (the final norm of every token) and pooler_output (the normed
 * cls token); hidden_states and attentions when asked; bool_masked_pos replaces patch tokens by
 * the mask token.
 */
export class DINOv3ViTModel extends DINOv3ViTPreTrainedModel {
  static readonly build: ModelBuilder<DINOv3ViTModel> = builder(DINOv3ViTModel);

  async forward(pixel_values: TensorLike, options: ForwardOptions = {}): Promise<BaseModelOutput> {
    return (await this.run('DINOv3ViTModel.forward', pixel_values, options, {
      sequence: true,
    })) as BaseModelOutput;
  }

  /** The base outputs plus feature maps for `out_indices` (the command line's `infer`). */
  async forwardAll(pixel_values: TensorLike, options: WithIndices = {}): Promise<AllOutputs> {
    const wanted = { sequence: true, featureMaps: options.out_indices ?? [] };
    return (await this.run('DINOv3ViTModel.forwardAll', pixel_values, options, wanted)) as AllOutputs;
  }
}

/**
 * DINOv3ViTBackbone: feature maps of the stages in out_features (stage 0 = embeddings), by the
 * backbone head (src/model/heads.ts).
 */
export class DINOv3ViTBackbone extends DINOv3ViTPreTrainedModel {
  static readonly build: ModelBuilder<DINOv3ViTBackbone> = builder(DINOv3ViTBackbone);

  /** `out_indices` overrides the config's for this call (indices into stage_names). */
  async forward(pixel_values: TensorLike, options: WithIndices = {}): Promise<BackboneOutput> {
    const wanted = { featureMaps: options.out_indices ?? this.config.out_indices };
    return (await this.run('DINOv3ViTBackbone.forward', pixel_values, options, wanted)) as BackboneOutput;
  }

  async forwardAll(pixel_values: TensorLike, options: WithIndices = {}): Promise<AllOutputs> {
    const wanted = { sequence: true, featureMaps: options.out_indices ?? this.config.out_indices };
    return (await this.run('DINOv3ViTBackbone.forwardAll', pixel_values, options, wanted)) as AllOutputs;
  }
}
