import { isDinov3, type ModelConfig } from '../io/model_config.js';
import { DINOv3ViTBackbone, DINOv3ViTModel } from './modeling_dinov3.js';
import {
  Dinov2WithRegistersBackbone,
  Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersModel,
  type LoadOptions,
} from './modeling.js';
import type { TensorSource } from '../io/tensors.js';
import { type ImageProcessor, imageProcessorFromConfig, type ProcessorFamily } from '../image/processors.js';
import { checkpointFiles, type HubOptions, type PretrainedSource } from '../io/hub.js';
import { readJson } from '../io/stream.js';
import { type ModelBuilder, openChecked, type PretrainedOptions } from './from_pretrained.js';
import type { OpenedCheckpoint } from '../io/pretrained.js';

/** Any model class this library loads (what AutoModel returns). */
export type AnyModel =
  | Dinov2WithRegistersModel
  | Dinov2WithRegistersForImageClassification
  | Dinov2WithRegistersBackbone
  | DINOv3ViTModel
  | DINOv3ViTBackbone;
/** @deprecated The name from before DINOv3: AnyModel. */
export type AnyDinov2Model = AnyModel;

/** transformers' architectures names -> our classes (plain Dinov2 names map to the same classes). */
export const ARCHITECTURES = {
  Dinov2WithRegistersModel,
  Dinov2Model: Dinov2WithRegistersModel,
  Dinov2WithRegistersForImageClassification,
  Dinov2ForImageClassification: Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersBackbone,
  Dinov2Backbone: Dinov2WithRegistersBackbone,
  DINOv3ViTModel,
  DINOv3ViTBackbone,
} as const;

/** What the model classes share as classes: their loaders. */
export interface ModelClass {
  readonly name: string;
  readonly build: ModelBuilder<AnyModel>;
  fromCheckpoint(config: ModelConfig, source: TensorSource, options?: LoadOptions): Promise<AnyModel>;
  fromOpened(opened: OpenedCheckpoint, options?: PretrainedOptions): Promise<AnyModel>;
}

/** The class named first in config.architectures (the family's base model when none is named). */
export function modelClassFor(config: ModelConfig): ModelClass {
  const base = isDinov3(config) ? 'DINOv3ViTModel' : 'Dinov2WithRegistersModel';
  const name = config.architectures[0] ?? base;
  const cls = (ARCHITECTURES as Record<string, ModelClass>)[name];
  if (!cls)
    throw new Error(
      `config.json: architectures names ${name}; supported: ${Object.keys(ARCHITECTURES).join(', ')}`,
    );
  return cls;
}

export async function loadModel(
  config: ModelConfig,
  source: TensorSource,
  options: LoadOptions = {},
): Promise<AnyModel> {
  return modelClassFor(config).fromCheckpoint(config, source, options);
}

/**
 * transformers' AutoModel for these checkpoints: the class config.json's architectures names
 * (the base model when it names none), loaded by that class's from_pretrained.
 */
export const AutoModel = {
  async from_pretrained(source: PretrainedSource, options: PretrainedOptions = {}): Promise<AnyModel> {
    const opened = await openChecked(source, options);
    return modelClassFor(opened.config).fromOpened(opened, options);
  },
};

/** The base model of either family: last_hidden_state and pooler_output. */
export type BaseModel = Dinov2WithRegistersModel | DINOv3ViTModel;

/**
 * The base model of a checkpoint's family (Dinov2WithRegistersModel or DINOv3ViTModel), whatever
 * class config.json names (a classifier's head is left unused): what feature extraction runs.
 */
export async function baseModelFrom(
  source: PretrainedSource,
  options: PretrainedOptions = {},
): Promise<BaseModel> {
  const opened = await openChecked(source, options);
  return isDinov3(opened.config)
    ? DINOv3ViTModel.fromOpened(opened, options)
    : Dinov2WithRegistersModel.fromOpened(opened, options);
}

/**
 * The image processor of a checkpoint: the one its preprocessor_config.json names, or its model
 * family's defaults (config.json's model_type) when it has none.
 */
export const AutoImageProcessor = {
  async from_pretrained(source: PretrainedSource, options: HubOptions = {}): Promise<ImageProcessor> {
    const files = await checkpointFiles(source, options);
    const file = await files.open('preprocessor_config.json');
    const json = file ? await readJson(file, options.signal) : undefined;
    let family: ProcessorFamily = 'dinov2';
    if ((json as { image_processor_type?: unknown } | undefined)?.image_processor_type === undefined) {
      const config = await files.open('config.json');
      const type =
        config && ((await readJson(config, options.signal)) as { model_type?: unknown }).model_type;
      if (type === 'dinov3_vit') family = 'dinov3';
    }
    return imageProcessorFromConfig(json, `${files.label}/preprocessor_config.json`, family);
  },
};

/**
 * The image processor of a model's preprocessor_config.json (parsed JSON): the one its
 * image_processor_type names, else the model family's (DINOv3's for a DINOv3 config, else
 * BitImageProcessor); undefined: that family's defaults. A type this library does not implement is
 * refused, never run as another processor.
 */
export function processorFor(
  json: unknown,
  source = 'preprocessor_config.json',
  config?: ModelConfig,
): ImageProcessor {
  return imageProcessorFromConfig(json, source, config && isDinov3(config) ? 'dinov3' : 'dinov2');
}

/** The image processor of a loaded model: processorFor its preprocessor_config.json and config. */
export function modelProcessor(model: {
  preprocessorConfig: unknown;
  source: string | undefined;
  config: ModelConfig;
}): ImageProcessor {
  return processorFor(model.preprocessorConfig, `${model.source}/preprocessor_config.json`, model.config);
}
