// Dinov2WithRegistersForImageClassification.forward(labels): the loss transformers computes, for each
// problem_type (configured, or inferred from num_labels and the labels' type), against the float64
// reference's logits and losses; and config.output_attentions / output_hidden_states as defaults.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceInfo } from '../../src/gpu/device.js';
import type { Dinov2Config } from '../../src/io/config.js';
import { InputError } from '../../src/model/inputs.js';
import { classificationLoss, problemTypeFor } from '../../src/model/loss.js';
import { Dinov2WithRegistersForImageClassification, disposeAll } from '../../src/model/modeling.js';
import { goldenModels } from '../helpers/fixtures.js';
import { random, randomArray, testDevice } from '../helpers/gpu.js';
import { referenceForward } from '../reference/dinov2_f64.js';
import { relativeError } from '../reference/fixtures.js';
import { classificationLoss64 } from '../reference/ops_f64.js';

const fixture = goldenModels().find((m) => m.name === 'tiny-classifier')!;
const [B, N] = [3, fixture.config.num_labels];
const pixels = randomArray(B * 3 * 28 * 28, random(900), -2, 2);
const input = { data: pixels, dims: [B, 3, 28, 28] };
const logits64 = referenceForward(fixture.config, fixture.weights, {
  pixelValues: pixels,
  batch: B,
  height: 28,
  width: 28,
}).logits!.data;

describe('ForImageClassification.forward(labels): the loss against float64', () => {
  let info: DeviceInfo;
  const models: Dinov2WithRegistersForImageClassification[] = [];
  const load = async (config: Dinov2Config = fixture.config) => {
    const model = await Dinov2WithRegistersForImageClassification.fromCheckpoint(config, fixture.weights, {
      device: info,
    });
    models.push(model);
    return model;
  };
  beforeAll(async () => {
    info = await testDevice();
  });
  afterAll(() => {
    for (const m of models) m.dispose();
  });

  async function lossOf(
    model: Dinov2WithRegistersForImageClassification,
    labels: Parameters<typeof problemTypeFor>[1],
  ) {
    const out = await model.forward(input, { labels });
    expect(out.loss!.dims).toEqual([]);
    const [loss] = await out.loss!.read();
    expect(relativeError(await out.logits.read(), logits64)).toBeLessThan(1e-4);
    disposeAll({ ...out });
    return loss;
  }

  it('integer labels: single-label cross-entropy, -100 ignored', async () => {
    const model = await load();
    const labels = [3, 0, 4];
    const ref = classificationLoss64(logits64, N, labels, 'single_label_classification');
    expect(
      relativeError([await lossOf(model, { data: Int32Array.from(labels), dims: [B] })], [ref]),
    ).toBeLessThan(1e-4);
    expect(
      relativeError([await lossOf(model, { data: BigInt64Array.of(3n, 0n, 4n), dims: [B] })], [ref]),
    ).toBeLessThan(1e-4);
    const ignored = classificationLoss64(logits64, N, [3, -100, 4], 'single_label_classification');
    expect(ignored).not.toBeCloseTo(ref, 6);
    expect(relativeError([await lossOf(model, { data: [3, -100, 4], dims: [B] })], [ignored])).toBeLessThan(
      1e-4,
    );
  });

  it('float labels: multi-label BCE with logits', async () => {
    const model = await load();
    const targets = Float32Array.from({ length: B * N }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const ref = classificationLoss64(logits64, N, targets, 'multi_label_classification');
    expect(relativeError([await lossOf(model, { data: targets, dims: [B, N] })], [ref])).toBeLessThan(1e-4);
  });

  it("config.problem_type 'regression': MSE over every logit", async () => {
    const model = await load({ ...fixture.config, problem_type: 'regression' });
    const targets = randomArray(B * N, random(901));
    const ref = classificationLoss64(logits64, N, targets, 'regression');
    expect(relativeError([await lossOf(model, { data: targets, dims: [B, N] })], [ref])).toBeLessThan(1e-4);
  });

  it('labels out of range or of the wrong shape are InputErrors, and leave no output behind', async () => {
    const model = await load();
    disposeAll({ ...(await model.forward(input)) });
    const held = model.bytesAllocated;
    await expect(
      model.forward(input, { labels: { data: Int32Array.of(0, 5, 1), dims: [B] } }),
    ).rejects.toThrow(new InputError('labels[1] is 5; a class must be 0..4 (or -100, ignored)'));
    await expect(
      model.forward(input, { labels: { data: Float32Array.of(1, 0), dims: [2] } }),
    ).rejects.toThrow(InputError);
    expect(model.bytesAllocated).toBe(held);
  });

  it('config.output_hidden_states and output_attentions are the defaults of the forward options', async () => {
    const model = await load({ ...fixture.config, output_hidden_states: true, output_attentions: true });
    const out = await model.forward(input);
    expect(out.hidden_states).toHaveLength(fixture.config.num_hidden_layers + 1);
    expect(out.attentions).toHaveLength(fixture.config.num_hidden_layers);
    disposeAll({ ...out });
    const plain = await model.forward(input, { output_hidden_states: false, output_attentions: false });
    expect(plain.hidden_states).toBeUndefined();
    expect(plain.attentions).toBeUndefined();
    disposeAll({ ...plain });
  });
});

describe('the choice of loss (transformers: problem_type, else num_labels and the labels dtype)', () => {
  it('one label is regression; integer labels single-label; float labels multi-label; a configured one wins', () => {
    const ints = { data: Int32Array.of(1, 2), dims: [2] };
    expect(problemTypeFor(1, ints)).toBe('regression');
    expect(problemTypeFor(5, ints)).toBe('single_label_classification');
    expect(problemTypeFor(5, { data: [1, 2], dims: [2] })).toBe('single_label_classification');
    expect(problemTypeFor(5, { data: Float32Array.of(1, 0), dims: [1, 2] })).toBe(
      'multi_label_classification',
    );
    expect(problemTypeFor(5, { data: [0.5, 1], dims: [1, 2] })).toBe('multi_label_classification');
    expect(problemTypeFor(5, ints, 'regression')).toBe('regression');
  });

  it('num_labels == 1: MSE of the squeezed logits and labels', () => {
    const logits = Float32Array.of(0.25, -1.5, 3);
    const labels = { data: Float32Array.of(1, -1, 2), dims: [3] };
    const ref = classificationLoss64(logits, 1, labels.data, 'regression');
    expect(classificationLoss(logits, [3, 1], labels, problemTypeFor(1, labels))).toBeCloseTo(ref, 12);
  });
});
