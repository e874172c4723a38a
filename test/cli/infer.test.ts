// `dinov2-webgpu infer` as a user runs it (node bin/dinov2-webgpu.js, the built CLI) on golden
// cases, including configurations only the generated fixtures have, DINOv2 and DINOv3, and on a
// DINOv3 checkpoint made at test time in a configuration no fixture has.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type CheckpointOptions,
  DEFAULT_OPTIONS,
  DINOV3_DEFAULTS,
  writeCheckpoint,
} from '../../scripts/make_random_checkpoint.js';
import { parseDinov3Config } from '../../src/io/config_dinov3.js';
import type { ModelConfig } from '../../src/io/model_config.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { expectClose } from '../helpers/compare.js';
import { dinov3GoldenModels, type GoldenModel, goldenModels, readSafetensors } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';
import { dinov3NamedOutputs, dinov3ReferenceForward } from '../reference/dinov3_f64.js';
import { Random } from '../reference/random.js';

const work = mkdtempSync(join(tmpdir(), 'dinov2-cli-'));
const hasF16 = (await testDevice()).device.features.has('shader-f16');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/dinov2-webgpu.js', ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** The case with the most to check: feature maps when a case has them, else masking, else the first. */
function richestCase(fixture: GoldenModel<ModelConfig>) {
  return fixture.cases.find((x) => x.out_indices) ?? fixture.cases.find((x) => x.mask) ?? fixture.cases[0];
}

describe.each([
  ['dinov2-webgpu infer reproduces golden cases', goldenModels()],
  ['dinov2-webgpu infer reproduces golden DINOv3 cases', dinov3GoldenModels()],
] as [string, GoldenModel<ModelConfig>[]][])('%s', (_, fixtures) => {
  it('has fixtures to run', () => expect(fixtures.length).toBeGreaterThan(0));
  for (const fixture of fixtures) {
    const c = richestCase(fixture);
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

describe('the CLI reproduces DINOv3 configurations the fixtures do not contain', () => {
  // Made here, not stored: head dim 16, rope_theta 1000, eps 3e-5, gated silu MLP, 3 registers,
  // patch 6, a k bias (no other fixture has this combination; rope_theta 1000 and patch 6 none at all).
  const options: CheckpointOptions = {
    ...DEFAULT_OPTIONS,
    ...DINOV3_DEFAULTS,
    hidden: 32,
    layers: 2,
    heads: 2,
    intermediate: 40,
    swiglu: true,
    act: 'silu',
    ropeTheta: 1000,
    eps: 3e-5,
    registers: 3,
    patch: 6,
    imageSize: 24,
    keyBias: true,
    outIndices: [0, 1, 2],
    seed: 2024,
  };

  it('every output of a fresh random checkpoint within 1e-4 of the float64 reference', () => {
    const dir = join(work, 'fresh-dinov3');
    writeCheckpoint(dir, options);
    const weights = readSafetensors(join(dir, 'model.safetensors'));
    const config = parseDinov3Config(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    // 2 images of 33 x 20: a 5 x 3 grid, neither side a multiple of the patch.
    const [batch, height, width] = [2, 33, 20];
    const shape = [batch, 3, height, width];
    const pixels = Random.stream(options.seed, 'fresh/pixel_values').normals(batch * 3 * height * width);
    const input = join(work, 'fresh-dinov3-input.safetensors');
    writeFileSync(input, writeSafetensors({ pixel_values: { dtype: 'F32', shape, data: pixels } }));
    const outIndices = [0, 1, 2];
    const expected = dinov3NamedOutputs(
      dinov3ReferenceForward(config, weights, { pixelValues: pixels, batch, height, width, outIndices }),
    );

    const out = join(work, 'fresh-dinov3-output.safetensors');
    const r = cli(
      'infer',
      '--model',
      dir,
      '--input',
      input,
      '--output',
      out,
      '--output-attentions',
      '--output-hidden-states',
      '--out-indices',
      outIndices.join(','),
    );
    expect(r.stderr).toMatch(/wrote \d+ tensors/);
    expect(r.status).toBe(0);
    const got = readSafetensors(out);
    expect(expected.size).toBe(2 + 3 + 2 + 3);
    for (const [name, t] of expected) {
      expect(got.info(name).shape, name).toEqual(t.dims);
      expectClose(got.float32(name), t.data, `fresh DINOv3 ${name}`);
    }
    expect(expected.get('feature_maps.0')!.dims).toEqual([batch, 32, 5, 3]);
  });
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
