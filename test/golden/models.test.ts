// Every golden case, every tensor, within 1e-4 relative of the float64 reference (transformers'
// semantics, cross-checked against the authors' code). Measured errors go to
// test-output/golden-errors.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Dinov2WithRegistersBackbone,
  Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersModel,
} from '../../src/model/modeling.js';
import { expectClose } from '../helpers/compare.js';
import { goldenModels } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

const errors: Record<string, Record<string, number>> = {};

afterAll(() => {
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/golden-errors.json', `${JSON.stringify(errors, null, 2)}\n`);
});

for (const fixture of goldenModels()) {
  describe(`${fixture.name} (${fixture.config.architectures[0]})`, () => {
    const isClassifier = fixture.config.architectures[0].endsWith('ForImageClassification');

    for (const c of fixture.cases) {
      it(`${c.case}: every output within 1e-4`, async () => {
        const device = await testDevice();
        const file = c.file;
        const pixel_values = { data: file.float32('pixel_values'), dims: file.info('pixel_values').shape };
        const bool_masked_pos = file.has('bool_masked_pos')
          ? { data: file.bytes('bool_masked_pos'), dims: file.info('bool_masked_pos').shape }
          : undefined;
        const measured: Record<string, number> = {};
        const compare = async (name: string, tensor: { read(): Promise<Float32Array>; dims: number[] }) => {
          expect(tensor.dims, `${name} dims`).toEqual(file.info(name).shape);
          measured[name] = expectClose(await tensor.read(), file.float32(name), `${fixture.name}/${c.case} ${name}`);
        };

        const model = await Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, { device });
        const out = await model.forward(pixel_values, { bool_masked_pos, output_hidden_states: true, output_attentions: true });
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

        if (isClassifier) {
          const classifier = await Dinov2WithRegistersForImageClassification.fromCheckpoint(fixture.config, fixture.weights, { device });
          await compare('logits', (await classifier.forward(pixel_values, { bool_masked_pos })).logits);
          classifier.dispose();
        }
        if (c.out_indices) {
          const backbone = await Dinov2WithRegistersBackbone.fromCheckpoint(fixture.config, fixture.weights, { device });
          const maps = (await backbone.forward(pixel_values, { bool_masked_pos, out_indices: c.out_indices })).feature_maps;
          expect(maps.length).toBe(c.out_indices.length);
          for (const [j, t] of maps.entries()) await compare(`feature_maps.${j}`, t);
          backbone.dispose();
        }
        errors[`${fixture.name}/${c.case}`] = measured;
      });
    }
  });
}
