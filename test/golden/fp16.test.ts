// dtype 'fp16' on every golden and generated case: each output within 1e-2 relative of the float64
// reference (the bound for half precision). SwiftShader has no shader-f16, so the path is
// run as 'fp16-emulated': the same kernels with every half-precision store rounded to f16, which are
// the values 'fp16' computes (test/kernels/half.test.ts shows that the f16 variants of the kernels
// compile and reflect the same bindings). Where the adapter offers shader-f16, 'fp16' itself runs
// too. Measured errors go to test-output/golden-fp16-errors.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Dinov2WithRegistersBackbone,
  Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersModel,
} from '../../src/model/modeling.js';
import type { ModelDtype } from '../../src/model/precision.js';
import { expectClose, relativeError } from '../helpers/compare.js';
import { goldenModels } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

const FP16_TOLERANCE = 1e-2;
const errors: Record<string, Record<string, number>> = {};

afterAll(() => {
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/golden-fp16-errors.json', `${JSON.stringify(errors, null, 2)}\n`);
});

const device = await testDevice();
const dtypes: ModelDtype[] = ['fp16-emulated', ...(device.device.features.has('shader-f16') ? (['fp16'] as const) : [])];

for (const dtype of dtypes) {
  for (const fixture of goldenModels()) {
    describe(`${dtype}: ${fixture.name} (${fixture.config.architectures[0]})`, () => {
      const isClassifier = fixture.config.architectures[0].endsWith('ForImageClassification');

      for (const c of fixture.cases) {
        it(`${c.case}: every output within 1e-2`, async () => {
          const file = c.file;
          const pixel_values = { data: file.float32('pixel_values'), dims: file.info('pixel_values').shape };
          const bool_masked_pos = file.has('bool_masked_pos')
            ? { data: file.bytes('bool_masked_pos'), dims: file.info('bool_masked_pos').shape }
            : undefined;
          const measured: Record<string, number> = {};
          const compare = async (name: string, tensor: { read(): Promise<Float32Array>; dims: number[] }) => {
            expect(tensor.dims, `${name} dims`).toEqual(file.info(name).shape);
            measured[name] = expectClose(await tensor.read(), file.float32(name), `${dtype} ${fixture.name}/${c.case} ${name}`, FP16_TOLERANCE);
          };
          const options = { device, dtype };

          const model = await Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, options);
          expect(model.dtype).toBe(dtype);
          const out = await model.forward(pixel_values, { bool_masked_pos, output_hidden_states: true, output_attentions: true });
          const last = await out.last_hidden_state.read();
          await compare('last_hidden_state', out.last_hidden_state);
          // Half precision is really in effect: an f32 engine lands near 1e-6, f16 storage near 1e-3.
          expect(relativeError(last, file.float32('last_hidden_state'))).toBeGreaterThan(1e-5);
          await compare('pooler_output', out.pooler_output);
          for (const [i, t] of out.hidden_states!.entries()) await compare(`hidden_states.${i}`, t);
          for (const [i, t] of out.attentions!.entries()) await compare(`attentions.${i}`, t);
          model.dispose();

          if (isClassifier) {
            const classifier = await Dinov2WithRegistersForImageClassification.fromCheckpoint(fixture.config, fixture.weights, options);
            await compare('logits', (await classifier.forward(pixel_values, { bool_masked_pos })).logits);
            classifier.dispose();
          }
          if (c.out_indices) {
            const backbone = await Dinov2WithRegistersBackbone.fromCheckpoint(fixture.config, fixture.weights, options);
            const maps = (await backbone.forward(pixel_values, { bool_masked_pos, out_indices: c.out_indices })).feature_maps;
            for (const [j, t] of maps.entries()) await compare(`feature_maps.${j}`, t);
            backbone.dispose();
          }
          errors[`${dtype} ${fixture.name}/${c.case}`] = measured;
        });
      }
    });
  }
}

describe("dtype 'fp16' without shader-f16", () => {
  it.skipIf(device.device.features.has('shader-f16'))('is refused naming the missing feature and the alternatives', async () => {
    const fixture = goldenModels()[0];
    await expect(Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, { device, dtype: 'fp16' })).rejects.toThrow(/shader-f16.*'fp32'.*'fp16-emulated'/s);
  });

  it('an unknown dtype is refused with the accepted spellings', async () => {
    const fixture = goldenModels()[0];
    await expect(Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, { device, dtype: 'int8' as never })).rejects.toThrow(/'fp32'.*'fp16'/s);
  });
});
