// `dinov2-webgpu preprocess IMAGE --output OUT.safetensors` as a user runs it (node
// bin/dinov2-webgpu.js, the built CLI): transformers' BitImageProcessor on the golden images, on
// images of other sizes and aspect ratios (against the processor in-process, and against PIL
// when Python's Pillow is installed), and with a checkpoint folder's preprocessor_config.json.
// Measured agreement goes to test-output/preprocess-cli-agreement.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { loadImageNode } from '../../src/image/decode_node.js';
import {
  BitImageProcessor,
  DINOV2_PROCESSOR_DEFAULTS,
  parseImageProcessorConfig,
  type ImageProcessorConfig,
} from '../../src/image/processor.js';
import { readSafetensors } from '../helpers/fixtures.js';
import { random } from '../helpers/gpu.js';

const DIR = 'test/fixtures/preprocess';
const work = mkdtempSync(join(tmpdir(), 'dinov2-preprocess-'));
const measured: Record<string, Agreement & { against: string }> = {};

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/dinov2-webgpu.js', ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** Runs the CLI on `image` and returns what it wrote. */
function preprocessCli(image: string, ...extra: string[]) {
  const out = join(work, `${image.replace(/[^\w.-]/g, '_')}-${extra.length}.safetensors`);
  const r = cli('preprocess', image, '--output', out, ...extra);
  expect(r.stderr, 'the CLI says what it wrote').toMatch(/pixel_values \[1, 3, \d+, \d+\]/);
  expect(r.status).toBe(0);
  const file = readSafetensors(out);
  expect(file.names).toEqual(['pixel_values']);
  expect(file.info('pixel_values').dtype).toBe('F32');
  return {
    pixel_values: file.float32('pixel_values'),
    dims: file.info('pixel_values').shape,
    stderr: r.stderr,
  };
}

interface Agreement {
  values: number;
  /** Share of values within 1e-6 of the reference ("exact": the same uint8 level). */
  exact: number;
  identical: number;
  /** Largest difference in uint8 levels (rescale_factor / std of the channel). */
  maxLevels: number;
}

function agreement(
  out: Float32Array,
  ref: Float32Array,
  dims: number[],
  config: ImageProcessorConfig,
): Agreement {
  expect(out.length).toBe(ref.length);
  const plane = dims[2] * dims[3];
  const level = config.image_std.map((s) => config.rescale_factor / s);
  let exact = 0;
  let identical = 0;
  let maxLevels = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(out[i] - ref[i]);
    if (d <= 1e-6) exact++;
    if (d === 0) identical++;
    maxLevels = Math.max(maxLevels, Number.isNaN(d) ? Infinity : d / level[Math.floor(i / plane)]);
  }
  return { values: ref.length, exact: exact / ref.length, identical: identical / ref.length, maxLevels };
}

/** The acceptance bound: within one uint8 level everywhere, exact on at least 99% of values. */
function expectWithinOneLevel(name: string, a: Agreement, against: string): void {
  measured[`${name} vs ${against}`] = { ...a, against };
  console.log(
    `${name} vs ${against}: exact ${(100 * a.exact).toFixed(4)}%, identical ${(100 * a.identical).toFixed(4)}%, max ${a.maxLevels.toFixed(3)} levels`,
  );
  expect(a.maxLevels, `${name}: max difference in levels`).toBeLessThanOrEqual(1 + 1e-6);
  expect(a.exact, `${name}: share of exact values`).toBeGreaterThanOrEqual(0.99);
}

afterAll(() => {
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/preprocess-cli-agreement.json', `${JSON.stringify(measured, null, 2)}\n`);
});

