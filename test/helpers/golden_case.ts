// One golden case through the three classes, every output against its reference: shared by the
// fp32 check (test/golden/models.test.ts, 1e-4) and the fp16 one (test/golden/fp16.test.ts, 1e-2).
import { expect } from 'vitest';
import {
  Dinov2WithRegistersBackbone,
  Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersModel,
  type LoadOptions,
} from '../../src/model/modeling.js';
import { isDinov3, type ModelConfig } from '../../src/io/model_config.js';
import type { TensorSource } from '../../src/io/tensors.js';
import { DINOv3ViTBackbone, DINOv3ViTModel } from '../../src/model/modeling_dinov3.js';
import { expectClose } from './compare.js';
import type { GoldenCase, GoldenModel } from './fixtures.js';

/** Runs `c` with `options` and returns the relative error of every output it compared. */
export async function checkGoldenCase(
  fixture: GoldenModel<ModelConfig>,
  c: GoldenCase,
  options: LoadOptions,
  tolerance: number,
  label = '',
): Promise<Record<string, number>> {
  const file = c.file;
  const pixel_values = { data: file.float32('pixel_values'), dims: file.info('pixel_values').shape };
  const bool_masked_pos = file.has('bool_masked_pos')
    ? { data: file.bytes('bool_masked_pos'), dims: file.info('bool_masked_pos').shape }
    : undefined;
  const measured: Record<string, number> = {};
  const compare = async (name: string, tensor: { read(): Promise<Float32Array>; dims: number[] }) => {
    expect(tensor.dims, `${name} dims`).toEqual(file.info(name).shape);
    measured[name] = expectClose(
      await tensor.read(),
      file.float32(name),
      `${label}${fixture.name}/${c.case} ${name}`,
      tolerance,
    );
  };

  const dinov3 = isDinov3(fixture.config);
  type Loader<M> = { fromCheckpoint(c: ModelConfig, w: TensorSource, o: LoadOptions): Promise<M> };
  const Model: Loader<Dinov2WithRegistersModel | DINOv3ViTModel> = dinov3
    ? DINOv3ViTModel
    : Dinov2WithRegistersModel;
  const Backbone: Loader<Dinov2WithRegistersBackbone | DINOv3ViTBackbone> = dinov3
    ? DINOv3ViTBackbone
    : Dinov2WithRegistersBackbone;
  const model = await Model.fromCheckpoint(fixture.config, fixture.weights, options);
  const out = await model.forward(pixel_values, {
    bool_masked_pos,
    output_hidden_states: true,
    output_attentions: true,
  });
  await compare('last_hidden_state', out.last_hidden_state);
  await compare('pooler_output', out.pooler_output);
  const hiddenNames = file.names.filter((n) => n.startsWith('hidden_states.'));
  const attentionNames = file.names.filter((n) => n.startsWith('attentions.'));
  expect(out.hidden_states!.length).toBe(fixture.config.num_hidden_layers + 1);
  expect(hiddenNames.length).toBe(fixture.config.num_hidden_layers + 1);
  expect(attentionNames.length).toBe(fixture.config.num_hidden_layers);
  for (const [i, t] of out.hidden_states!.entries()) await compare(`hidden_states.${i}`, t);
  for (const [i, t] of out.attentions!.entries()) await compare(`attentions.${i}`, t);
  model.dispose();

  if (!dinov3 && fixture.config.architectures[0].endsWith('ForImageClassification')) {
    const classifier = await Dinov2WithRegistersForImageClassification.fromCheckpoint(
      fixture.config,
      fixture.weights,
      options,
    );
    await compare('logits', (await classifier.forward(pixel_values, { bool_masked_pos })).logits);
    classifier.dispose();
  }
  if (c.out_indices) {
    const backbone = await Backbone.fromCheckpoint(fixture.config, fixture.weights, options);
    const maps = (await backbone.forward(pixel_values, { bool_masked_pos, out_indices: c.out_indices }))
      .feature_maps;
    expect(maps.length).toBe(c.out_indices.length);
    for (const [j, t] of maps.entries()) await compare(`feature_maps.${j}`, t);
    backbone.dispose();
  }
  return measured;
}
