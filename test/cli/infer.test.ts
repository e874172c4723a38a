// `dinov2-webgpu infer` as a user runs it (node bin/dinov2-webgpu.js, the built CLI) on golden
// cases, including configurations only the generated fixtures have.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { expectClose } from '../helpers/compare.js';
import { goldenModels, readSafetensors } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

const work = mkdtempSync(join(tmpdir(), 'dinov2-cli-'));
const hasF16 = (await testDevice()).device.features.has('shader-f16');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/dinov2-webgpu.js', ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('dinov2-webgpu infer reproduces golden cases', () => {
  for (const fixture of goldenModels()) {
    // The case with the most to check: feature maps when a case has them, else masking, else the first.
    const c =
      fixture.cases.find((x) => x.out_indices) ?? fixture.cases.find((x) => x.mask) ?? fixture.cases[0];
    it(`${fixture.dir} ${c.case}`, () => {
      const out = join(work, `${fixture.name}-${c.case}.safetensors`);
      const args = [
        'infer',
        '--model',
        fixture.dir,
        '--input',
        join(fixture.dir, `${c.case}.safetensors`),
        '--output',
        out,
        '--output-attentions',
        '--output-hidden-states',
      ];
      if (c.out_indices) args.push('--out-indices', c.out_indices.join(','));
      const r = cli(...args);
      expect(r.stderr).toMatch(/wrote \d+ tensors/);
      expect(r.status).toBe(0);
      const got = readSafetensors(out);
      const names = c.file.names.filter((n) => n !== 'pixel_values' && n !== 'bool_masked_pos');
      expect(names.length).toBeGreaterThan(2);
      for (const name of names) {
        expect(got.info(name).shape, name).toEqual(c.file.info(name).shape);
        expectClose(got.float32(name), c.file.float32(name), `${fixture.name}/${c.case} ${name}`);
      }
    });
  }
});

describe('dinov2-webgpu infer --dtype', () => {
  it('fp16-emulated: every output within the fp16 bound, and not the fp32 outputs', () => {
    const fixture = goldenModels().find((f) => f.name === 'tiny-swiglu')!;
    const c = fixture.cases[0];
    const out = join(work, `fp16-${c.case}.safetensors`);
    const r = cli(
      'infer',
      '--model',
      fixture.dir,
      '--input',
      join(fixture.dir, `${c.case}.safetensors`),
      '--output',
      out,
      '--dtype',
      'fp16-emulated',
    );
    expect(r.status, r.stderr).toBe(0);
    const got = readSafetensors(out);
    for (const name of ['last_hidden_state', 'pooler_output']) {
      const err = expectClose(got.float32(name), c.file.float32(name), `fp16-emulated ${name}`, 1e-2);
      expect(err).toBeGreaterThan(1e-5);
    }
  });
});

describe('dinov2-webgpu infer on bad input: one line on stderr, non-zero exit, no stack trace', () => {
  const model = 'test/fixtures/golden/tiny-gelu';
  const badInput = (name: string, tensors: Parameters<typeof writeSafetensors>[0]) => {
    const path = join(work, name);
    writeFileSync(path, writeSafetensors(tensors));
    return path;
  };
  const cases: [string, () => string[], RegExp, number][] = [
    [
      'missing --input',
      () => ['infer', '--model', model, '--output', join(work, 'x')],
      /--input is required/,
      2,
    ],
    [
      'unknown option',
      () => ['infer', '--model', model, '--input', 'a', '--output', 'b', '--colour'],
      /unknown option --colour/,
      2,
    ],
    [
      'input file absent',
      () => [
        'infer',
        '--model',
        model,
        '--input',
        join(work, 'absent.safetensors'),
        '--output',
        join(work, 'x'),
      ],
      /absent\.safetensors/,
      1,
    ],
    [
      'model folder without config.json',
      () => [
        'infer',
        '--model',
        work,
        '--input',
        badInput('ok.safetensors', {
          pixel_values: { dtype: 'F32', shape: [1, 3, 56, 56], data: new Float32Array(3 * 56 * 56) },
        }),
        '--output',
        join(work, 'x'),
      ],
      /no config\.json/,
      1,
    ],
    [
      'no pixel_values',
      () => [
        'infer',
        '--model',
        model,
        '--input',
        badInput('none.safetensors', { other: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }),
        '--output',
        join(work, 'x'),
      ],
      /no tensor named pixel_values/,
      1,
    ],
    [
      'wrong channel count',
      () => [
        'infer',
        '--model',
        model,
        '--input',
        badInput('c4.safetensors', {
          pixel_values: { dtype: 'F32', shape: [1, 4, 56, 56], data: new Float32Array(4 * 56 * 56) },
        }),
        '--output',
        join(work, 'x'),
      ],
      /4 channels/,
      1,
    ],
    [
      'image smaller than a patch',
      () => [
        'infer',
        '--model',
        model,
        '--input',
        badInput('small.safetensors', {
          pixel_values: { dtype: 'F32', shape: [1, 3, 10, 56], data: new Float32Array(3 * 10 * 56) },
        }),
        '--output',
        join(work, 'x'),
      ],
      /at least the patch size/,
      1,
    ],
    [
      'unknown dtype',
      () => [
        'infer',
        '--model',
        model,
        '--input',
        join(model, 'square-native.safetensors'),
        '--output',
        join(work, 'x'),
        '--dtype',
        'int8',
      ],
      /dtype "int8".*'fp16'/,
      1,
    ],
    [
      'out-indices beyond the stages',
      () => [
        'infer',
        '--model',
        model,
        '--input',
        join(model, 'square-native.safetensors'),
        '--output',
        join(work, 'x'),
        '--out-indices',
        '7',
      ],
      /not a stage index/,
      1,
    ],
  ];
  if (!hasF16) {
    cases.push([
      'fp16 on an adapter without shader-f16',
      () => [
        'infer',
        '--model',
        model,
        '--input',
        join(model, 'square-native.safetensors'),
        '--output',
        join(work, 'x'),
        '--dtype',
        'fp16',
      ],
      /shader-f16/,
      1,
    ]);
  }
  for (const [name, args, message, status] of cases) {
    it(name, () => {
      const r = cli(...args());
      expect(r.status).toBe(status);
      expect(r.stderr).toMatch(message);
      // No JavaScript stack (Dawn may print a native adapter warning of its own on a GPU-less machine).
      expect(r.stderr).not.toMatch(/\n\s+at .*\.(js|ts|mjs):\d+/);
    });
  }
});
