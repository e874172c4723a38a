// The DINOv3 float64 reference against the golden DINOv3 fixtures (PyTorch float64 following
// transformers, cross-checked against the authors' code to 6e-15): every stored tensor of every
// case within 1e-6 relative. The generated DINOv3 fixtures (made by this reference) must read back
// the same way. Also: the reference's RoPE against the engine's host tables (src/model/rope.ts),
// and the DINOv3ViTBackbone feature maps against the model outputs they are made of.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type CheckpointOptions,
  DEFAULT_OPTIONS,
  DINOV3_DEFAULTS,
  makeCheckpoint,
} from '../../scripts/make_random_checkpoint.js';
import { parseDinov3Config } from '../../src/io/config_dinov3.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { ropeTables64 } from '../../src/model/rope.js';
import {
  type Dinov3ReferenceConfig,
  type Dinov3ReferenceInputs,
  dinov3NamedOutputs,
  dinov3ReferenceForward,
  ropeCosSin64,
} from './dinov3_f64.js';
import { fixtureModelDirs, relativeError } from './fixtures.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const TOLERANCE = 1e-6;
const load = (path: string) => SafetensorsFile.parse(new Uint8Array(readFileSync(path)), path);

interface CaseEntry {
  case: string;
  out_indices?: number[] | null;
}

function caseInputs(file: SafetensorsFile, c: CaseEntry): Dinov3ReferenceInputs {
  const [batch, , height, width] = file.info('pixel_values').shape;
  return {
    pixelValues: file.float64('pixel_values'),
    batch,
    height,
    width,
    boolMaskedPos: file.has('bool_masked_pos') ? file.bytes('bool_masked_pos') : undefined,
    outIndices: c.out_indices ?? [],
  };
}

const report: string[] = [];

for (const [set, expectedModels] of [
  ['golden-dinov3', ['tiny-v3-mlp', 'tiny-v3-noreg-p8', 'tiny-v3-swiglu-nobias']],
  ['generated-dinov3', null],
] as const) {
  const root = join(FIXTURES, set);
  describe(`float64 DINOv3 reference vs the ${set} fixtures`, () => {
    const models = fixtureModelDirs(root);
    it(`finds the ${set} models`, () => {
      if (expectedModels) expect(models).toEqual(expectedModels);
      else expect(models.length).toBeGreaterThanOrEqual(4);
    });
    for (const name of models) {
      const dir = join(root, name);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Dinov3ReferenceConfig;
      const weights = load(join(dir, 'model.safetensors'));
      const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as CaseEntry[];
      for (const c of cases) {
        it(`${name} / ${c.case}: every output within ${TOLERANCE} relative`, () => {
          const file = load(join(dir, `${c.case}.safetensors`));
          const ours = dinov3NamedOutputs(dinov3ReferenceForward(config, weights, caseInputs(file, c)));
          const stored = file.names.filter((n) => n !== 'pixel_values' && n !== 'bool_masked_pos');
          expect([...ours.keys()].sort()).toEqual([...stored].sort());
          let worst = 0;
          for (const tensor of stored) {
            const mine = ours.get(tensor)!;
            expect(mine.dims, tensor).toEqual(file.info(tensor).shape);
            const err = relativeError(mine.data, file.float64(tensor));
            worst = Math.max(worst, err);
            expect(err, tensor).toBeLessThanOrEqual(TOLERANCE);
          }
          report.push(
            `${set}/${name}/${c.case}: worst ${worst.toExponential(2)} over ${stored.length} tensors`,
          );
        });
      }
    }
  });
}

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
    expect(() => ropeCosSin64(2, 2, 6, 100)).toThrow(/multiple of 4/);
  });

  it("agree with the reference's own (transformers') formulation for every head size, theta and grid shape", () => {
    for (const d of [4, 8, 12, 16, 20, 24, 64])
      for (const theta of [7.5, 100, 1000, 10000])
        for (const [h, w] of [
          [1, 1],
          [1, 5],
          [5, 1],
          [3, 4],
          [7, 2],
        ]) {
          const engine = ropeTables64(h, w, d, theta);
          const ref = ropeCosSin64(h, w, d, theta);
          let worst = 0;
          for (let n = 0; n < h * w; n++)
            for (let m = 0; m < d; m++) {
              // The engine keeps the first half; the second half of the angle vector repeats it.
              const e = n * engine.half + (m % engine.half);
              worst = Math.max(
                worst,
                Math.abs(engine.cos[e] - ref.cos[n * d + m]),
                Math.abs(engine.sin[e] - ref.sin[n * d + m]),
              );
            }
          expect(worst, `d ${d} theta ${theta} grid ${h}x${w}`).toBeLessThanOrEqual(1e-14);
        }
  });
});

