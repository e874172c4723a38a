import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BitImageProcessor,
  centerCrop,
  DINOV2_PROCESSOR_DEFAULTS,
  parseImageProcessorConfig,
  shortestEdgeSize,
  type RgbImage,
} from '../../src/image/processor.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';

const DIR = 'test/fixtures/preprocess';

interface PreprocessCases {
  processor: Record<string, unknown>;
  cases: { name: string; width: number; height: number; resized: [number, number] }[];
}
const golden = JSON.parse(readFileSync(`${DIR}/cases.json`, 'utf8')) as PreprocessCases;
const read = (name: string) =>
  SafetensorsFile.parse(new Uint8Array(readFileSync(`${DIR}/${name}.safetensors`)), `${name}.safetensors`);

describe("BitImageProcessor equals transformers' (PIL path) on the golden images", () => {
  const processor = new BitImageProcessor(
    parseImageProcessorConfig(golden.processor, 'cases.json processor'),
  );
  const [stdR, stdG, stdB] = processor.config.image_std;
  const levelPerChannel = [stdR, stdG, stdB].map((s) => 1 / 255 / s); // one uint8 step after normalize

  for (const c of golden.cases) {
    it(`${c.name}: resized to ${c.resized[1]}x${c.resized[0]} like PIL's bicubic, pixel_values like transformers`, () => {
      const file = read(c.name);
      const rgb: RgbImage = { width: c.width, height: c.height, data: file.bytes('rgb') };

      const resized = processor.resize(rgb);
      expect([resized.height, resized.width]).toEqual(c.resized);
      const ref = file.bytes('resized');
      let exact = 0;
      let maxDiff = 0;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(resized.data[i] - ref[i]);
        if (d === 0) exact++;
        maxDiff = Math.max(maxDiff, d);
      }

      const { pixel_values, dims } = processor.preprocess(rgb);
      expect(dims).toEqual(file.info('pixel_values').shape);
      const pv = file.float32('pixel_values');
      const plane = dims[2] * dims[3];
      let within1e6 = 0;
      let identical = 0;
      let maxLevels = 0;
      for (let i = 0; i < pv.length; i++) {
        const d = Math.abs(pixel_values[i] - pv[i]);
        if (d <= 1e-6) within1e6++;
        if (d === 0) identical++;
        maxLevels = Math.max(maxLevels, d / levelPerChannel[Math.floor(i / plane)]);
      }
      console.log(
        `${c.name}: resized exact ${((100 * exact) / ref.length).toFixed(4)}% (max diff ${maxDiff}); ` +
          `pixel_values within 1e-6 ${((100 * within1e6) / pv.length).toFixed(4)}%, identical ${((100 * identical) / pv.length).toFixed(4)}% ` +
          `(max ${maxLevels.toFixed(3)} levels)`,
      );
      // Acceptance: within one level everywhere, >= 99% exact ...
      expect(maxDiff).toBeLessThanOrEqual(1);
      expect(exact / ref.length).toBeGreaterThanOrEqual(0.99);
      expect(maxLevels).toBeLessThanOrEqual(1 + 1e-6);
      expect(within1e6 / pv.length).toBeGreaterThanOrEqual(0.99);
      // ... and what is measured: bit for bit.
      expect(exact).toBe(ref.length);
      expect(identical).toBe(pv.length);
    });
  }
});

describe('shortest-edge size: the short side becomes size, the long int(size * long / short)', () => {
  it('matches the golden cases and truncates', () => {
    for (const c of golden.cases) {
      const { width, height } = shortestEdgeSize(c.width, c.height, 256);
      expect([height, width]).toEqual(c.resized);
    }
    expect(shortestEdgeSize(3, 1000, 256)).toEqual({ width: 256, height: 85333 });
    expect(shortestEdgeSize(499, 500, 256)).toEqual({ width: 256, height: 256 }); // 256.51... -> 256
    expect(shortestEdgeSize(7, 7, 5)).toEqual({ width: 5, height: 5 });
  });

  it('size {height, width} resizes to exactly that', () => {
    const p = new BitImageProcessor({ size: { height: 10, width: 7 }, do_center_crop: false });
    const img = solid(20, 30, [1, 2, 3]);
    const r = p.resize(img);
    expect([r.width, r.height]).toEqual([7, 10]);
    expect(p.preprocess(img).dims).toEqual([1, 3, 10, 7]);
  });
});

