// The float64 CPU reference against the golden fixtures (made with PyTorch, cross-checked against
// the authors' DINOv2): every stored tensor of every case within 1e-6 relative
// (max |ref - golden| / max |golden|). The generated fixtures, made by this reference, must read back.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { namedOutputs, referenceForward } from './dinov2_f64.js';
import {
  caseInputs,
  expectedNames,
  fixtureModelDirs,
  loadCaseFile,
  loadFixtureModel,
  relativeError,
} from './fixtures.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const TOLERANCE = 1e-6;

const report: string[] = [];

for (const set of ['golden', 'generated']) {
  const root = join(FIXTURES, set);
  const models = fixtureModelDirs(root);
  describe(`float64 reference vs ${set} fixtures`, () => {
    it(`finds the ${set} models`, () =>
      expect(models.length).toBeGreaterThanOrEqual(set === 'golden' ? 6 : 8));
    for (const name of models) {
      const model = loadFixtureModel(join(root, name), name);
      for (const c of model.cases) {
        it(`${name} / ${c.case}: every output within ${TOLERANCE} relative`, () => {
          const file = loadCaseFile(model, c);
          const inputs = caseInputs(file, c);
          expect([inputs.batch, model.config.num_channels, inputs.height, inputs.width]).toEqual(c.shape);
          const ours = namedOutputs(referenceForward(model.config, model.weights, inputs));
          const stored = expectedNames(file);
          // The same set of outputs: nothing stored that we do not compute, nothing computed that is not stored.
          expect([...ours.keys()].sort()).toEqual([...stored].sort());
          let worst = 0;
          let worstName = '';
          const failures: string[] = [];
          for (const tensorName of stored) {
            const expected = file.float64(tensorName);
            const mine = ours.get(tensorName)!;
            expect(mine.dims, tensorName).toEqual(file.info(tensorName).shape);
            const err = relativeError(mine.data, expected);
            if (err > worst) [worst, worstName] = [err, tensorName];
            if (!(err <= TOLERANCE)) failures.push(`${tensorName}: ${err.toExponential(2)}`);
          }
          report.push(
            `${set}/${name}/${c.case}: worst ${worst.toExponential(2)} (${worstName}) over ${stored.length} tensors`,
          );
          expect(failures).toEqual([]);
        });
      }
    }
  });
}

afterAll(() => {
  if (report.length > 0)
    console.log(`float64 reference, max relative error per case:\n  ${report.join('\n  ')}`);
});
