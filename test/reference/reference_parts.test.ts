// The pieces of the float64 reference and the fixture scripts, each against an independent fact.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/io/config.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import {
  DEFAULT_OPTIONS,
  makeCheckpoint,
  type CheckpointOptions,
} from '../../scripts/make_random_checkpoint.js';
import { ACTIVATIONS_F64, erf } from './activations_f64.js';
import { referenceForward, type WeightSource } from './dinov2_f64.js';
import { caseInputs, loadCaseFile, loadFixtureModel } from './fixtures.js';

const GOLDEN = join(import.meta.dirname, '..', 'fixtures', 'golden');

describe('erf and the activations', () => {
  it('erf matches libm (Python math.erf) to a few ulps', () => {
    // Python's math.erf (libm) at points across the range, both signs, the tails included.
    const libm: [number, number][] = [
      [1e-8, 1.1283791670955126e-8],
      [0.1, 0.1124629160182849],
      [0.3, 0.3286267594591274],
      [0.5, 0.5204998778130465],
      [0.8, 0.7421009647076605],
      [1, 0.8427007929497149],
      [1.3, 0.9340079449406524],
      [1.7, 0.9837904585907745],
      [2, 0.9953222650189527],
      [2.4, 0.999311486103355],
      [2.5, 0.999593047982555],
      [2.6, 0.9997639655834707],
      [3, 0.9999779095030014],
      [3.5, 0.9999992569016276],
      [4.5, 0.9999999998033839],
      [5.5, 0.9999999999999927],
      [5.9, 0.9999999999999999],
      [-0.7, -0.6778011938374184],
      [-2.2, -0.9981371537020182],
    ];
    for (const [x, y] of libm)
      expect(Math.abs(erf(x) - y)).toBeLessThanOrEqual(4 * Number.EPSILON * Math.abs(y));
    expect(erf(0)).toBe(0);
    expect(erf(7)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
  });

  it('each activation is its transformers definition', () => {
    const x = 0.8;
    expect(ACTIVATIONS_F64.gelu(x)).toBeCloseTo(0.6305156811332827, 15); // x * Phi(x), Python math.erf
    expect(ACTIVATIONS_F64.gelu_new(x)).toBeCloseTo(
      0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
      15,
    );
    expect(ACTIVATIONS_F64.gelu_pytorch_tanh(x)).toBe(ACTIVATIONS_F64.gelu_new(x));
    expect(Math.abs(ACTIVATIONS_F64.gelu_fast(x) - ACTIVATIONS_F64.gelu_new(x))).toBeLessThan(1e-10);
    expect(ACTIVATIONS_F64.quick_gelu(x)).toBeCloseTo(x / (1 + Math.exp(-1.702 * x)), 15);
    expect(ACTIVATIONS_F64.relu(-x)).toBe(0);
    expect(ACTIVATIONS_F64.selu(-x)).toBeCloseTo(
      1.0507009873554805 * 1.6732632423543772 * (Math.exp(-x) - 1),
      14,
    );
    expect(ACTIVATIONS_F64.selu(x)).toBeCloseTo(1.0507009873554805 * x, 15);
    expect(ACTIVATIONS_F64.silu(x)).toBe(ACTIVATIONS_F64.swish(x));
  });
});

describe('the reference forward', () => {
  const model = loadFixtureModel(join(GOLDEN, 'tiny-gelu'), 'tiny-gelu');
  const c = model.cases.find((k) => k.case === 'square-native')!;
  const inputs = caseInputs(loadCaseFile(model, c), c);
  const { num_hidden_layers: L, num_attention_heads: H } = model.config;

  it('head_mask of ones changes nothing; a zero head has zero attention and drops out of the context', () => {
    const plain = referenceForward(model.config, model.weights, inputs);
    const ones = referenceForward(model.config, model.weights, {
      ...inputs,
      headMask: new Float64Array(L * H).fill(1),
    });
    expect(ones.last_hidden_state.data).toEqual(plain.last_hidden_state.data);
    const mask = new Float64Array(L * H).fill(1);
    mask[L * H - 1] = 0; // last layer, last head
    const dropped = referenceForward(model.config, model.weights, { ...inputs, headMask: mask });
    const a = dropped.attentions[L - 1];
    const T = a.dims[3];
    for (let b = 0; b < a.dims[0]; b++) {
      const head = a.data.subarray((b * H + H - 1) * T * T, (b * H + H) * T * T);
      expect(head.every((v) => v === 0)).toBe(true);
    }
    expect(dropped.hidden_states[L - 1].data).toEqual(plain.hidden_states[L - 1].data);
    expect(dropped.last_hidden_state.data).not.toEqual(plain.last_hidden_state.data);
  });

  it('refuses a checkpoint with a tensor the model never reads, or one of the wrong shape', () => {
    const withExtra: WeightSource = {
      names: [...model.weights.names, 'encoder.layer.9.norm1.weight'],
      has: (n) => n === 'encoder.layer.9.norm1.weight' || model.weights.has(n),
      info: (n) => (n === 'encoder.layer.9.norm1.weight' ? { shape: [64] } : model.weights.info(n)),
      float64: (n) => model.weights.float64(n),
    };
    expect(() => referenceForward(model.config, withExtra, inputs)).toThrow(
      /never reads: encoder.layer.9.norm1.weight/,
    );
    const wrongShape: WeightSource = {
      names: model.weights.names,
      has: (n) => model.weights.has(n),
      info: (n) => (n === 'layernorm.weight' ? { shape: [1, 64] } : model.weights.info(n)),
      float64: (n) => model.weights.float64(n),
    };
    expect(() => referenceForward(model.config, wrongShape, inputs)).toThrow(
      /layernorm.weight has shape \[1,64\]/,
    );
  });
});

describe('make_random_checkpoint', () => {
  /** The options that rebuild a golden model's layout from its config. */
  function optionsFor(name: string): CheckpointOptions {
    const m = loadFixtureModel(join(GOLDEN, name), name);
    const c = m.config;
    return {
      ...DEFAULT_OPTIONS,
      hidden: c.hidden_size,
      layers: c.num_hidden_layers,
      heads: c.num_attention_heads,
      patch: c.patch_size,
      imageSize: c.image_size,
      registers: c.num_register_tokens,
      swiglu: c.use_swiglu_ffn,
      act: c.hidden_act,
      plain: c.model_type === 'dinov2',
      classifier: m.weights.has('classifier.weight') ? c.num_labels : 0,
    };
  }

  for (const name of ['tiny-gelu', 'tiny-swiglu', 'tiny-classifier', 'tiny-dinov2-plain']) {
    it(`writes exactly the key names and shapes of golden ${name}, and a config that parses to the same model`, () => {
      const golden = loadFixtureModel(join(GOLDEN, name), name);
      const { config, tensors } = makeCheckpoint(optionsFor(name));
      const ours = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape]));
      const theirs = Object.fromEntries(golden.weights.names.map((k) => [k, golden.weights.info(k).shape]));
      expect(ours).toEqual(theirs);
      const parsed = parseConfig(config);
      for (const field of [
        'model_type',
        'architectures',
        'hidden_size',
        'num_register_tokens',
        'use_swiglu_ffn',
        'num_labels',
        'out_indices',
      ] as const) {
        expect(parsed[field], field).toEqual(golden.config[field]);
      }
    });
  }

  it('is seeded: the same seed gives the same bytes, another seed other weights, F16 the same values rounded', () => {
    const small = {
      ...DEFAULT_OPTIONS,
      hidden: 8,
      layers: 1,
      heads: 2,
      patch: 2,
      imageSize: 4,
      registers: 1,
    };
    const a = writeSafetensors(makeCheckpoint(small).tensors);
    expect(writeSafetensors(makeCheckpoint(small).tensors)).toEqual(a);
    expect(writeSafetensors(makeCheckpoint({ ...small, seed: 1 }).tensors)).not.toEqual(a);
    const f32 = SafetensorsFile.parse(a);
    const f16 = SafetensorsFile.parse(writeSafetensors(makeCheckpoint({ ...small, dtype: 'F16' }).tensors));
    const x = f32.float64('embeddings.cls_token');
    const y = f16.float64('embeddings.cls_token');
    for (let i = 0; i < x.length; i++)
      expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -11);
  });
});
