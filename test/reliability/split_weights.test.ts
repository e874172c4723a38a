// Weights larger than one binding of the device are split along their output features into pieces
// that each fit, one linear.wgsl dispatch per piece, rather than refused; what cannot be split (one
// vec4 column of wT over the limit) is a GpuLimitError naming the tensor. A smaller device is faked
// by making device.limits report smaller buffer limits (Dawn still validates against its real ones),
// and the outputs are compared with the golden references at the usual 1e-4.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GpuLimitError } from '../../src/gpu/buffers.js';
import type { GpuTensor } from '../../src/gpu/tensor.js';
import { type Dinov2Config, parseConfig } from '../../src/io/config.js';
import type { SafetensorsFile } from '../../src/io/safetensors.js';
import { forwardBuffers } from '../../src/model/budget.js';
import {
  Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersModel,
  type PreTrainedModel,
} from '../../src/model/modeling.js';
import { parseDinov3Config } from '../../src/io/config_dinov3.js';
import { DINOv3ViTModel } from '../../src/model/modeling_dinov3.js';
import { expectClose } from '../helpers/compare.js';
import { readSafetensors } from '../helpers/fixtures.js';
import { type BufferLimitOverrides, fakeLimits, testDevice } from '../helpers/gpu.js';

const ROOT = 'test/fixtures/golden';

function fixture(name: string): {
  config: Dinov2Config;
  weights: SafetensorsFile;
  golden: (c: string) => SafetensorsFile;
} {
  const path = join(ROOT, name, 'config.json');
  return {
    config: parseConfig(JSON.parse(readFileSync(path, 'utf8')), path),
    weights: readSafetensors(join(ROOT, name, 'model.safetensors')),
    golden: (c) => readSafetensors(join(ROOT, name, `${c}.safetensors`)),
  };
}

/** The largest buffer a forward of this golden case creates (hidden states, attentions, logits asked for). */
function largestBuffer(config: Dinov2Config, file: SafetensorsFile): number {
  const [batch, , height, width] = file.info('pixel_values').shape;
  const patches = Math.floor(height / config.patch_size) * Math.floor(width / config.patch_size);
  const tokens = 1 + config.num_register_tokens + patches;
  const planned = forwardBuffers(
    config,
    { batch, height, width, patches, tokens },
    { output_attentions: true, classifier: config.architectures[0].endsWith('ForImageClassification') },
  );
  return Math.max(...planned.map((b) => b.bytes));
}

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

async function limited<T>(limits: BufferLimitOverrides, f: () => Promise<T>): Promise<T> {
  const { device } = await testDevice();
  restore = fakeLimits(device, limits);
  try {
    return await f();
  } finally {
    restore();
    restore = undefined;
  }
}

/** Every tensor of `outputs` the golden case holds, within 1e-4; returns how many were compared. */
async function compareAll(
  file: SafetensorsFile,
  name: string,
  outputs: Record<string, GpuTensor | GpuTensor[] | undefined>,
): Promise<number> {
  let compared = 0;
  let worst = 0;
  for (const [key, value] of Object.entries(outputs)) {
    const tensors = Array.isArray(value)
      ? value.map((t, i) => [`${key}.${i}`, t] as const)
      : value
        ? [[key, value] as const]
        : [];
    for (const [tensorName, t] of tensors) {
      expect(t.dims, `${tensorName} dims`).toEqual(file.info(tensorName).shape);
      worst = Math.max(worst, expectClose(await t.read(), file.float32(tensorName), `${name} ${tensorName}`));
      t.dispose();
      compared++;
    }
  }
  console.log(
    `${name} with split weights: worst relative error ${worst.toExponential(2)} over ${compared} tensors`,
  );
  return compared;
}

const pixels = (file: SafetensorsFile) => ({
  data: file.float32('pixel_values'),
  dims: file.info('pixel_values').shape,
});