// A straight transcription of transformers' numpy center_crop: pad with zeros to at least the
// crop size, ceil((new - old) / 2) before, then slice from (old - crop) // 2 + pad.
function referenceCrop(img: RgbImage, ch: number, cw: number): RgbImage {
  const floorDiv = (a: number, b: number) => Math.floor(a / b);
  let top = floorDiv(img.height - ch, 2);
  let left = floorDiv(img.width - cw, 2);
  const nh = Math.max(ch, img.height);
  const nw = Math.max(cw, img.width);
  const topPad = Math.ceil((nh - img.height) / 2);
  const leftPad = Math.ceil((nw - img.width) / 2);
  const padded = new Uint8Array(nh * nw * 3);
  for (let y = 0; y < img.height; y++) {
    padded.set(
      img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3),
      ((y + topPad) * nw + leftPad) * 3,
    );
  }
  top += topPad;
  left += leftPad;
  const out = new Uint8Array(ch * cw * 3);
  for (let y = 0; y < ch; y++)
    out.set(padded.subarray(((top + y) * nw + left) * 3, ((top + y) * nw + left + cw) * 3), y * cw * 3);
  return { width: cw, height: ch, data: out };
}

describe("center crop like transformers' center_crop", () => {
  const img: RgbImage = {
    width: 7,
    height: 6,
    data: Uint8Array.from({ length: 7 * 6 * 3 }, (_, i) => 1 + (i % 250)),
  };
  const crops: [number, number][] = [
    [4, 4],
    [3, 5], // odd leftovers: floor to the top/left
    [6, 7], // same size
    [1, 1],
    [9, 10], // larger: zero padding, the odd pixel at the bottom/right
    [8, 3], // taller than the image, narrower
    [2, 12],
  ];
  for (const [ch, cw] of crops) {
    it(`7x6 -> ${cw}x${ch}`, () => {
      expect(centerCrop(img, { height: ch, width: cw })).toEqual(referenceCrop(img, ch, cw));
    });
  }
  it('the golden offsets: top = (h - 224) // 2', () => {
    const tall = {
      width: 224,
      height: 331,
      data: Uint8Array.from({ length: 224 * 331 * 3 }, (_, i) => Math.floor(i / (224 * 3)) % 256),
    };
    expect(centerCrop(tall, { height: 224, width: 224 }).data[0]).toBe(53); // (331 - 224) // 2
  });
});

function solid(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, data };
}

describe('rescale and normalize in float32 as transformers does', () => {
  const f32 = Math.fround;
  it('rescale: float32(float64(u) * factor); normalize: float32 (x - mean) / std', () => {
    const p = new BitImageProcessor({ do_resize: false, do_center_crop: false });
    const img: RgbImage = {
      width: 256,
      height: 1,
      data: Uint8Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3)),
    };
    const { pixel_values, dims } = p.preprocess(img);
    expect(dims).toEqual([1, 3, 1, 256]);
    for (let c = 0; c < 3; c++) {
      const mean = f32(DINOV2_PROCESSOR_DEFAULTS.image_mean[c]);
      const std = f32(DINOV2_PROCESSOR_DEFAULTS.image_std[c]);
      for (let u = 0; u < 256; u++)
        expect(pixel_values[c * 256 + u]).toBe(f32(f32(f32(u * (1 / 255)) - mean) / std));
    }
  });

  it('each step can be switched off', () => {
    const img = solid(1, 1, [0, 128, 255]);
    const raw = { do_resize: false, do_center_crop: false };
    expect([
      ...new BitImageProcessor({ ...raw, do_rescale: false, do_normalize: false }).preprocess(img)
        .pixel_values,
    ]).toEqual([0, 128, 255]);
    expect([...new BitImageProcessor({ ...raw, do_normalize: false }).preprocess(img).pixel_values]).toEqual([
      0,
      f32(128 * (1 / 255)),
      f32(255 * (1 / 255)),
    ]);
    const noRescale = new BitImageProcessor({
      ...raw,
      do_rescale: false,
      image_mean: [1, 2, 3],
      image_std: [2, 2, 2],
    });
    expect([...noRescale.preprocess(img).pixel_values]).toEqual([-0.5, 63, 126]);
  });

  it('output is channel-first: (1, 3, crop h, crop w)', () => {
    const p = new BitImageProcessor({ crop_size: { height: 5, width: 3 }, size: { shortest_edge: 8 } });
    const { pixel_values, dims } = p.preprocess(solid(20, 10, [255, 0, 0]));
    expect(dims).toEqual([1, 3, 5, 3]);
    expect(pixel_values.length).toBe(45);
    expect(new Set(pixel_values.subarray(0, 15)).size).toBe(1);
    expect(pixel_values[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(pixel_values[15]).toBeCloseTo(-0.456 / 0.224, 5);
  });

  it('rejects an RgbImage whose data does not match its size', () => {
    const p = new BitImageProcessor();
    expect(() => p.preprocess({ width: 2, height: 2, data: new Uint8Array(11) })).toThrow(/12/);
  });
});

