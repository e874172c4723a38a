import type { Dinov2Config } from '../io/config.js';
import {
  Dinov2WithRegistersBackbone,
  Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersModel,
  LoadOptions,
} from './modeling.js';
import { TensorSource } from './parameters.js';

export type AnyDinov2Model = Dinov2WithRegistersModel | Dinov2WithRegistersForImageClassification | Dinov2WithRegistersBackbone;

/** transformers' architectures names -> our classes (plain Dinov2 names map to the same classes). */
export const ARCHITECTURES = {
  Dinov2WithRegistersModel,
  Dinov2Model: Dinov2WithRegistersModel,
  Dinov2WithRegistersForImageClassification,
  Dinov2ForImageClassification: Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersBackbone,
  Dinov2Backbone: Dinov2WithRegistersBackbone,
} as const;

/** The class named first in config.architectures (the base model when none is named). */
export function modelClassFor(config: Dinov2Config) {
  const name = config.architectures[0] ?? 'Dinov2WithRegistersModel';
  const cls = (ARCHITECTURES as Record<string, (typeof ARCHITECTURES)[keyof typeof ARCHITECTURES]>)[name];
  if (!cls) throw new Error(`config.json: architectures names ${name}; supported: ${Object.keys(ARCHITECTURES).join(', ')}`);
  return cls;
}

export async function loadModel(config: Dinov2Config, source: TensorSource, options: LoadOptions = {}): Promise<AnyDinov2Model> {
  return modelClassFor(config).fromCheckpoint(config, source, options);
}