describe('DINOv3ViTBackbone feature maps in the reference', () => {
  const dir = join(FIXTURES, 'golden-dinov3', 'tiny-v3-mlp');
  const base = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Dinov3ReferenceConfig;
  const weights = load(join(dir, 'model.safetensors'));
  const file = load(join(dir, 'nonsquare-48x80.safetensors'));
  const L = base.num_hidden_layers;
  const R = base.num_register_tokens;
  const D = base.hidden_size;
  const all = Array.from({ length: L + 1 }, (_, i) => i);
  const run = (config: Partial<Dinov3ReferenceConfig>, outIndices: number[]) =>
    dinov3ReferenceForward({ ...base, ...config }, weights, {
      ...caseInputs(file, { case: '' }),
      outIndices,
    });
  const plain = run({}, []);
  const [B, T] = plain.last_hidden_state.dims;
  const gh = 3;
  const gw = 5;
  const N = gh * gw;
  expect(T).toBe(1 + R + N);
  /** Token t of image b of a [B, T, D] sequence, feature i. */
  const at = (seq: Float64Array, b: number, t: number, i: number) => seq[(b * T + t) * D + i];
  const layerNorm = (x: Float64Array) => {
    // The final norm, written out: (x - mean) / sqrt(var + eps) * w + b over each token.
    const w = weights.float64('norm.weight');
    const bias = weights.float64('norm.bias');
    const out = new Float64Array(x.length);
    for (let r = 0; r < x.length / D; r++) {
      let mean = 0;
      for (let i = 0; i < D; i++) mean += x[r * D + i] / D;
      let v = 0;
      for (let i = 0; i < D; i++) v += (x[r * D + i] - mean) ** 2 / D;
      for (let i = 0; i < D; i++)
        out[r * D + i] = ((x[r * D + i] - mean) / Math.sqrt(v + base.layer_norm_eps)) * w[i] + bias[i];
    }
    return out;
  };

  it('no out_indices, no feature maps; the model outputs do not depend on the backbone settings', () => {
    expect(plain.feature_maps).toEqual([]);
    const other = run({ apply_layernorm: false, reshape_hidden_states: false }, all);
    expect(other.last_hidden_state.data).toEqual(plain.last_hidden_state.data);
    expect(other.hidden_states.map((t) => t.data)).toEqual(plain.hidden_states.map((t) => t.data));
  });

  it('the last stage, reshaped, is last_hidden_state without cls and registers, as [B, D, h, w]', () => {
    const [map] = run({}, [L]).feature_maps;
    expect(map.dims).toEqual([B, D, gh, gw]);
    for (let b = 0; b < B; b++)
      for (let n = 0; n < N; n++)
        for (let i = 0; i < D; i++)
          expect(map.data[((b * D + i) * gh + Math.floor(n / gw)) * gw + (n % gw)]).toBe(
            at(plain.last_hidden_state.data, b, 1 + R + n, i),
          );
  });

  it('every stage normed with apply_layernorm; without it only the last; maps in out_indices order', () => {
    const order = [2, 0, L, 1];
    for (const apply of [true, false]) {
      const maps = run({ apply_layernorm: apply, reshape_hidden_states: false }, order).feature_maps;
      expect(maps.length).toBe(order.length);
      for (const [j, stage] of order.entries()) {
        const hs = plain.hidden_states[stage].data;
        const want = stage === L || apply ? layerNorm(hs) : hs;
        expect(maps[j].dims).toEqual([B, N, D]);
        let worst = 0;
        for (let b = 0; b < B; b++)
          for (let n = 0; n < N; n++)
            for (let i = 0; i < D; i++)
              worst = Math.max(
                worst,
                Math.abs(maps[j].data[(b * N + n) * D + i] - at(want, b, 1 + R + n, i)),
              );
        expect(worst, `apply_layernorm ${apply}, stage ${stage}`).toBeLessThanOrEqual(1e-12);
      }
    }
  });

  it('with and without reshape_hidden_states the same values: [B, D, h, w] is [B, h·w, D] permuted', () => {
    const flat = run({ reshape_hidden_states: false }, all).feature_maps;
    const maps = run({ reshape_hidden_states: true }, all).feature_maps;
    for (const j of all) {
      expect(maps[j].dims).toEqual([B, D, gh, gw]);
      expect(flat[j].dims).toEqual([B, N, D]);
      for (let b = 0; b < B; b++)
        for (let n = 0; n < N; n++)
          for (let i = 0; i < D; i++)
            expect(maps[j].data[(b * D + i) * N + n]).toBe(flat[j].data[(b * N + n) * D + i]);
    }
  });

  it('refuses a stage that does not exist', () => {
    expect(() => run({}, [L + 1])).toThrow(/not a stage/);
    expect(() => run({}, [-1])).toThrow(/not a stage/);
  });
});

