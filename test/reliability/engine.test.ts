// The engine under concurrent calls, long runs, GPU errors and device loss: it answers exactly or
// fails with a typed error, and holds no memory it should not.
import { describe, expect, it } from 'vitest';
import { requestDevice } from '../../src/gpu/device.js';
import { DeviceLostError, GpuValidationError } from '../../src/gpu/errors.js';
import { Dinov2WithRegistersModel } from '../../src/model/modeling.js';
import { goldenModels } from '../helpers/fixtures.js';
import { random, randomArray, testDevice } from '../helpers/gpu.js';

const fixture = goldenModels().find((m) => m.name === 'tiny-gelu')!;
// The smallest model (2 layers of 32), for the long run.
const small = goldenModels().find((m) => m.name === 'tiny-classifier')!;

function pixels(batch: number, height: number, width: number, seed: number) {
  return { data: randomArray(batch * 3 * height * width, random(seed), -2, 2), dims: [batch, 3, height, width] };
}

/** Interleaved calls of different batch and image sizes. */
const SHAPES: [number, number, number][] = [
  [1, 56, 56],
  [2, 42, 70],
  [3, 28, 28],
  [1, 112, 84],
  [2, 56, 56],
  [1, 70, 42],
];

/** Small inputs for the long run: seven grids, more than one batch size. */
const SMALL_SHAPES: [number, number, number][] = [
  [1, 28, 28],
  [2, 28, 42],
  [1, 42, 28],
  [3, 14, 28],
  [1, 42, 42],
  [2, 14, 14],
  [1, 30, 29],
];

describe('concurrent calls on one model', () => {
  it('calls in flight together (different batch and image sizes, interleaved) each return exactly what the call returns alone', async () => {
    const device = await testDevice();
    const model = await Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, { device });
    const inputs = SHAPES.map(([b, h, w], i) => pixels(b, h, w, 1000 + i));

    const alone: Float32Array[] = [];
    for (const input of inputs) {
      const out = await model.forward(input);
      alone.push(await out.last_hidden_state.read());
      out.last_hidden_state.dispose();
      out.pooler_output.dispose();
    }

    // All recorded and submitted before any is read; read back in reverse order.
    const together = await Promise.all(inputs.map((input) => model.forward(input, { output_attentions: true })));
    const results = await Promise.all(
      [...together.keys()].reverse().map(async (i) => [i, await together[i].last_hidden_state.read()] as const),
    );
    for (const [i, data] of results) expect(data, `call ${i} (${SHAPES[i].join('x')})`).toEqual(alone[i]);
    model.dispose();
  });
});

describe('memory', () => {
  it('a thousand forwards of varying shapes keep the model\'s GPU memory bounded; dispose brings it to zero', async () => {
    const device = await testDevice();
    const model = await Dinov2WithRegistersModel.fromCheckpoint(small.config, small.weights, { device });
    const weights = model.bytesAllocated;
    const inputs = SMALL_SHAPES.map(([b, h, w], i) => pixels(b, h, w, 2000 + i));
    let peakAfterCall = 0;
    for (let i = 0; i < 1000; i++) {
      const out = await model.forward(inputs[i % inputs.length], { output_hidden_states: i % 7 === 0, output_attentions: i % 11 === 0 });
      if (i % 100 === 0) expect((await out.pooler_output.read()).every(Number.isFinite)).toBe(true);
      out.last_hidden_state.dispose();
      out.pooler_output.dispose();
      out.hidden_states?.forEach((t) => t.dispose());
      out.attentions?.forEach((t) => t.dispose());
      peakAfterCall = Math.max(peakAfterCall, model.bytesAllocated);
    }
    // What stays between calls: the weights and at most the cached position tables of the grids seen.
    const positionTables = model.bytesAllocated - weights;
    console.log(`GPU bytes: weights ${weights}, after 1000 calls ${model.bytesAllocated} (position tables ${positionTables}), peak between calls ${peakAfterCall}, peak during ${model.memory.peakBytes}`);
    expect(peakAfterCall).toBe(model.bytesAllocated);
    const largestTable = (1 + (42 / 14) * (42 / 14)) * small.config.hidden_size * 4;
    expect(positionTables).toBeLessThanOrEqual(SMALL_SHAPES.length * largestTable);
    model.dispose();
    expect(model.bytesAllocated).toBe(0);
    expect(model.memory.bufferCount).toBe(0);
    model.dispose(); // idempotent
    expect(model.bytesAllocated).toBe(0);
  });
});

describe('GPU faults', () => {
  it('a GPU validation error rejects the call (typed) and leaves no buffer behind', async () => {
    const device = await testDevice();
    const model = await Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, { device });
    await (await model.forward(pixels(1, 56, 56, 3))).pooler_output.read(); // caches this grid's position table
    const before = model.bytesAllocated;
    // Break the model from outside: a weight buffer destroyed behind the model's back.
    model.layers[1].mlp.fcIn.weight.gpu.destroy();
    await expect(model.forward(pixels(1, 56, 56, 3))).rejects.toBeInstanceOf(GpuValidationError);
    expect(model.bytesAllocated).toBe(before);
    model.dispose();
  });

  it('device loss: the pending read and later calls reject with DeviceLostError; reload brings the model back on a new device', async () => {
    const info = await requestDevice();
    const model = await Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, { device: info });
    const input = pixels(2, 56, 56, 4);
    const first = await (await model.forward(input)).last_hidden_state.read();

    const pending = await model.forward(input);
    info.device.destroy();
    await expect(pending.last_hidden_state.read()).rejects.toBeInstanceOf(DeviceLostError);
    await expect(model.forward(input)).rejects.toBeInstanceOf(DeviceLostError);

    await model.reload(fixture.weights, { device: await requestDevice() });
    expect(await (await model.forward(input)).last_hidden_state.read()).toEqual(first);
    model.dispose();
    expect(model.bytesAllocated).toBe(0);
  });
});
