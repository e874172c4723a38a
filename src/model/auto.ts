import type { Dinov2Config } from '../io/config.js';
import {
  Dinov2WithRegistersBackbone,
  Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersModel,
  type LoadOptions,
} from './modeling.js';
import type { TensorSource } from '../io/tensors.js';
import { BitImageProcessor } from '../image/processor.js';
import { imageProcessorFromConfig } from '../image/processors.js';
import { checkpointFiles, type HubOptions, type PretrainedSource } from '../io/hub.js';
import { readJson } from '../io/stream.js';
import { type ModelBuilder, openChecked, type PretrainedOptions } from './from_pretrained.js';
import type { OpenedCheckpoint } from '../io/pretrained.js';

export type AnyDinov2Model =
  | Dinov2WithRegistersModel
  | Dinov2WithRegistersForImageClassification
  | Dinov2WithRegistersBackbone;

/** transformers' architectures names -> our classes (plain Dinov2 names map to the same classes). */
export const ARCHITECTURES = {
  Dinov2WithRegistersModel,
  Dinov2Model: Dinov2WithRegistersModel,
  Dinov2WithRegistersForImageClassification,
  Dinov2ForImageClassification: Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersBackbone,
  Dinov2Backbone: Dinov2WithRegistersBackbone,
} as const;

/** What the three classes share as classes: their loaders. */
export interface ModelClass {
  readonly name: string;
  readonly build: ModelBuilder<AnyDinov2Model>;
  fromCheckpoint(config: Dinov2Config, source: TensorSource, options?: LoadOptions): Promise<AnyDinov2Model>;
  fromOpened(opened: OpenedCheckpoint, options?: PretrainedOptions): Promise<AnyDinov2Model>;
}

/** The class named first in config.architectures (the base model when none is named). */
export function modelClassFor(config: Dinov2Config): ModelClass {
  const name = config.architectures[0] ?? 'Dinov2WithRegistersModel';
  const cls = (ARCHITECTURES as Record<string, ModelClass>)[name];
  if (!cls)
    throw new Error(
      `config.json: architectures names ${name}; supported: ${Object.keys(ARCHITECTURES).join(', ')}`,
    );
  return cls;
}

export async function loadModel(
  config: Dinov2Config,
  source: TensorSource,
  options: LoadOptions = {},
): Promise<AnyDinov2Model> {
  return modelClassFor(config).fromCheckpoint(config, source, options);
}

/**
 * transformers' AutoModel for these checkpoints: the class config.json's architectures names
 * (the base model when it names none), loaded by that class's from_pretrained.
 */
export const AutoModel = {
  async from_pretrained(source: PretrainedSource, options: PretrainedOptions = {}): Promise<AnyDinov2Model> {
    const opened = await openChecked(source, options);
    return modelClassFor(opened.config).fromOpened(opened, options);
  },
};

/** The image processor of a checkpoint: its preprocessor_config.json, or DINOv2's defaults when it has none. */
export const AutoImageProcessor = {
  async from_pretrained(source: PretrainedSource, options: HubOptions = {}): Promise<BitImageProcessor> {
    const files = await checkpointFiles(source, options);
    const file = await files.open('preprocessor_config.json');
    if (!file) return new BitImageProcessor();
    return processorFor(await readJson(file, options.signal), `${files.label}/preprocessor_config.json`);
  },
};

/**
 * The BitImageProcessor of a DINOv2 checkpoint's preprocessor_config.json (parsed JSON; undefined:
 * DINOv2's defaults). An image_processor_type other than BitImageProcessor is refused, never run as
 * DINOv2's processor: DINOv3's (DINOv3ViTImageProcessor, exported) goes with DINOv3 models, which
 * this version does not run yet.
 */
export function processorFor(json: unknown, source = 'preprocessor_config.json'): BitImageProcessor {
  const processor = imageProcessorFromConfig(json, source);
  if (!(processor instanceof BitImageProcessor)) {
    throw new Error(
      `${source}: image_processor_type ${JSON.stringify((json as { image_processor_type?: unknown }).image_processor_type)} is DINOv3's processor; this version runs DINOv2 models only (DINOv3ViTImageProcessor preprocesses for DINOv3)`,
    );
  }
  return processor;
}
