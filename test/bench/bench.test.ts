// `npm run bench` as a user runs it, on a tiny fixture: the JSON line it ends with has every field,
// with sane values. No speed is asserted (SwiftShader on a shared CPU times nothing useful).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { deviceTable, type TableRow } from '../../bench/device_table.js';
import { parseBenchArgs } from '../../bench/options.js';

describe('npm run bench (Node, Dawn) on test/fixtures/golden/tiny-gelu', () => {
  it('prints a summary, then one JSON object with every number as the last line', () => {
    // 42 x 42 px: a 3 x 3 patch grid, so 1 cls + 4 registers + 9 patches.
    const args = [
      '--import',
      'tsx',
      'bench/node.ts',
      '--model',
      'test/fixtures/golden/tiny-gelu',
      '--size',
      '42',
      '--runs',
      '1',
      '--warmup',
      '1',
      '--json',
    ];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const record = JSON.parse(lines[lines.length - 1]);
    expect(lines.some((l) => l.startsWith('adapter: '))).toBe(true);

    expect(record).toMatchObject({
      engine: 'dinov2-webgpu',
      runtime: 'node (Dawn)',
      size: 42,
      batch: 1,
      tokens: 14,
      dtype: 'fp32',
      warmup: 1,
      runs: 1,
      outputsFinite: true,
    });
    expect(record.config).toEqual({
      model_type: 'dinov2_with_registers',
      hidden_size: 64,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      patch_size: 14,
      num_register_tokens: 4,
      gated_mlp: false,
    });
    for (const key of ['firstRunMs', 'medianMs', 'p90Ms', 'minMs', 'meanMs', 'imagesPerSecond', 'loadMs']) {
      expect(Number.isFinite(record[key]) && record[key] > 0, `${key} = ${record[key]}`).toBe(true);
    }
    expect(record.timesMs).toHaveLength(1);
    expect(record.medianMs).toBe(record.timesMs[0]);
    expect(record.p90Ms).toBe(record.medianMs);
    expect(record.imagesPerSecond).toBeCloseTo(1000 / record.medianMs, 6);
    expect(record.timedTo).toMatch(/read\(\)/);

    // At least one dispatch per layer; weights held between forwards, and a peak at least that.
    expect(Number.isInteger(record.dispatches) && record.dispatches > record.config.num_hidden_layers).toBe(
      true,
    );
    expect(record.bytesAllocated).toBeGreaterThan(64 * 64 * 4 * 3);
    expect(record.peakBytes).toBeGreaterThanOrEqual(record.bytesAllocated);

    // The adapter is named, and a software one says so.
    const a = record.adapter;
    expect(typeof a.isSoftware).toBe('boolean');
    expect(`${a.vendor}${a.architecture}${a.description}`).not.toBe('');
    if (a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${a.architecture} ${a.description}`))
      expect(a.isSoftware).toBe(true);

    // Per-kernel times: measured (one row per kernel, every dispatch counted once) or a reason why not.
    expect(typeof record.kernelTimesNote).toBe('string');
    if (record.kernelTimes === null) expect(record.kernelTimesNote.length).toBeGreaterThan(0);
    else {
      const calls = record.kernelTimes.reduce((n: number, k: { calls: number }) => n + k.calls, 0);
      expect(calls).toBe(record.dispatches);
      for (const k of record.kernelTimes)
        expect(k.ms >= 0 && Number.isFinite(k.ms), `${k.kernel}: ${k.ms}`).toBe(true);
    }
    expect(record.versions.node).toBe(process.versions.node);
    expect(Number.isNaN(Date.parse(record.date))).toBe(false);
  });
});

describe('npm run bench on a DINOv3 checkpoint (test/fixtures/golden-dinov3/tiny-v3-mlp)', () => {
  it('names the class and the family, and counts its tokens on the patch-16 grid', () => {
    const args = ['--import', 'tsx', 'bench/node.ts', '--model', 'test/fixtures/golden-dinov3/tiny-v3-mlp'];
    const r = spawnSync(
      process.execPath,
      [...args, '--size', '48', '--runs', '1', '--warmup', '1', '--json'],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const record = JSON.parse(lines[lines.length - 1]);
    // 48 x 48 px: a 3 x 3 grid of 16 px patches, after cls and 4 registers.
    expect(record).toMatchObject({ architecture: 'DINOv3ViTModel', tokens: 14, dispatches: 3 + 5 * 3 + 1 });
    expect(record.config).toMatchObject({ model_type: 'dinov3_vit', patch_size: 16, gated_mlp: false });
  });
});

describe('bench options', () => {
  it('takes exactly one of --model and --random-weights', () => {
    expect(() => parseBenchArgs([])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--model', 'x', '--random-weights', 'small'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--random-weights', 'huge'])).toThrow(/small, base, large, giant/);
    expect(parseBenchArgs(['--random-weights', 'giant']).model).toEqual({ kind: 'random', size: 'giant' });
  });

  it('refuses what it cannot measure and misspelt options', () => {
    expect(() => parseBenchArgs(['--random-weights', 'small', '--dtype', 'int8'])).toThrow(
      /fp32, fp16, fp16-emulated/,
    );
    expect(() => parseBenchArgs(['--random-weights', 'small', '--runs', '0'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--random-weights', 'small', '--run', '3'])).toThrow(/unknown option/);
    expect(() => parseBenchArgs(['--random-weights', 'small', '--sync', 'later'])).toThrow(UsageError);
  });

  it('takes the dtypes the engine has', () => {
    expect(parseBenchArgs(['--random-weights', 'small']).dtype).toBe('fp32');
    for (const dtype of ['fp16', 'fp16-emulated'])
      expect(parseBenchArgs(['--random-weights', 'small', '--dtype', dtype]).dtype).toBe(dtype);
  });

  it('defaults: 224 px, batch 1, 20 runs after 2 warm-ups, timed to read()', () => {
    expect(parseBenchArgs(['--random-weights', 'small']).forward).toEqual({
      size: 224,
      batch: 1,
      runs: 20,
      warmup: 2,
      sync: 'read',
      kernelTimes: true,
    });
  });
});

describe("device.sh's table never passes a software adapter off as the GPU", () => {
  const run = (adapter: NonNullable<TableRow['adapter']>): TableRow => ({
    engine: 'dinov2-webgpu',
    model: 'random:small',
    size: 224,
    batch: 1,
    dtype: 'fp32',
    medianMs: 5,
    p90Ms: 6,
    imagesPerSecond: 200,
    outputsFinite: true,
    adapter,
  });
  const swiftshader = {
    vendor: 'google',
    architecture: 'swiftshader',
    device: '',
    description: 'SwiftShader driver 5.0.0',
    isSoftware: true,
  };
  const h100 = {
    vendor: 'nvidia',
    architecture: 'hopper',
    device: '',
    description: 'NVIDIA H100 80GB HBM3',
    isSoftware: false,
  };
  const llvmpipe = {
    vendor: 'mesa',
    architecture: '',
    device: '',
    description: 'llvmpipe (LLVM 15.0.6, 256 bits)',
    isSoftware: true,
  };

  it('fails on a software or non-NVIDIA adapter unless told to accept it', () => {
    expect(deviceTable([run(h100)], [], false, []).ok).toBe(true);
    expect(deviceTable([run(swiftshader)], [], false, []).ok).toBe(false);
    expect(deviceTable([run(llvmpipe)], [], false, []).ok).toBe(false);
    expect(deviceTable([run(h100), run(swiftshader)], [], false, []).ok).toBe(false);
    const accepted = deviceTable([run(swiftshader)], [], true, []);
    expect(accepted.ok).toBe(true);
    expect(accepted.lines.join('\n')).toMatch(/NOT GPU numbers/);
  });

  it('puts both engines of a shape on one row, with the ratio', () => {
    const torch: TableRow = {
      engine: 'pytorch',
      model: 'random:small',
      size: 224,
      batch: 1,
      dtype: 'fp32',
      medianMs: 2.5,
      p90Ms: 3,
      imagesPerSecond: 400,
      outputsFinite: true,
      gpu: 'NVIDIA H100',
    };
    const { lines } = deviceTable([run(h100)], [torch], false, []);
    const row = lines.find((l) => l.startsWith('small'))!;
    expect(row).toMatch(/5\.00 \/ 6\.00/);
    expect(row).toMatch(/2\.50 \/ 3\.00/);
    expect(row).toMatch(/2\.00x/);
  });
});