/** Pieces of each encoder layer's projections: [qkv, output.dense, fc1 | weights_in, fc2 | weights_out]. */
const layerPieces = (model: PreTrainedModel) =>
  model.layers.map((l) => [
    l.attention.qkv.pieces,
    l.attention.dense.pieces,
    l.mlp.fcIn.pieces,
    l.mlp.fcOut.pieces,
  ]);

describe('weights larger than one binding are split along their output features', () => {
  it('tiny-gelu on a device whose binding limit is the largest activation: qkv, fc1, fc2 and the patch embedding split, outputs exact', async () => {
    const { config, weights, golden } = fixture('tiny-gelu');
    const file = golden('nonsquare-42x70');
    const limit = largestBuffer(config, file); // 35280: pixel_values and im2col of one 42x70 image
    const device = await testDevice();
    await limited({ maxStorageBufferBindingSize: limit }, async () => {
      const model = await Dinov2WithRegistersModel.fromCheckpoint(config, weights, { device });
      // qkv [192 out, 64 in] in 136 + 56 rows, fc1 [256, 64] 136 + 120, fc2 [64, 256] 32 + 32,
      // the patch embedding [64, 588] 5 x 12 + 4.
      expect(layerPieces(model)).toEqual([
        [2, 1, 2, 2],
        [2, 1, 2, 2],
        [2, 1, 2, 2],
      ]);
      expect(model.embeddings.projection.pieces).toBe(6);
      expect(model.splitWeights).toContainEqual({ name: 'encoder.layer.0.mlp.fc1.weight', pieces: 2 });
      expect(model.splitWeights.length).toBe(1 + 3 * 3);
      const out = await model.forward(pixels(file), { output_hidden_states: true, output_attentions: true });
      // 3 embeddings + 3 layers x 6 (with attentions) + final layernorm, and one more per extra piece.
      expect(model.lastStats.dispatches).toBe(3 + 3 * 6 + 1 + (6 - 1) + 3 * 3);
      expect(await compareAll(file, 'tiny-gelu/nonsquare-42x70', { ...out })).toBe(2 + 4 + 3);
      model.dispose();
    });
  });

  it('tiny-swiglu: weights_in splits into whole (x1, x2) pairs; more pieces when loaded under a smaller limit', async () => {
    const { config, weights, golden } = fixture('tiny-swiglu');
    const file = golden('downsample-28x56');
    const limit = largestBuffer(config, file); // 37632: pixel_values and im2col of two 28x56 images
    const device = await testDevice();
    await limited({ maxStorageBufferBindingSize: limit }, async () => {
      const model = await Dinov2WithRegistersModel.fromCheckpoint(config, weights, { device });
      // weights_in [2 x 128 out, 48 in]: 192 + 64 interleaved rows (96 + 32 outputs of y).
      expect(layerPieces(model)).toEqual([
        [1, 1, 2, 1],
        [1, 1, 2, 1],
      ]);
      expect(model.embeddings.projection.pieces).toBe(3);
      const out = await model.forward(pixels(file), { output_hidden_states: true, output_attentions: true });
      expect(await compareAll(file, 'tiny-swiglu/downsample-28x56', { ...out })).toBe(2 + 3 + 2);
      model.dispose();
    });
    // Pieces are chosen when the weights are loaded: under 12000 bytes every projection but the
    // [48, 48] output.dense splits (qkv 60 + 60 + 24 rows, weights_in 4 x 56 + 32, weights_out
    // 20 + 20 + 8, the patch embedding 12 x 4), and the forward then runs with the device's own limits.
    const model = await limited({ maxStorageBufferBindingSize: 12000 }, () =>
      Dinov2WithRegistersModel.fromCheckpoint(config, weights, { device }),
    );
    expect(layerPieces(model)).toEqual([
      [3, 1, 5, 3],
      [3, 1, 5, 3],
    ]);
    expect(model.embeddings.projection.pieces).toBe(12);
    const square = golden('square-native');
    const out = await model.forward(pixels(square), { output_hidden_states: true, output_attentions: true });
    expect(await compareAll(square, 'tiny-swiglu/square-native', { ...out })).toBe(2 + 3 + 2);
    model.dispose();
  });

  it('tiny-classifier: the logits are exact with split weights', async () => {
    const { config, weights, golden } = fixture('tiny-classifier');
    const file = golden('square-native');
    const device = await testDevice();
    const limit = largestBuffer(config, file); // 28224: pixel_values and im2col of three 28x28 images
    await limited({ maxStorageBufferBindingSize: limit }, async () => {
      const model = await Dinov2WithRegistersForImageClassification.fromCheckpoint(config, weights, {
        device,
      });
      expect(model.embeddings.projection.pieces).toBe(3);
      const out = await model.forward(pixels(file), { output_hidden_states: true, output_attentions: true });
      expect(await compareAll(file, 'tiny-classifier/square-native', { ...out })).toBe(1 + 3 + 2);
      model.dispose();
    });
    // Loaded under 9408 bytes (one vec4 column of the patch embedding): qkv, fc1 and fc2 split too.
    const model = await limited({ maxStorageBufferBindingSize: 9408 }, () =>
      Dinov2WithRegistersForImageClassification.fromCheckpoint(config, weights, { device }),
    );
    expect(layerPieces(model)).toEqual([
      [2, 1, 2, 2],
      [2, 1, 2, 2],
    ]);
    expect(model.embeddings.projection.pieces).toBe(8);
    expect(model.classifier.pieces).toBe(1);
    const out = await model.forward(pixels(file));
    expect(await compareAll(file, 'tiny-classifier/square-native', { ...out })).toBe(1);
    model.dispose();
  });

  it('maxBufferSize below a weight splits it likewise', async () => {
    const { config, weights, golden } = fixture('tiny-gelu');
    const file = golden('nonsquare-42x70');
    const device = await testDevice();
    await limited({ maxBufferSize: largestBuffer(config, file) }, async () => {
      const model = await Dinov2WithRegistersModel.fromCheckpoint(config, weights, { device });
      expect(layerPieces(model)[0]).toEqual([2, 1, 2, 2]);
      expect(model.embeddings.projection.pieces).toBe(6);
      const out = await model.forward(pixels(file));
      expect(await compareAll(file, 'tiny-gelu/nonsquare-42x70', { ...out })).toBe(2);
      model.dispose();
    });
    // On the device's own limits nothing is split: one dispatch per linear.
    const model = await Dinov2WithRegistersModel.fromCheckpoint(config, weights, { device });
    expect(model.splitWeights).toEqual([]);
    (await model.forward(pixels(file))).last_hidden_state.dispose();
    expect(model.lastStats.dispatches).toBe(3 + 3 * 5 + 1);
    model.dispose();
  });

  it("dtype 'fp16-emulated': each piece is rounded to f16 like the whole, so split and unsplit outputs are the same numbers", async () => {
    const { config, weights, golden } = fixture('tiny-swiglu');
    const file = golden('square-native');
    const device = await testDevice();
    const options = { device, dtype: 'fp16-emulated' as const };
    const outputs = async (model: Dinov2WithRegistersModel) => {
      const out = await model.forward(pixels(file), { output_hidden_states: true });
      const values = await Promise.all([out.last_hidden_state, ...out.hidden_states!].map((t) => t.read()));
      model.dispose();
      return values;
    };
    const whole = await Dinov2WithRegistersModel.fromCheckpoint(config, weights, options);
    expect(whole.splitWeights).toEqual([]);
    const want = await outputs(whole);
    const split = await limited({ maxStorageBufferBindingSize: 12000 }, () =>
      Dinov2WithRegistersModel.fromCheckpoint(config, weights, options),
    );
    expect(layerPieces(split)[1]).toEqual([3, 1, 5, 3]);
    const got = await outputs(split);
    for (const [i, values] of got.entries()) expect(values, `output ${i}`).toEqual(want[i]);
  });

  it.each([
    ['maxStorageBufferBindingSize', { maxStorageBufferBindingSize: 588 * 16 - 1 }],
    ['maxBufferSize', { maxBufferSize: 588 * 16 - 1 }],
  ])('a weight whose smallest piece exceeds %s is a GpuLimitError naming it, before any buffer is created', async (name, limits) => {
    const { config, weights } = fixture('tiny-gelu');
    const device = await testDevice();
    const createBuffer = vi.spyOn(device.device, 'createBuffer');
    let error: unknown;
    try {
      await limited(limits, () => Dinov2WithRegistersModel.fromCheckpoint(config, weights, { device }));
    } catch (e) {
      error = e;
    }
    const created = createBuffer.mock.calls.length;
    createBuffer.mockRestore();
    expect(error).toBeInstanceOf(GpuLimitError);
    // One vec4 column of the transposed patch embedding: 588 inputs x 4 outputs x 4 bytes.
    expect((error as Error).message).toBe(
      `embeddings.patch_embeddings.projection.weight: cannot be split to fit this device's ${name} (9407): its smallest piece, 4 of its 64 output rows by 588 inputs, needs 9408 bytes`,
    );
    expect(created).toBe(0);
  });
});

