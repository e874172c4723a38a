// ViT-g shapes (1536 wide, 24 heads of 64, SwiGLU) at 518 x 518 (1 + 4 + 37·37 = 1374 tokens) on
// WebGPU's default limits: flash attention needs no [T, T] buffer, and the 181 MB attention map of a
// layer (more than the 128 MiB a binding may hold by default) comes back in chunks of whole heads.
import { describe, expect, it } from 'vitest';
import { makeCheckpoint, DEFAULT_OPTIONS } from '../../scripts/make_random_checkpoint.js';
import { requestDevice } from '../../src/gpu/device.js';
import { parseConfig } from '../../src/io/config.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { Dinov2WithRegistersModel } from '../../src/model/modeling.js';
import { random, randomArray } from '../helpers/gpu.js';

describe('giant shapes at 518 x 518 on default limits', () => {
  it(
    'one ViT-g layer runs, and its attention map is returned in chunks that add up to probabilities',
    { timeout: 1_500_000 },
    async () => {
      const { config, tensors } = makeCheckpoint({
        ...DEFAULT_OPTIONS,
        hidden: 1536,
        layers: 1,
        heads: 24,
        patch: 14,
        imageSize: 518,
        registers: 4,
        swiglu: true,
        seed: 5,
      });
      const weights = SafetensorsFile.parse(writeSafetensors(tensors), 'giant-1-layer');
      const device = await requestDevice({ defaultLimits: true });
      expect(device.device.limits.maxStorageBufferBindingSize).toBe(134217728);
      const model = await Dinov2WithRegistersModel.fromCheckpoint(parseConfig(config), weights, { device });
      const out = await model.forward(
        { data: randomArray(3 * 518 * 518, random(9), -2, 2), dims: [1, 3, 518, 518] },
        { output_attentions: true },
      );

      const tokens = 1 + 4 + 37 * 37;
      expect(out.last_hidden_state.dims).toEqual([1, tokens, 1536]);
      const last = await out.last_hidden_state.read();
      expect(last.every(Number.isFinite)).toBe(true);
      expect(Array.from(await out.pooler_output.read())).toEqual(Array.from(last.subarray(0, 1536)));

      const attention = out.attentions![0];
      expect(attention.dims).toEqual([1, 24, tokens, tokens]);
      expect(attention.segments.length).toBeGreaterThan(1);
      const probs = await attention.read();
      let worst = 0;
      for (let row = 0; row < 24 * tokens; row++) {
        let sum = 0;
        for (let k = 0; k < tokens; k++) sum += probs[row * tokens + k];
        worst = Math.max(worst, Math.abs(sum - 1));
      }
      expect(worst).toBeLessThan(1e-4);
      model.dispose();
    },
  );
});