describe('preprocessor_config.json', () => {
  // facebook/dinov2-with-registers-base, as published.
  const hub = {
    crop_size: { height: 224, width: 224 },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [0.485, 0.456, 0.406],
    image_processor_type: 'BitImageProcessor',
    image_std: [0.229, 0.224, 0.225],
    resample: 3,
    rescale_factor: 0.00392156862745098,
    size: { shortest_edge: 256 },
  };

  it("the DINOv2 checkpoints' file is the defaults", () => {
    expect(parseImageProcessorConfig(hub)).toEqual(DINOV2_PROCESSOR_DEFAULTS);
  });

  it('missing or null fields take the defaults; unknown fields are ignored', () => {
    expect(parseImageProcessorConfig({})).toEqual(DINOV2_PROCESSOR_DEFAULTS);
    expect(
      parseImageProcessorConfig({ image_mean: null, processor_class: 'X', feature_extractor_type: 'Y' }),
    ).toEqual(DINOV2_PROCESSOR_DEFAULTS);
    const c = parseImageProcessorConfig({ do_center_crop: false, resample: 2 });
    expect(c).toEqual({ ...DINOV2_PROCESSOR_DEFAULTS, do_center_crop: false, resample: 2 });
  });

  it("integers and scalars expand as transformers' get_size_dict and normalize do", () => {
    const c = parseImageProcessorConfig({ size: 300, crop_size: 280, image_mean: 0.5, image_std: 0.25 });
    expect(c.size).toEqual({ shortest_edge: 300 });
    expect(c.crop_size).toEqual({ height: 280, width: 280 });
    expect(c.image_mean).toEqual([0.5, 0.5, 0.5]);
    expect(c.image_std).toEqual([0.25, 0.25, 0.25]);
    expect(parseImageProcessorConfig({ size: { height: 518, width: 518 } }).size).toEqual({
      height: 518,
      width: 518,
    });
  });

  it('a field of the wrong type is an error that names it', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ do_resize: 'yes' }, /my\.json: do_resize must be a boolean/],
      [{ do_normalize: 1 }, /do_normalize/],
      [{ size: '256' }, /size must be/],
      [{ size: { shortest_edge: 0 } }, /size\.shortest_edge/],
      [{ size: { height: 10 } }, /size must be/],
      [{ size: { shortest_edge: 256, longest_edge: 1024 } }, /longest_edge/],
      [{ crop_size: { height: 224 } }, /crop_size\.width/],
      [{ crop_size: 2.5 }, /crop_size/],
      [{ resample: 7 }, /resample/],
      [{ resample: 'bicubic' }, /resample/],
      [{ rescale_factor: '1/255' }, /rescale_factor/],
      [{ image_mean: [0.5, 0.5] }, /image_mean/],
      [{ image_std: [0.2, 0, 0.2] }, /image_std/],
      [{ image_std: ['a', 'b', 'c'] }, /image_std/],
      [{ do_convert_rgb: 'true' }, /do_convert_rgb/],
    ];
    for (const [json, message] of bad)
      expect(() => parseImageProcessorConfig(json, 'my.json'), JSON.stringify(json)).toThrow(message);
    expect(() => parseImageProcessorConfig([1, 2])).toThrow(/JSON object/);
    expect(() => parseImageProcessorConfig(null)).toThrow(/JSON object/);
  });

  it('the constructor takes a partial config over the defaults, checked the same way', () => {
    expect(new BitImageProcessor().config).toEqual(DINOV2_PROCESSOR_DEFAULTS);
    expect(new BitImageProcessor({ resample: undefined }).config.resample).toBe(3);
    expect(() => new BitImageProcessor({ crop_size: { height: -1, width: 3 } })).toThrow(/crop_size\.height/);
    expect(Object.isFrozen(DINOV2_PROCESSOR_DEFAULTS.image_mean)).toBe(true);
  });
});
