// Dispatches per forward, for both families: the embeddings (im2col, the patch projection, the
// token assembly), five per layer (qkv with norm1, attention, the output projection with λ1 and
// the residual, the MLP's two projections), the final norm. DINOv3's RoPE adds none: attention.wgsl
// rotates q and k as it reads them.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/io/model_config.js';
import { loadModel } from '../../src/model/auto.js';
import { dinov3GoldenModels, type GoldenModel, goldenModels } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

const EMBEDDINGS = 3;
const PER_LAYER = 5;
const FINAL_NORM = 1;

describe('dispatches per forward', () => {
  const fixtures: GoldenModel<ModelConfig>[] = [
    goldenModels().find((f) => f.name === 'tiny-gelu')!,
    ...dinov3GoldenModels().filter((f) => f.dir.includes('golden-dinov3')),
  ];
  for (const fixture of fixtures) {
    it(`${fixture.name}: ${EMBEDDINGS} + ${PER_LAYER} per layer + ${FINAL_NORM}`, async () => {
      const model = await loadModel(fixture.config, fixture.weights, { device: await testDevice() });
      const file = fixture.cases[0].file;
      const out = await model.forward({
        data: file.float32('pixel_values'),
        dims: file.info('pixel_values').shape,
      });
      const layers = fixture.config.num_hidden_layers;
      expect(model.lastStats.dispatches).toBe(EMBEDDINGS + PER_LAYER * layers + FINAL_NORM);
      for (const t of Object.values(out)) if (t && 'dispose' in t) t.dispose();
      model.dispose();
    });
  }
});