describe('make_random_checkpoint --dinov3', () => {
  /** The options that rebuild a golden DINOv3 model's layout from its config. */
  function optionsFor(c: ReturnType<typeof parseDinov3Config>): CheckpointOptions {
    return {
      ...DEFAULT_OPTIONS,
      ...DINOV3_DEFAULTS,
      hidden: c.hidden_size,
      layers: c.num_hidden_layers,
      heads: c.num_attention_heads,
      intermediate: c.intermediate_size,
      patch: c.patch_size,
      imageSize: c.image_size,
      registers: c.num_register_tokens,
      swiglu: c.use_gated_mlp,
      act: c.hidden_act,
      eps: c.layer_norm_eps,
      ropeTheta: c.rope_theta,
      queryBias: c.query_bias,
      keyBias: c.key_bias,
      valueBias: c.value_bias,
      projBias: c.proj_bias,
      mlpBias: c.mlp_bias,
    };
  }

  for (const name of ['tiny-v3-mlp', 'tiny-v3-noreg-p8', 'tiny-v3-swiglu-nobias']) {
    it(`writes exactly the key names and shapes of golden ${name}, and a config that parses to the same model`, () => {
      const dir = join(FIXTURES, 'golden-dinov3', name);
      const golden = parseDinov3Config(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
      const weights = load(join(dir, 'model.safetensors'));
      const { config, tensors } = makeCheckpoint(optionsFor(golden));
      const ours = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape]));
      const theirs = Object.fromEntries(weights.names.map((k) => [k, weights.info(k).shape]));
      expect(ours).toEqual(theirs);
      const parsed = parseDinov3Config(config);
      // Everything but the version and the backbone fields the golden (4.56) config predates.
      const { transformers_version: _a, ...mine } = parsed;
      const { transformers_version: _b, ...want } = golden;
      expect(mine).toEqual(want);
    });
  }

  it('writes the backbone fields as DINOv3ViTConfig (v5) does, and the same weights whatever they are', () => {
    const small: CheckpointOptions = {
      ...DEFAULT_OPTIONS,
      ...DINOV3_DEFAULTS,
      hidden: 16,
      layers: 3,
      heads: 2,
      patch: 4,
      imageSize: 8,
      registers: 0,
    };
    const plain = makeCheckpoint(small);
    expect(plain.config).toMatchObject({
      apply_layernorm: true,
      reshape_hidden_states: true,
      out_features: ['stage3'],
      out_indices: [3],
      stage_names: ['stem', 'stage1', 'stage2', 'stage3'],
      intermediate_size: 64,
      num_register_tokens: 0,
    });
    expect(plain.tensors['embeddings.register_tokens'].shape).toEqual([1, 0, 16]);
    expect(plain.tensors['embeddings.mask_token'].shape).toEqual([1, 1, 16]);
    const backbone = makeCheckpoint({
      ...small,
      applyLayernorm: false,
      reshapeHiddenStates: false,
      outIndices: [0, 2],
    });
    expect(parseDinov3Config(backbone.config)).toMatchObject({
      apply_layernorm: false,
      reshape_hidden_states: false,
      out_features: ['stem', 'stage2'],
      out_indices: [0, 2],
    });
    expect(backbone.tensors).toEqual(plain.tensors);
    expect(() => makeCheckpoint({ ...small, heads: 8 })).toThrow(/multiple of 4/);
    expect(() => makeCheckpoint({ ...small, outIndices: [2, 1] })).toThrow(/increasing/);
  });
});

describe('report', () => {
  it('prints the worst error per case', () => {
    if (report.length > 0) console.log(`float64 DINOv3 reference:\n  ${report.join('\n  ')}`);
  });
});