describe('DINOv3: weights split across bindings', () => {
  // Loaded under a faked 16000-byte binding, run with the device's own limits (as above). A piece
  // holds floor(16000 / (16 in)) vec4 columns of wT (4 output rows each; whole pairs with GLU).
  const v3 = (name: string) => {
    const dir = join('test/fixtures/golden-dinov3', name);
    return {
      config: parseDinov3Config(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))),
      weights: readSafetensors(join(dir, 'model.safetensors')),
      golden: (c: string) => readSafetensors(join(dir, `${c}.safetensors`)),
    };
  };

  it('tiny-v3-mlp: q|k|v (k without its bias) and up/down_proj in pieces, every output within 1e-4', async () => {
    const { config, weights, golden } = v3('tiny-v3-mlp');
    const device = await testDevice();
    const model = await limited({ maxStorageBufferBindingSize: 16000 }, () =>
      DINOv3ViTModel.fromCheckpoint(config, weights, { device }),
    );
    // [64 in]: 60 rows a piece: qkv 192 rows -> 4, o_proj 64 -> 2, up_proj 256 -> 5;
    // down_proj [256 in]: 12 rows -> 6; the patch embedding [768 in]: 4 rows -> 16.
    expect(layerPieces(model)).toEqual([
      [4, 2, 5, 6],
      [4, 2, 5, 6],
      [4, 2, 5, 6],
    ]);
    expect(model.embeddings.projection.pieces).toBe(16);
    const file = golden('nonsquare-48x80');
    const out = await model.forward(pixels(file), { output_hidden_states: true, output_attentions: true });
    expect(await compareAll(file, 'tiny-v3-mlp/nonsquare-48x80', { ...out })).toBe(2 + 4 + 3);
    model.dispose();
  });

  it('tiny-v3-swiglu-nobias: gate_proj + up_proj split into whole (gate, up) pairs', async () => {
    const { config, weights, golden } = v3('tiny-v3-swiglu-nobias');
    const device = await testDevice();
    const model = await limited({ maxStorageBufferBindingSize: 16000 }, () =>
      DINOv3ViTModel.fromCheckpoint(config, weights, { device }),
    );
    // [48 in]: 80 rows a piece: qkv 144 -> 2, o_proj 48 -> 1, gate+up 256 interleaved rows
    // (40 pairs a piece) -> 4; down_proj [128 in]: 28 rows -> 2.
    expect(layerPieces(model)).toEqual([
      [2, 1, 4, 2],
      [2, 1, 4, 2],
    ]);
    const file = golden('nonsquare-32x96');
    const out = await model.forward(pixels(file), { output_hidden_states: true, output_attentions: true });
    expect(await compareAll(file, 'tiny-v3-swiglu-nobias/nonsquare-32x96', { ...out })).toBe(2 + 3 + 2);
    model.dispose();
  });
});
