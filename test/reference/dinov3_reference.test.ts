// The DINOv3 float64 reference (and the engine's host RoPE tables it uses) against the golden
// DINOv3 fixtures (PyTorch float64 following transformers, cross-checked against the authors'
// code to 6e-15): every stored tensor of every case within 1e-6 relative.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { ropeTables64 } from '../../src/model/rope.js';
import { type Dinov3ReferenceConfig, dinov3ReferenceForward } from './dinov3_f64.js';
import { fixtureModelDirs, relativeError } from './fixtures.js';

const ROOT = join(import.meta.dirname, '..', 'fixtures', 'golden-dinov3');
const TOLERANCE = 1e-6;
const load = (path: string) => SafetensorsFile.parse(new Uint8Array(readFileSync(path)), path);

describe('float64 DINOv3 reference vs the golden DINOv3 fixtures', () => {
  const models = fixtureModelDirs(ROOT);
  it('finds the three golden models', () =>
    expect(models).toEqual(['tiny-v3-mlp', 'tiny-v3-noreg-p8', 'tiny-v3-swiglu-nobias']));
  for (const name of models) {
    const dir = join(ROOT, name);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Dinov3ReferenceConfig;
    const weights = load(join(dir, 'model.safetensors'));
    const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as { case: string }[];
    for (const c of cases) {
      it(`${name} / ${c.case}: every output within ${TOLERANCE} relative`, () => {
        const file = load(join(dir, `${c.case}.safetensors`));
        const [batch, , height, width] = file.info('pixel_values').shape;
        const out = dinov3ReferenceForward(config, weights, {
          pixelValues: file.float64('pixel_values'),
          batch,
          height,
          width,
          boolMaskedPos: file.has('bool_masked_pos') ? file.bytes('bool_masked_pos') : undefined,
        });
        const ours = new Map([
          ['last_hidden_state', out.last_hidden_state],
          ['pooler_output', out.pooler_output],
          ...out.hidden_states.map((t, i) => [`hidden_states.${i}`, t] as const),
          ...out.attentions.map((t, i) => [`attentions.${i}`, t] as const),
        ]);
        const stored = file.names.filter((n) => n !== 'pixel_values' && n !== 'bool_masked_pos');
        expect([...ours.keys()].sort()).toEqual([...stored].sort());
        for (const tensor of stored) {
          const mine = ours.get(tensor)!;
          expect(mine.dims, tensor).toEqual(file.info(tensor).shape);
          expect(relativeError(mine.data, file.float64(tensor)), tensor).toBeLessThanOrEqual(TOLERANCE);
        }
      });
    }
  }
});

describe('RoPE tables (src/model/rope.ts)', () => {
  it('a 1 x 1 grid sits at the centre: every angle is 0', () => {
    const t = ropeTables64(1, 1, 8, 100);
    expect([...t.cos]).toEqual([1, 1, 1, 1]);
    expect([...t.sin]).toEqual([0, 0, 0, 0]);
  });

  it('on a 2 x 3 grid the first quarter follows y and the second x, with f_k = theta^(-4k/d)', () => {
    const d = 8;
    const t = ropeTables64(2, 3, d, 100);
    // Patch n = i*3 + j = 5 is (i 1, j 2): y = 2*1.5/2 - 1 = 0.5, x = 2*2.5/3 - 1 = 2/3.
    const f = [1, 100 ** (-4 / d)];
    for (let k = 0; k < 2; k++) {
      expect(t.cos[5 * 4 + k]).toBeCloseTo(Math.cos(2 * Math.PI * 0.5 * f[k]), 15);
      expect(t.sin[5 * 4 + 2 + k]).toBeCloseTo(Math.sin(2 * Math.PI * (2 / 3) * f[k]), 15);
    }
  });

  it('refuses head sizes that are not multiples of 4', () => {
    expect(() => ropeTables64(2, 2, 6, 100)).toThrow(/multiple of 4/);
  });
});