describe('dinov2-webgpu preprocess reproduces the golden pixel_values (transformers, PIL path)', () => {
  const golden = JSON.parse(readFileSync(`${DIR}/cases.json`, 'utf8')) as {
    processor: unknown;
    cases: { name: string; width: number; height: number }[];
  };
  const config = parseImageProcessorConfig(golden.processor, 'cases.json processor');
  for (const c of golden.cases) {
    it(`${c.name}.png (${c.width}x${c.height}), default settings`, () => {
      const { pixel_values, dims } = preprocessCli(`${DIR}/${c.name}.png`);
      const ref = readSafetensors(`${DIR}/${c.name}.safetensors`);
      expect(dims).toEqual(ref.info('pixel_values').shape);
      const a = agreement(pixel_values, ref.float32('pixel_values'), dims, config);
      expectWithinOneLevel(c.name, a, 'golden');
      expect(a.identical, 'measured: bit for bit').toBe(1);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Images the golden set does not have: odd sizes, extreme aspect ratios, upscaling, grey, alpha, JPEG.

interface Unseen {
  name: string;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  format: 'png' | 'jpeg';
}

const UNSEEN: Unseen[] = [
  { name: 'tall-97x413', width: 97, height: 413, channels: 3, format: 'png' },
  { name: 'wide-1000x37', width: 1000, height: 37, channels: 3, format: 'png' }, // shortest edge 37 -> 256: 6.9x upscale
  { name: 'almost-square-513x511', width: 513, height: 511, channels: 3, format: 'png' },
  { name: 'small-150x200', width: 150, height: 200, channels: 3, format: 'png' },
  { name: 'grey-301x257', width: 301, height: 257, channels: 1, format: 'png' },
  { name: 'rgba-230x340', width: 230, height: 340, channels: 4, format: 'png' },
  { name: 'photo-like-480x360', width: 480, height: 360, channels: 3, format: 'jpeg' },
];

/** Smooth gradients, hard-edged discs and stripes, and noise: the content resampling filters disagree on. */
function drawPixels(u: Unseen, seed: number): Uint8Array {
  const rand = random(seed);
  const { width, height, channels } = u;
  const out = new Uint8Array(width * height * channels);
  const discs = Array.from({ length: 6 }, () => ({
    x: rand(0, width),
    y: rand(0, height),
    r: rand(3, Math.max(4, Math.min(width, height) / 2)),
    c: [rand(0, 255), rand(0, 255), rand(0, 255)],
  }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let rgb = [(255 * x) / width, (255 * y) / height, 128 + 100 * Math.sin((x + y) / 9)];
      for (const d of discs) if ((x - d.x) ** 2 + (y - d.y) ** 2 < d.r ** 2) rgb = d.c;
      if ((x >> 3) % 5 === 0) rgb = [rgb[0], 255 - rgb[1], rgb[2]];
      const noise = rand(-20, 20);
      const px = rgb.map((v) => Math.max(0, Math.min(255, Math.round(v + noise))));
      const o = (y * width + x) * channels;
      if (channels === 1) out[o] = Math.round((px[0] + px[1] + px[2]) / 3);
      else {
        out.set(px, o);
        if (channels === 4) out[o + 3] = Math.round((255 * ((x * 7 + y * 3) % 256)) / 255); // colour under every alpha survives convert('RGB')
      }
    }
  }
  return out;
}

async function writeUnseen(u: Unseen, seed: number): Promise<string> {
  const path = join(work, `${u.name}.${u.format}`);
  const img = sharp(Buffer.from(drawPixels(u, seed)), {
    raw: { width: u.width, height: u.height, channels: u.channels },
  });
  await (u.format === 'png' ? img.png() : img.jpeg({ quality: 90 })).toFile(path);
  return path;
}

function hasPillow(): { ok: boolean; why: string } {
  const r = spawnSync('python3', ['-c', 'import PIL; print(PIL.__version__)'], { encoding: 'utf8' });
  if (r.error) return { ok: false, why: `python3 is not installed (${r.error.message})` };
  if (r.status !== 0)
    return { ok: false, why: 'Python Pillow is not installed (python3 -c "import PIL" fails)' };
  return { ok: true, why: `Pillow ${r.stdout.trim()}` };
}

/** PIL's resize and crop of `path` (test/cli/pil_preprocess.py), then this library's rescale + normalize table. */
function pilPixelValues(path: string, config: ImageProcessorConfig): Float32Array {
  const { height, width } = config.crop_size;
  const raw = join(work, `${path.split('/').pop()}.pil.raw`);
  const r = spawnSync(
    'python3',
    [
      'test/cli/pil_preprocess.py',
      path,
      String(config.size.shortest_edge),
      String(height),
      String(width),
      String(config.resample),
      raw,
    ],
    { encoding: 'utf8' },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const cropped = new Uint8Array(readFileSync(raw));
  const floatsOnly = new BitImageProcessor({ ...config, do_resize: false, do_center_crop: false });
  return floatsOnly.preprocess({ width, height, data: cropped }).pixel_values;
}

describe('dinov2-webgpu preprocess on images it has not seen', () => {
  const pillow = hasPillow();
  const defaults = DINOV2_PROCESSOR_DEFAULTS;
  const processor = new BitImageProcessor();
  const paths = new Map<string, Promise<string>>();
  const imagePath = (u: Unseen, i: number) => {
    if (!paths.has(u.name)) paths.set(u.name, writeUnseen(u, 100 + i));
    return paths.get(u.name)!;
  };

  UNSEEN.forEach((u, i) => {
    it(`${u.name}.${u.format} (${u.channels} channels): equal to BitImageProcessor in-process`, async () => {
      const path = await imagePath(u, i);
      const { pixel_values, dims } = preprocessCli(path);
      const ref = processor.preprocess(await loadImageNode(path));
      expect(dims).toEqual(ref.dims);
      expect(dims).toEqual([1, 3, 224, 224]);
      const a = agreement(pixel_values, ref.pixel_values, dims, defaults);
      expectWithinOneLevel(u.name, a, 'BitImageProcessor in-process');
      expect(a.identical).toBe(1);
    });
  });

  if (!pillow.ok) {
    it.skip(`against PIL: skipped, ${pillow.why}; install Pillow (pip install pillow) to compare these images with PIL itself`, () => {});
    console.log(`preprocess CLI vs PIL on unseen images: skipped, ${pillow.why}`);
  } else {
    UNSEEN.forEach((u, i) => {
      it(`${u.name}.${u.format}: within one level of PIL (${pillow.why}), >= 99% exact`, async () => {
        const path = await imagePath(u, i);
        const { pixel_values, dims } = preprocessCli(path);
        expectWithinOneLevel(
          u.name,
          agreement(pixel_values, pilPixelValues(path, defaults), dims, defaults),
          pillow.why,
        );
      });
    });
  }
});

describe('dinov2-webgpu preprocess --model DIR reads preprocessor_config.json', () => {
  it('non-default size, crop, filter, mean and std from the folder', async () => {
    const dir = join(work, 'checkpoint');
    mkdirSync(dir, { recursive: true });
    const json = {
      image_processor_type: 'BitImageProcessor',
      size: { shortest_edge: 128 },
      crop_size: { height: 112, width: 96 },
      resample: 2,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.25, 0.5, 0.75],
    };
    writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(json));
    const image = `${DIR}/img1-300x500.png`;
    const { pixel_values, dims, stderr } = preprocessCli(image, '--model', dir);
    expect(stderr).toContain('preprocessor_config.json');
    expect(dims).toEqual([1, 3, 112, 96]);
    const config = parseImageProcessorConfig(json);
    const ref = new BitImageProcessor(config).preprocess(await loadImageNode(image));
    expect(agreement(pixel_values, ref.pixel_values, dims, config).identical).toBe(1);
  });

  it('a folder without preprocessor_config.json: the DINOv2 defaults, and it says so', () => {
    const dir = mkdtempSync(join(work, 'empty-'));
    const { dims, stderr } = preprocessCli(`${DIR}/img4-600x150.png`, '--model', dir);
    expect(dims).toEqual([1, 3, 224, 224]);
    expect(stderr).toMatch(/defaults \(.* has no preprocessor_config\.json\)/);
  });
});

describe('dinov2-webgpu preprocess on bad input: one line on stderr, non-zero exit, no stack trace', () => {
  const image = `${DIR}/img2-224x224.png`;
  const badConfig = () => {
    const dir = mkdtempSync(join(work, 'bad-'));
    writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ resample: 9 }));
    return dir;
  };
  const notAnImage = () => {
    const path = join(work, 'not-an-image.png');
    writeFileSync(path, 'hello');
    return path;
  };
  const cases: [string, () => string[], RegExp, number][] = [
    ['no IMAGE', () => ['preprocess', '--output', join(work, 'x')], /IMAGE is required/, 2],
    ['two images', () => ['preprocess', image, image, '--output', join(work, 'x')], /one IMAGE, got 2/, 2],
    ['missing --output', () => ['preprocess', image], /--output is required/, 2],
    [
      'unknown option',
      () => ['preprocess', image, '--output', join(work, 'x'), '--size', '3'],
      /unknown option --size/,
      2,
    ],
    [
      'image absent',
      () => ['preprocess', join(work, 'absent.png'), '--output', join(work, 'x')],
      /absent\.png: no such file/,
      1,
    ],
    [
      'not an image',
      () => ['preprocess', notAnImage(), '--output', join(work, 'x')],
      /not-an-image\.png|unsupported image format/i,
      1,
    ],
    [
      '--model folder absent',
      () => ['preprocess', image, '--output', join(work, 'x'), '--model', join(work, 'nowhere')],
      /nowhere: no such folder/,
      1,
    ],
    [
      'bad preprocessor_config.json',
      () => ['preprocess', image, '--output', join(work, 'x'), '--model', badConfig()],
      /resample must be a PIL resampling filter/,
      1,
    ],
  ];
  for (const [name, args, message, status] of cases) {
    it(name, () => {
      const r = cli(...args());
      expect(r.stderr).toMatch(message);
      expect(r.status).toBe(status);
      expect(r.stderr).not.toMatch(/\n\s+at .*\.(js|ts|mjs):\d+/);
    });
  }
});
