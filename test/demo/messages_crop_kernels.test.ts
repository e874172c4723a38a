// The demo's words for a missing WebGPU and for random weights, the crop it draws under the maps
// (pixel_values turned back into pixels), and its per-kernel table.
import { describe, expect, it } from 'vitest';
import { LINUX_HINT, loadFailedNote, noWebGpuBanner, randomModelNote } from '../../demo/src/messages.js';
import { pixelsToRgb } from '../../demo/src/views/crop.js';
import { kernelRows } from '../../demo/src/views/kernels.js';
import { BitImageProcessor, type RgbImage } from '../../src/image/processor.js';
import { random } from '../helpers/gpu.js';

describe('the banner without WebGPU', () => {
  const count = (s: string, what: string) => s.split(what).length - 1;

  it('says "No WebGPU adapter" once, and gives the Linux hint in every case', () => {
    for (const kind of ['missing', 'no-adapter', 'device-failed'] as const) {
      const text = noWebGpuBanner(kind, 'out of memory');
      expect(text, kind).toContain(LINUX_HINT);
      expect(count(text, '--enable-unsafe-webgpu'), kind).toBe(1);
    }
    expect(count(noWebGpuBanner('no-adapter'), 'No WebGPU adapter')).toBe(1);
    expect(noWebGpuBanner('missing')).toMatch(/^<strong>WebGPU is not available in this browser/);
    expect(noWebGpuBanner('device-failed', '<b>lost</b>')).toContain('&#60;b&#62;lost');
  });
});

describe('the note on random weights', () => {
  it('says the maps are noise by design, and how to get a real checkpoint online and offline', () => {
    const online = randomModelNote(
      'tiny-dinov2-with-registers',
      true,
      'facebook/dinov2-with-registers-small',
    );
    const offline = randomModelNote(
      'tiny-dinov2-with-registers',
      false,
      'facebook/dinov2-with-registers-small',
    );
    for (const text of [online, offline]) {
      expect(text).toMatch(/^tiny-dinov2-with-registers has random weights/);
      expect(text).toContain('noise by design');
      expect(text).toContain('Open folder…');
    }
    expect(online).toContain('pick facebook/dinov2-with-registers-small');
    expect(offline).not.toContain('facebook/');
    expect(offline).toContain('config.json + model.safetensors');
  });

  it('a failed load names the model, the reason and the model still shown', () => {
    expect(loadFailedNote('facebook/x', 'cannot reach huggingface.co.', 'tiny')).toBe(
      'Could not load facebook/x: cannot reach huggingface.co. The maps still show tiny. Offline, open a downloaded checkpoint folder with “Open folder…”, or use a bundled model.',
    );
  });
});

describe('the crop under the maps', () => {
  function image(width: number, height: number, seed: number): RgbImage {
    const rand = random(seed);
    return {
      width,
      height,
      data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(rand() * 256)),
    };
  }

  const configs = [
    { size: { shortest_edge: 20 }, crop_size: { height: 16, width: 12 } },
    { do_normalize: false, size: { shortest_edge: 9 }, crop_size: { height: 9, width: 9 } },
    {
      do_rescale: false,
      do_resize: false,
      do_center_crop: false,
      image_mean: [10, 20, 30],
      image_std: [3, 5, 7],
    },
  ];
  for (const [i, config] of configs.entries())
    it(`is the resized and cropped image, pixel for pixel (config ${i + 1})`, () => {
      const p = new BitImageProcessor(config);
      const img = image(37, 29, i + 1);
      const { pixel_values, dims } = p.preprocess(img);
      let want = img;
      if (p.config.do_resize) want = p.resize(want);
      if (p.config.do_center_crop) want = p.centerCrop(want);
      const got = pixelsToRgb(pixel_values, dims, p.config);
      expect([got.height, got.width]).toEqual([want.height, want.width]);
      expect(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data))).toBe(0);
    });

  it('refuses what is not one RGB image', () => {
    expect(() => pixelsToRgb(new Float32Array(8), [1, 2, 2, 2], new BitImageProcessor().config)).toThrow(
      /not one RGB image/,
    );
  });
});

describe('the per-kernel table', () => {
  it('sums each kernel’s dispatches, slowest first, with its share', () => {
    const t = (kernel: string, ns: number) => ({ kernel, beginNs: 1000, endNs: 1000 + ns });
    const rows = kernelRows([
      t('linear.main', 3e6),
      t('attention.main', 1e6),
      t('linear.main', 2e6),
      t('layernorm.main', 2e6),
      t('attention.main', 2e6),
    ]);
    expect(rows).toEqual([
      { kernel: 'linear.main', calls: 2, ms: 5, share: 0.5 },
      { kernel: 'attention.main', calls: 2, ms: 3, share: 0.3 },
      { kernel: 'layernorm.main', calls: 1, ms: 2, share: 0.2 },
    ]);
    expect(kernelRows([])).toEqual([]);
    expect(kernelRows([t('a.main', 0)])).toEqual([{ kernel: 'a.main', calls: 1, ms: 0, share: 0 }]);
  });
});
