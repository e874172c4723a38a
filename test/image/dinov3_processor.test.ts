import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  antialiasedBilinearWeights,
  DINOv3ViTImageProcessor,
  parseDINOv3ImageProcessorConfig,
} from '../../src/image/dinov3_processor.js';
import { BitImageProcessor } from '../../src/image/processor.js';
import { imageProcessorFromConfig } from '../../src/image/processors.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';

const DIR = 'test/fixtures/golden-dinov3/preprocess';
interface Cases {
  processor: Record<string, unknown>;
  cases: { name: string; width: number; height: number }[];
}
const golden = JSON.parse(readFileSync(`${DIR}/cases.json`, 'utf8')) as Cases;

describe("DINOv3ViTImageProcessor equals transformers' algorithm (float64 references)", () => {
  const processor = imageProcessorFromConfig(golden.processor, 'cases.json processor');

  it('is selected by image_processor_type', () => {
    expect(processor).toBeInstanceOf(DINOv3ViTImageProcessor);
  });

  for (const c of golden.cases) {
    it(`${c.name}: rescale, antialiased bilinear to 224x224, normalize within 1e-4 absolute`, () => {
      const file = SafetensorsFile.parse(new Uint8Array(readFileSync(`${DIR}/${c.name}.safetensors`)));
      const out = processor.preprocess({ width: c.width, height: c.height, data: file.bytes('rgb') });
      expect(out.dims).toEqual(file.info('pixel_values').shape);
      const ref = file.float32('pixel_values');
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(out.pixel_values[i] - ref[i]));
      expect(worst).toBeLessThan(1e-4);
      // float64 weights stored as float32 land on the reference's float32 values (measured: 0 on
      // every case), where torch's float32 kernel sits up to 5.4e-5 away.
      expect(worst).toBeLessThan(1e-6);
    });
  }
});

describe("torch's antialiased bilinear weights", () => {
  it('downscaling 10 -> 3: triangle of half-width 10/3, taps inside the image, sums of 1', () => {
    const w = antialiasedBilinearWeights(10, 3);
    for (let i = 0; i < 3; i++) {
      let sum = 0;
      for (let t = 0; t < w.count[i]; t++) sum += w.weights[i * w.stride + t];
      expect(sum).toBeCloseTo(1, 14);
      expect(w.first[i]).toBeGreaterThanOrEqual(0);
      expect(w.first[i] + w.count[i]).toBeLessThanOrEqual(10);
    }
    // Output 1: centre 5, support 10/3; taps j = 2..7 with weights 1 - |j + 0.5 - 5| / (10/3).
    expect(w.first[1]).toBe(2);
    expect(w.count[1]).toBe(6);
    const raw = [2, 3, 4, 5, 6, 7].map((j) => 1 - Math.abs(j + 0.5 - 5) / (10 / 3));
    const total = raw.reduce((a, b) => a + b, 0);
    raw.forEach((r, t) => expect(w.weights[w.stride + t]).toBeCloseTo(r / total, 15));
  });

  it('upscaling is plain bilinear with clamped edges; the same size is the identity', () => {
    const up = antialiasedBilinearWeights(2, 4);
    // Output 0: centre 0.25 -> only pixel 0 (the edge is clamped).
    expect([up.first[0], up.count[0], up.weights[0]]).toEqual([0, 1, 1]);
    // Output 1: centre 0.75 -> 0.75 of pixel 0 and 0.25 of pixel 1.
    expect(up.first[1]).toBe(0);
    expect(up.weights[up.stride]).toBeCloseTo(0.75, 15);
    expect(up.weights[up.stride + 1]).toBeCloseTo(0.25, 15);
    const same = antialiasedBilinearWeights(5, 5);
    for (let i = 0; i < 5; i++) {
      expect(same.first[i]).toBe(i);
      expect(same.weights[i * same.stride]).toBe(1);
    }
  });
});

describe('image_processor_type selects the processor; an unknown one is refused', () => {
  it('no type: DINOv2 (BitImageProcessor); BitImageProcessor and its Fast name too', () => {
    expect(imageProcessorFromConfig(undefined)).toBeInstanceOf(BitImageProcessor);
    expect(imageProcessorFromConfig({ crop_size: 224 })).toBeInstanceOf(BitImageProcessor);
    expect(imageProcessorFromConfig({ image_processor_type: 'BitImageProcessor' })).toBeInstanceOf(
      BitImageProcessor,
    );
    expect(imageProcessorFromConfig({ image_processor_type: 'DINOv3ViTImageProcessorFast' })).toBeInstanceOf(
      DINOv3ViTImageProcessor,
    );
  });

  it('an unknown type is an error naming it and the file, never a fallback', () => {
    for (const type of ['ViTImageProcessor', 'constructor', '', 7]) {
      expect(() =>
        imageProcessorFromConfig({ image_processor_type: type }, 'x/preprocessor_config.json'),
      ).toThrow(/x\/preprocessor_config\.json: image_processor_type .* is not implemented/);
    }
  });

  it('settings DINOv3 does not follow exactly are refused, not approximated', () => {
    const base = { image_processor_type: 'DINOv3ViTImageProcessorFast' };
    expect(() => parseDINOv3ImageProcessorConfig({ ...base, resample: 3 })).toThrow(/resample/);
    expect(() => parseDINOv3ImageProcessorConfig({ ...base, antialias: false })).toThrow(/antialias/);
    expect(() => parseDINOv3ImageProcessorConfig({ ...base, do_center_crop: true })).toThrow(
      /do_center_crop/,
    );
    expect(() => parseDINOv3ImageProcessorConfig({ ...base, size: { shortest_edge: 256 } })).toThrow(/size/);
    expect(() => parseDINOv3ImageProcessorConfig({ ...base, image_std: [1, 0, 1] })).toThrow(/image_std/);
  });

  it('do_resize false keeps the size; do_normalize false gives the rescaled values', () => {
    const p = new DINOv3ViTImageProcessor({ do_resize: false, do_normalize: false });
    const img = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i * 10) };
    const out = p.preprocess(img);
    expect(out.dims).toEqual([1, 3, 2, 3]);
    // Channel 1 of pixel (row 1, col 2) is byte (1*3+2)*3+1 = 16 -> 160/255.
    expect(out.pixel_values[1 * 6 + 1 * 3 + 2]).toBeCloseTo(160 / 255, 6);
  });
});
