// Repeated forwards of one input shape reuse their scratch buffers, shape uniforms and bind groups:
// only the call's outputs (and the few dispatches that write them) make anything new.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeviceInfo } from '../../src/gpu/device.js';
import {
  Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersModel,
  disposeAll,
} from '../../src/model/modeling.js';
import { goldenModels } from '../helpers/fixtures.js';
import { random, randomArray, testDevice } from '../helpers/gpu.js';

const fixture = goldenModels().find((m) => m.name === 'tiny-gelu')!;
const classifierFixture = goldenModels().find((m) => m.name === 'tiny-classifier')!;

function pixels(batch: number, height: number, width: number, seed: number) {
  return {
    data: randomArray(batch * 3 * height * width, random(seed), -2, 2),
    dims: [batch, 3, height, width],
  };
}

/** Counts the buffers, bind groups and writes the device is asked for while `f` runs. */
async function created<T>(
  device: GPUDevice,
  f: () => Promise<T>,
): Promise<{ value: T; buffers: number; bindGroups: number; writes: number }> {
  const spies = {
    buffers: vi.spyOn(device, 'createBuffer'),
    bindGroups: vi.spyOn(device, 'createBindGroup'),
    writes: vi.spyOn(device.queue, 'writeBuffer'),
  };
  try {
    const value = await f();
    return {
      value,
      buffers: spies.buffers.mock.calls.length,
      bindGroups: spies.bindGroups.mock.calls.length,
      writes: spies.writes.mock.calls.length,
    };
  } finally {
    for (const s of Object.values(spies)) s.mockRestore();
  }
}

describe('workspaces: repeated forwards of a shape', () => {
  let info: DeviceInfo;
  let model: Dinov2WithRegistersModel;
  beforeAll(async () => {
    info = await testDevice();
    model = await Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, { device: info });
  });
  afterAll(() => model?.dispose());

  it('a second forward of the same shape creates only its two outputs and the bind group of the final layernorm (which writes one)', async () => {
    const device = info.device;
    const input = pixels(2, 42, 70, 1);
    const first = await created(device, () => model.forward(input));
    const dispatches = model.lastStats.dispatches;
    const expected = await first.value.last_hidden_state.read();
    disposeAll({ ...first.value });
    // The first forward of a shape makes its workspace: 10 scratch buffers, 2 shape uniforms, the
    // position table of its grid, 2 outputs; and a bind group per dispatch.
    expect(first.buffers).toBe(10 + 2 + 1 + 2);
    expect(first.bindGroups).toBe(dispatches);

    const second = await created(device, () => model.forward(pixels(2, 42, 70, 2)));
    disposeAll({ ...second.value });
    expect(second.buffers).toBe(2); // last_hidden_state, pooler_output
    expect(second.bindGroups).toBe(1); // layernorm → last_hidden_state
    expect(second.writes).toBe(3); // pixel_values, bool_masked_pos, head_mask: the uniforms hold their values already
    expect(model.workspaceShapes).toEqual(['2x42x70']);

    // The reused workspace computes the same thing.
    const again = await model.forward(input);
    expect(await again.last_hidden_state.read()).toEqual(expected);
    disposeAll({ ...again });
  });

  it('with attentions, the probs dispatches (one per layer, writing an output) are the only other new bind groups', async () => {
    const input = pixels(1, 56, 56, 3);
    disposeAll({ ...(await model.forward(input, { output_attentions: true })) });
    const second = await created(info.device, () =>
      model.forward(input, { output_attentions: true, output_hidden_states: true }),
    );
    const layers = fixture.config.num_hidden_layers;
    expect(second.buffers).toBe(2 + layers + (layers + 1)); // + one attention map per layer, + hidden_states
    expect(second.bindGroups).toBe(1 + layers);
    disposeAll({ ...second.value });
  });

  it('a new shape makes a new workspace; the least recently used of more than two is freed; releaseWorkspaces frees them all', async () => {
    model.releaseWorkspaces();
    const a = pixels(1, 28, 28, 4);
    const b = pixels(1, 28, 42, 5);
    const c = pixels(3, 28, 28, 6);
    for (const x of [a, b]) disposeAll({ ...(await model.forward(x)) });
    expect(model.workspaceShapes).toEqual(['1x28x28', '1x28x42']);
    const withTwo = model.bytesAllocated;
    const groupsWithTwo = model.memory.bindGroupCount;

    const reuse = await created(info.device, () => model.forward(a));
    disposeAll({ ...reuse.value });
    expect(reuse.buffers).toBe(2);
    expect(model.workspaceShapes).toEqual(['1x28x42', '1x28x28']);

    const fresh = await created(info.device, () => model.forward(c)); // same grid as a: its position table is cached
    disposeAll({ ...fresh.value });
    expect(fresh.buffers).toBe(10 + 2 + 2);
    expect(fresh.bindGroups).toBe(model.lastStats.dispatches);
    expect(model.workspaceShapes).toEqual(['1x28x28', '3x28x28']); // 1x28x42 was dropped, with its bind groups
    expect(model.memory.bindGroupCount).toBe(groupsWithTwo);

    const idle = model.workspaceBytes;
    expect(idle).toBeGreaterThan(0);
    model.releaseWorkspaces();
    expect(model.workspaceBytes).toBe(0);
    expect(model.memory.bindGroupCount).toBe(0);
    expect(model.bytesAllocated).toBeLessThan(withTwo);

    const after = await created(info.device, () => model.forward(a));
    disposeAll({ ...after.value });
    expect(after.buffers).toBe(10 + 2 + 2);
  });

  it('a classifier reuses its workspace too: only logits, and the dispatch that writes them, are new', async () => {
    const classifier = await Dinov2WithRegistersForImageClassification.fromCheckpoint(
      classifierFixture.config,
      classifierFixture.weights,
      { device: info },
    );
    try {
      const input = pixels(2, 28, 28, 7);
      const first = await classifier.forward(input);
      const expected = await first.logits.read();
      disposeAll({ ...first });
      const second = await created(info.device, () => classifier.forward(input));
      // logits alone: the final layernormed sequence is scratch (no last_hidden_state or pooler_output).
      expect(second.buffers).toBe(1);
      // classifier → logits; layernorm → the sequence and cls ‖ patch mean bind only workspace buffers.
      expect(second.bindGroups).toBe(1);
      expect(await second.value.logits.read()).toEqual(expected);
      disposeAll({ ...second.value });
    } finally {
      classifier.dispose();
    }
    expect(classifier.bytesAllocated).toBe(0);
  });
});
