// The engine under concurrent calls, long runs, GPU errors and device loss: it answers exactly or
// fails with a typed error, and holds no memory it should not.
import { describe, expect, it } from 'vitest';
import { bufferSize } from '../../src/gpu/buffers.js';
import { requestDevice } from '../../src/gpu/device.js';
import { DeviceLostError, GpuValidationError } from '../../src/gpu/errors.js';
import { encoderScratch, scratchBytes } from '../../src/model/budget.js';
import { Dinov2WithRegistersModel } from '../../src/model/modeling.js';
import { goldenModels } from '../helpers/fixtures.js';
import { random, randomArray, testDevice } from '../helpers/gpu.js';

const fixture = goldenModels().find((m) => m.name === 'tiny-gelu')!;
// The smallest model (2 layers of 32), for the long run.
const small = goldenModels().find((m) => m.name === 'tiny-classifier')!;

function pixels(batch: number, height: number, width: number, seed: number) {
  return {
    data: randomArray(batch * 3 * height * width, random(seed), -2, 2),
    dims: [batch, 3, height, width],
  };
}

/**
 * Bytes of the workspace a base model keeps for one input shape, from the scratch buffers a forward
 * needs (src/model/encoder.ts, embeddings.ts): the uploads (pixel_values, bool_masked_pos,
 * head_mask), the residual stream, im2col and the patch projection, qkv, context, the attention
 * statistics, the MLP hidden layer (all f32 here), and two shape uniforms (rows = B * T and
 * rows = B * patches) of 8 u32 each.
 */
function workspaceBytes(
  model: Dinov2WithRegistersModel,
  batch: number,
  height: number,
  width: number,
): number {
  const c = model.config;
  const d = c.hidden_size;
  const p = c.patch_size;
  const patches = Math.floor(height / p) * Math.floor(width / p);
  const tokens = 1 + c.num_register_tokens + patches;
  const align = model.device.limits.minStorageBufferOffsetAlignment / 4;
  const headRow = Math.ceil(c.num_attention_heads / align) * align;
  const floats = [
    batch * c.num_channels * height * width, // pixel_values
    batch * patches, // bool_masked_pos
    c.num_hidden_layers * headRow, // head_mask
    batch * patches * c.num_channels * p * p, // embeddings im2col
    batch * patches * d, // embeddings.patch_embeddings
    // the residual stream, qkv, context, attention statistics, MLP hidden layer (f32 here)
    ...Object.values(encoderScratch(c, { batch, tokens })).map((s) => scratchBytes(s) / 4),
    8, // shape uniform, rows = B * T
    8, // shape uniform, rows = B * patches
  ];
  return floats.reduce((sum, n) => sum + bufferSize(n * 4), 0);
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

/**
 * The calls in flight together: every shape of SHAPES, and shapes repeated (back to back and
 * interleaved, so that calls in flight share a workspace and workspaces are evicted under them),
 * each call with its own pixels.
 */
const CALLS: [number, number, number][] = [
  SHAPES[0],
  SHAPES[0],
  SHAPES[1],
  SHAPES[0],
  SHAPES[2],
  SHAPES[1],
  SHAPES[1],
  SHAPES[3],
  SHAPES[4],
  SHAPES[5],
  SHAPES[0],
];

describe('concurrent calls on one model', () => {
  it('calls in flight together (different and repeated batch and image sizes, interleaved) each return exactly what the call returns alone', async () => {
    const device = await testDevice();
    const model = await Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, { device });
    const inputs = CALLS.map(([b, h, w], i) => pixels(b, h, w, 1000 + i));

    const alone: Float32Array[] = [];
    for (const input of inputs) {
      model.releaseWorkspaces(); // alone: fresh scratch, nothing shared with another call
      const out = await model.forward(input);
      alone.push(await out.last_hidden_state.read());
      out.last_hidden_state.dispose();
      out.pooler_output.dispose();
    }

    // All recorded and submitted before any is read; read back in reverse order.
    const together = await Promise.all(
      inputs.map((input) => model.forward(input, { output_attentions: true })),
    );
    const results = await Promise.all(
      [...together.keys()]
        .reverse()
        .map(async (i) => [i, await together[i].last_hidden_state.read()] as const),
    );
    for (const [i, data] of results) expect(data, `call ${i} (${CALLS[i].join('x')})`).toEqual(alone[i]);
    model.dispose();
  });
});

