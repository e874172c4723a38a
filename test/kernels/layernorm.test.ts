import { describe, expect, it } from 'vitest';
import { LayerNorm } from '../../src/model/layernorm.js';
import { ParameterSet } from '../../src/model/parameters.js';
import { expectClose } from '../helpers/compare.js';
import { memorySource, random, randomArray, runOnGpu } from '../helpers/gpu.js';
import { layerNorm64 } from '../reference/ops_f64.js';

async function check(rows: number, d: number, eps: number, offset: number, seed: number) {
  const rand = random(seed);
  // A large common offset: single-pass E[x²] - mean² would lose the variance here.
  const x = randomArray(rows * d, rand, offset - 1, offset + 1);
  const weight = randomArray(d, rand, 0.5, 1.5);
  const bias = randomArray(d, rand);
  const params = new ParameterSet();
  const norm = new LayerNorm(params, 'norm', d, eps);
  const source = memorySource({
    'norm.weight': { shape: [d], data: weight },
    'norm.bias': { shape: [d], data: bias },
  });
  const { y } = await runOnGpu(
    ({ memory, rec }) => {
      params.upload(memory, source);
      const xBuf = memory.upload('x', x);
      const yBuf = memory.create('y', rows * d * 4);
      norm.forward(rec, xBuf, rows, yBuf);
      return { y: yBuf };
    },
    { y: rows * d },
  );
  return expectClose(y, layerNorm64(x, rows, d, weight, bias, eps), `layernorm ${rows}x${d}`);
}

describe('layernorm.wgsl against float64, two-pass variance', () => {
  const cases: [number, number, number, number][] = [
    [1, 1, 1e-6, 0],
    [3, 5, 1e-5, 0],
    [21, 64, 1e-6, 0],
    [37, 383, 1e-6, 300],
    [5, 1536, 1e-6, 50],
    [261, 384, 1e-6, 0],
  ];
  for (const [i, [rows, d, eps, offset]] of cases.entries()) {
    it(`${rows} rows of ${d}, eps ${eps}, values around ${offset}`, async () => {
      expect(await check(rows, d, eps, offset, 10 + i)).toBeLessThan(1e-5);
    });
  }
});
