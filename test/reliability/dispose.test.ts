// Reads of outputs whose memory is gone reject with a typed DisposedError, never resolve with
// zeros: an output disposed itself, outputs of a disposed model, outputs read while the model is
// disposed, and a forward the model's dispose() interrupts (it rejects, or it finishes and its
// outputs are exact or reject; never a resolved read of anything else).
import { describe, expect, it } from 'vitest';
import { DisposedError } from '../../src/gpu/tensor.js';
import { Dinov2WithRegistersModel } from '../../src/model/modeling.js';
import { goldenModels } from '../helpers/fixtures.js';
import { random, randomArray, testDevice } from '../helpers/gpu.js';

const fixture = goldenModels().find((m) => m.name === 'tiny-gelu')!;

const pixels = (seed: number) => ({
  data: randomArray(3 * 28 * 28, random(seed), -2, 2),
  dims: [1, 3, 28, 28],
});

async function model() {
  return Dinov2WithRegistersModel.fromCheckpoint(fixture.config, fixture.weights, {
    device: await testDevice(),
  });
}

describe('reads after dispose', () => {
  it('a disposed output, and every output of a disposed model, reject with DisposedError', async () => {
    const m = await model();
    const out = await m.forward(pixels(1), { output_hidden_states: true, output_attentions: true });
    const exact = await out.pooler_output.read();
    expect(exact.some((v) => v !== 0)).toBe(true);
    out.pooler_output.dispose();
    await expect(out.pooler_output.read()).rejects.toThrow(DisposedError);
    m.dispose();
    for (const t of [out.last_hidden_state, ...out.hidden_states!, ...out.attentions!]) {
      await expect(t.read(), t.name).rejects.toThrow(DisposedError);
      await expect(t.tolist(), t.name).rejects.toThrow(DisposedError);
    }
    await expect(m.forward(pixels(1))).rejects.toThrow(/disposed/);
  });

  it('a read under way when the model is disposed rejects (or completes with the exact values)', async () => {
    const m = await model();
    const want = await (await m.forward(pixels(2))).last_hidden_state.read();
    const out = await m.forward(pixels(2));
    const read = out.last_hidden_state.read();
    m.dispose();
    const got = await read.then(
      (v) => v,
      (e) => e,
    );
    if (got instanceof Error) expect(got).toBeInstanceOf(DisposedError);
    else expect(got).toEqual(want);
  });

  it('dispose() during forwards: each rejects with DisposedError or gives exact outputs; none resolves a read with zeros', async () => {
    const reference = await model();
    const inputs = [3, 4, 5, 6].map(pixels);
    const want: Float32Array[] = [];
    for (const input of inputs) want.push(await (await reference.forward(input)).pooler_output.read());
    reference.dispose();

    const m = await model();
    const calls = inputs.map((input) => m.forward(input));
    m.dispose(); // the calls were recorded and submitted; their outputs were not read yet
    const settled = await Promise.allSettled(calls);
    for (const [i, s] of settled.entries()) {
      if (s.status === 'rejected') {
        expect(s.reason, `call ${i}`).toBeInstanceOf(DisposedError);
        continue;
      }
      const read = await s.value.pooler_output.read().then(
        (v) => v,
        (e) => e,
      );
      if (read instanceof Error) expect(read).toBeInstanceOf(DisposedError);
      else expect(read, `call ${i}`).toEqual(want[i]);
    }
    expect(settled.some((s) => s.status === 'rejected')).toBe(true);
  });
});