describe('memory', () => {
  it("a thousand forwards of varying shapes keep the model's GPU memory and bind groups bounded; releaseWorkspaces and dispose free them", async () => {
    const device = await testDevice();
    const model = await Dinov2WithRegistersModel.fromCheckpoint(small.config, small.weights, { device });
    const weights = model.bytesAllocated;
    const inputs = SMALL_SHAPES.map(([b, h, w], i) => pixels(b, h, w, 2000 + i));
    const workspaces = SMALL_SHAPES.map(([b, h, w]) => workspaceBytes(model, b, h, w));
    // Bind groups kept for a workspace: every dispatch of a plain forward but the final layernorm's,
    // which binds last_hidden_state (an output: its bind group goes with it).
    const plain = await model.forward(inputs[0]);
    const groupsPerWorkspace = model.lastStats.dispatches - 1;
    plain.last_hidden_state.dispose();
    plain.pooler_output.dispose();
    /** bytesAllocated minus the two cached workspaces, after each call once every grid was seen. */
    const rest = new Set<number>();
    let peakAfterCall = 0;
    let peakGroups = 0;
    let peakReferences = 0;
    for (let i = 0; i < 1000; i++) {
      const out = await model.forward(inputs[i % inputs.length], {
        output_hidden_states: i % 7 === 0,
        output_attentions: i % 11 === 0,
      });
      if (i % 100 === 0) expect((await out.pooler_output.read()).every(Number.isFinite)).toBe(true);
      out.last_hidden_state.dispose();
      out.pooler_output.dispose();
      out.hidden_states?.forEach((t) => t.dispose());
      out.attentions?.forEach((t) => t.dispose());
      peakAfterCall = Math.max(peakAfterCall, model.bytesAllocated);
      peakGroups = Math.max(peakGroups, model.memory.bindGroupCount);
      peakReferences = Math.max(peakReferences, model.memory.bindGroupReferences);
      if (i >= SMALL_SHAPES.length) {
        const cached = workspaces[i % inputs.length] + workspaces[(i - 1) % inputs.length];
        expect(model.workspaceBytes, `call ${i}`).toBe(cached);
        rest.add(model.bytesAllocated - cached);
      }
    }
    const withWorkspaces = model.bytesAllocated;
    model.releaseWorkspaces();
    // What stays between calls: the weights, the cached position tables of the grids seen, and the
    // workspaces of the last two input shapes (exactly their scratch and uniforms).
    const positionTables = model.bytesAllocated - weights;
    console.log(
      `GPU bytes: weights ${weights}, after 1000 calls ${withWorkspaces} (position tables ${positionTables}, workspaces ${withWorkspaces - model.bytesAllocated}), ` +
        `peak between calls ${peakAfterCall}, peak during ${model.memory.peakBytes}; bind groups at most ${peakGroups} (${peakReferences} references)`,
    );
    expect([...rest]).toEqual([model.bytesAllocated]);
    expect(withWorkspaces - model.bytesAllocated).toBe(
      workspaces[999 % inputs.length] + workspaces[998 % inputs.length],
    );
    const pairs = workspaces.map((w, j) => w + workspaces[(j + workspaces.length - 1) % workspaces.length]);
    expect(peakAfterCall).toBeLessThanOrEqual(model.bytesAllocated + Math.max(...pairs));
    const largestTable = (1 + (42 / 14) * (42 / 14)) * small.config.hidden_size * 4;
    expect(positionTables).toBeLessThanOrEqual(SMALL_SHAPES.length * largestTable);
    // The bind group memo holds those of the two cached workspaces, not one per call.
    expect(peakGroups).toBe(2 * groupsPerWorkspace);
    expect(peakReferences).toBeLessThanOrEqual(8 * peakGroups); // linear.wgsl has the most bindings, 8
    expect(model.memory.bindGroupCount).toBe(0); // every bind group binds a shape uniform of a workspace
    expect(model.memory.bindGroupReferences).toBe(0);
    model.dispose();
    expect(model.bytesAllocated).toBe(0);
    expect(model.memory.bufferCount).toBe(0);
    model.dispose(); // idempotent
    expect(model.bytesAllocated).toBe(0);
  });
});

describe('GPU faults', () => {
  it('a GPU validation error rejects the call (typed) and leaves no buffer behind; the workspace it used is dropped', async () => {
    const device = await testDevice();
    const model = await Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, { device });
    const first = await model.forward(pixels(1, 56, 56, 3)); // caches this grid's position table and the shape's workspace
    await first.pooler_output.read();
    first.last_hidden_state.dispose();
    first.pooler_output.dispose();
    const before = model.bytesAllocated;
    const buffers = model.memory.bufferCount;
    expect(model.workspaceBytes).toBe(workspaceBytes(model, 1, 56, 56));
    // Break the model from outside: a weight buffer destroyed behind the model's back.
    model.layers[1].mlp.fcIn.weight.gpu.destroy();
    await expect(model.forward(pixels(1, 56, 56, 3))).rejects.toBeInstanceOf(GpuValidationError);
    // No output, scratch or uniform of the failed call stays: only the weights and the position table.
    expect(model.workspaceShapes).toEqual([]);
    expect(model.bytesAllocated).toBe(before - workspaceBytes(model, 1, 56, 56));
    expect(model.memory.bufferCount).toBe(buffers - 12); // the workspace's 10 scratch buffers and 2 uniforms
    model.dispose();
  });

  it('device loss: the pending read and later calls reject with DeviceLostError; reload brings the model back on a new device', async () => {
    const info = await requestDevice();
    const model = await Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, {
      device: info,
    });
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
