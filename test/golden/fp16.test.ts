// dtype 'fp16' on every golden and generated case: each output within 1e-2 relative of the float64
// reference (the bound for half precision). SwiftShader has no shader-f16, so the path is
// run as 'fp16-emulated': the same kernels with every half-precision store rounded to f16, which are
// the values 'fp16' computes (test/kernels/half.test.ts shows that the f16 variants of the kernels
// type-check and reflect the same bindings). Where the adapter offers shader-f16, 'fp16' itself runs
// too. Measured errors go to test-output/golden-fp16-errors.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Dinov2WithRegistersModel } from '../../src/model/modeling.js';
import type { ModelDtype } from '../../src/model/precision.js';
import { dinov3GoldenModels, goldenModels } from '../helpers/fixtures.js';
import { checkGoldenCase } from '../helpers/golden_case.js';
import { testDevice } from '../helpers/gpu.js';

const FP16_TOLERANCE = 1e-2;
const errors: Record<string, Record<string, number>> = {};

afterAll(() => {
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/golden-fp16-errors.json', `${JSON.stringify(errors, null, 2)}\n`);
});

const device = await testDevice();
const dtypes: ModelDtype[] = [
  'fp16-emulated',
  ...(device.device.features.has('shader-f16') ? (['fp16'] as const) : []),
];

for (const dtype of dtypes) {
  for (const fixture of [...goldenModels(), ...dinov3GoldenModels()]) {
    describe(`${dtype}: ${fixture.name} (${fixture.config.architectures[0]})`, () => {
      for (const c of fixture.cases) {
        it(`${c.case}: every output within 1e-2`, async () => {
          const measured = await checkGoldenCase(fixture, c, { device, dtype }, FP16_TOLERANCE, `${dtype} `);
          // Half precision is really in effect: an f32 engine lands near 1e-6, f16 storage near 1e-3.
          expect(measured.last_hidden_state).toBeGreaterThan(1e-5);
          errors[`${dtype} ${fixture.name}/${c.case}`] = measured;
        });
      }
    });
  }
}

describe("dtype 'fp16' without shader-f16", () => {
  it.skipIf(device.device.features.has('shader-f16'))(
    'is refused naming the missing feature and the alternatives',
    async () => {
      const fixture = goldenModels()[0];
      await expect(
        Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, { device, dtype: 'fp16' }),
      ).rejects.toThrow(/shader-f16.*'fp32'.*'fp16-emulated'/s);
    },
  );

  it('model.dtype is what it was loaded with, in any spelling', async () => {
    const fixture = goldenModels()[0];
    for (const [dtype, want] of [
      [undefined, 'fp32'],
      ['float32', 'fp32'],
      ['auto', 'fp32'],
      ['fp16-emulated', 'fp16-emulated'],
    ] as const) {
      const model = await Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, {
        device,
        dtype,
      });
      expect(model.dtype).toBe(want);
      model.dispose();
    }
  });

  it('an unknown dtype is refused with the accepted spellings', async () => {
    const fixture = goldenModels()[0];
    await expect(
      Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, {
        device,
        dtype: 'int8' as never,
      }),
    ).rejects.toThrow(/'fp32'.*'fp16'/s);
  });
});
