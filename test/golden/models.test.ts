// Every golden case, every tensor, within 1e-4 relative of the float64 reference (transformers'
// semantics, cross-checked against the authors' code). Measured errors go to
// test-output/golden-errors.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, it } from 'vitest';
import { TOLERANCE } from '../helpers/compare.js';
import { dinov3GoldenModels, goldenModels } from '../helpers/fixtures.js';
import { checkGoldenCase } from '../helpers/golden_case.js';
import { testDevice } from '../helpers/gpu.js';

const errors: Record<string, Record<string, number>> = {};

afterAll(() => {
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/golden-errors.json', `${JSON.stringify(errors, null, 2)}\n`);
});

for (const fixture of [...goldenModels(), ...dinov3GoldenModels()]) {
  describe(`${fixture.name} (${fixture.config.architectures[0]})`, () => {
    for (const c of fixture.cases) {
      it(`${c.case}: every output within 1e-4`, async () => {
        errors[`${fixture.name}/${c.case}`] = await checkGoldenCase(
          fixture,
          c,
          { device: await testDevice() },
          TOLERANCE,
        );
      });
    }
  });
}
