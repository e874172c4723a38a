// transformers' BitImageProcessor (the PIL path), as DINOv2 checkpoints configure it:
// resize (shortest edge, PIL resampling on uint8) -> center crop -> rescale -> normalize -> CHW.
//
// The float steps follow transformers' numpy code to the bit: `rescale` multiplies in float64 and
// casts to float32; `normalize` computes (x - mean) / std in float32 with mean and std cast to
// float32. So every output value is a function of (channel, uint8 value), tabulated once.

import { ImageError, ImageLimitError } from './errors.js';
import { MAX_IMAGE_PIXELS_ERROR } from './limits.js';
import { checkRgbImage, RGB_CHANNELS, type RgbImage } from './rgb_image.js';

import { CallableImageProcessor } from './load_image.js';
import {
  isPilResampling,
  PIL_RESAMPLING,
  type ResizeWindow,
  resizeU8,
  type PilResampling,
} from './resample.js';

export type { RgbImage } from './rgb_image.js';
export { PIL_RESAMPLING, type PilResampling } from './resample.js';

export interface ImageProcessorConfig {
  do_resize: boolean;
  size: { shortest_edge?: number; height?: number; width?: number };
  resample: number; // PIL enum: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming
  do_center_crop: boolean;
  crop_size: { height: number; width: number };
  do_rescale: boolean;
  rescale_factor: number;
  do_normalize: boolean;
  image_mean: number[]; // (3)
  image_std: number[]; // (3)
  do_convert_rgb: boolean;
}

// The preprocessor_config.json of the facebook/dinov2* and dinov2-with-registers checkpoints.
export const DINOV2_PROCESSOR_DEFAULTS: ImageProcessorConfig = deepFreeze({
  do_resize: true,
  size: { shortest_edge: 256 },
  resample: PIL_RESAMPLING.BICUBIC,
  do_center_crop: true,
  crop_size: { height: 224, width: 224 },
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.485, 0.456, 0.406], // ImageNet
  image_std: [0.229, 0.224, 0.225],
  do_convert_rgb: true,
});

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  return Object.freeze(o);
}

// --- preprocessor_config.json (field readers shared with DINOv3's processor) -------------------------------------------------------------------

const describe = (v: unknown) =>
  Array.isArray(v) ? `array ${JSON.stringify(v)}` : `${typeof v} ${JSON.stringify(v)}`;

export function fail(source: string, field: string, want: string, got: unknown): never {
  throw new Error(`${source}: ${field} must be ${want}, got ${describe(got)}`);
}

export const isPositiveInt = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v > 0;
export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function readBool(
  obj: Record<string, unknown>,
  field: string,
  dflt: boolean,
  source: string,
): boolean {
  const v = obj[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(source, field, 'a boolean', v);
  return v;
}

// transformers' get_size_dict(size, default_to_square=False): an int is a shortest edge.
function readSize(v: unknown, source: string): ImageProcessorConfig['size'] {
  if (isPositiveInt(v)) return { shortest_edge: v };
  if (!isRecord(v)) fail(source, 'size', 'a positive integer or {shortest_edge} or {height, width}', v);
  for (const key of ['shortest_edge', 'height', 'width']) {
    if (v[key] !== undefined && !isPositiveInt(v[key]))
      fail(source, `size.${key}`, 'a positive integer', v[key]);
  }
  if (v.longest_edge !== undefined || v.max_height !== undefined || v.max_width !== undefined) {
    // BitImageProcessor itself ignores these; the newer backends honour them. Refuse rather than guess.
    throw new Error(`${source}: size ${JSON.stringify(v)}: only shortest_edge or height+width is supported`);
  }
  if (v.shortest_edge !== undefined) return { shortest_edge: v.shortest_edge as number };
  if (v.height !== undefined && v.width !== undefined)
    return { height: v.height as number, width: v.width as number };
  return fail(source, 'size', 'a positive integer or {shortest_edge} or {height, width}', v);
}

// get_size_dict(crop_size, default_to_square=True): an int is a square.
function readCropSize(v: unknown, source: string): ImageProcessorConfig['crop_size'] {
  if (isPositiveInt(v)) return { height: v, width: v };
  if (!isRecord(v)) fail(source, 'crop_size', 'a positive integer or {height, width}', v);
  if (!isPositiveInt(v.height)) fail(source, 'crop_size.height', 'a positive integer', v.height);
  if (!isPositiveInt(v.width)) fail(source, 'crop_size.width', 'a positive integer', v.width);
  return { height: v.height, width: v.width };
}

// A float or one value per RGB channel.
export function readPerChannel(v: unknown, field: string, source: string, nonzero: boolean): number[] {
  const values = isFiniteNumber(v) ? [v, v, v] : v;
  const want = `a number or an array of ${RGB_CHANNELS} numbers${nonzero ? ' (nonzero)' : ''}`;
  if (!Array.isArray(values) || values.length !== RGB_CHANNELS) fail(source, field, want, v);
  for (const x of values) if (!isFiniteNumber(x) || (nonzero && x === 0)) fail(source, field, want, v);
  return [...values] as number[];
}

// Reads a preprocessor_config.json (parsed JSON). Missing (or null) fields take the DINOv2
// defaults, unknown fields (image_processor_type, processor_class, ...) are ignored, and a field
// of the wrong type is an error naming it.
export function parseImageProcessorConfig(
  json: unknown,
  source = 'preprocessor_config.json',
): ImageProcessorConfig {
  if (!isRecord(json)) fail(source, 'the top level', 'a JSON object', json);
  const d = DINOV2_PROCESSOR_DEFAULTS;
  const has = (k: string) => json[k] !== undefined && json[k] !== null;
  const resample = has('resample') ? json.resample : d.resample;
  if (!isPilResampling(resample)) fail(source, 'resample', 'a PIL resampling filter 0..5', resample);
  const rescale = has('rescale_factor') ? json.rescale_factor : d.rescale_factor;
  if (!isFiniteNumber(rescale)) fail(source, 'rescale_factor', 'a finite number', rescale);
  return {
    do_resize: readBool(json, 'do_resize', d.do_resize, source),
    size: has('size') ? readSize(json.size, source) : { ...d.size },
    resample,
    do_center_crop: readBool(json, 'do_center_crop', d.do_center_crop, source),
    crop_size: has('crop_size') ? readCropSize(json.crop_size, source) : { ...d.crop_size },
    do_rescale: readBool(json, 'do_rescale', d.do_rescale, source),
    rescale_factor: rescale,
    do_normalize: readBool(json, 'do_normalize', d.do_normalize, source),
    image_mean: readPerChannel(
      has('image_mean') ? json.image_mean : d.image_mean,
      'image_mean',
      source,
      false,
    ),
    image_std: readPerChannel(has('image_std') ? json.image_std : d.image_std, 'image_std', source, true),
    do_convert_rgb: readBool(json, 'do_convert_rgb', d.do_convert_rgb, source),
  };
}

// --- geometry -------------------------------------------------------------------------------

// transformers' get_resize_output_image_size(default_to_square=False): the short side becomes
// `shortestEdge`, the long side int(shortestEdge * long / short) (float division, truncated).
export function shortestEdgeSize(
  width: number,
  height: number,
  shortestEdge: number,
): { width: number; height: number } {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((shortestEdge * long) / short);
  return width <= height
    ? { width: shortestEdge, height: newLong }
    : { width: newLong, height: shortestEdge };
}

// transformers' center_crop: top = (h - crop_h) // 2 (floor), likewise left; an image smaller
// than the crop is zero-padded, ceil((crop - size) / 2) before. Both cases reduce to reading
// source row top + i and column left + j, zero when outside.
export function centerCrop(img: RgbImage, crop: { height: number; width: number }): RgbImage {
  const { top, left } = centerCropOffsets(img.width, img.height, crop);
  return cropAt(img, top, left, crop);
}

function centerCropOffsets(width: number, height: number, crop: { height: number; width: number }) {
  return { top: Math.floor((height - crop.height) / 2), left: Math.floor((width - crop.width) / 2) };
}

// The crop whose first row and column are the image's row `top` and column `left` (zeros where
// that falls outside the image).
function cropAt(img: RgbImage, top: number, left: number, crop: { height: number; width: number }): RgbImage {
  const { width, height, data, source } = img;
  if (top === 0 && left === 0 && crop.height === height && crop.width === width)
    return { width, height, data: data.slice(), source };
  const out = new Uint8Array(crop.height * crop.width * RGB_CHANNELS);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(crop.width, width - left);
  for (let i = 0; i < crop.height; i++) {
    const y = top + i;
    if (y < 0 || y >= height || x1 <= x0) continue;
    const src = (y * width + left + x0) * RGB_CHANNELS;
    out.set(data.subarray(src, src + (x1 - x0) * RGB_CHANNELS), (i * crop.width + x0) * RGB_CHANNELS);
  }
  return { width: crop.width, height: crop.height, data: out, source };
}

// Pillow stores image sizes in C ints: a larger resize is one Pillow (so transformers) cannot do.
const MAX_SIDE = 2 ** 31 - 1;

function checkResizeTo(img: RgbImage, size: { width: number; height: number }): void {
  if (size.width > MAX_SIDE || size.height > MAX_SIDE) {
    throw new ImageError(
      img.source ?? 'image',
      `resizing ${img.width}x${img.height} to ${size.width}x${size.height}: a side above ${MAX_SIDE} pixels (what Pillow can hold) is not supported`,
    );
  }
}

// The processor refuses to allocate an image larger than the loaders' default limit.
function checkAllocation(img: RgbImage, what: string, size: { width: number; height: number }): void {
  const pixels = size.width * size.height;
  if (pixels > MAX_IMAGE_PIXELS_ERROR) {
    throw new ImageLimitError(
      img.source ?? 'image',
      pixels,
      MAX_IMAGE_PIXELS_ERROR,
      `${what} of ${img.width}x${img.height} would be ${size.width}x${size.height} (${pixels} pixels), more than ${MAX_IMAGE_PIXELS_ERROR}`,
    );
  }
}

// --- the processor ----------------------------------------------------------------------------

export interface ProcessedImage {
  pixel_values: Float32Array; // (1, 3, H, W)
  dims: [1, 3, number, number];
}

/** `processor(images)` (CallableImageProcessor), or `preprocess(img)` for one decoded image. */
export class BitImageProcessor extends CallableImageProcessor {
  /** transformers' name of this processor, as preprocessor_config.json's image_processor_type gives it. */
  readonly image_processor_type = 'BitImageProcessor';
  readonly config: Readonly<ImageProcessorConfig>;
  // (3, 256): the output value for channel c and uint8 value u, as transformers computes it.
  private readonly table: Float32Array;

  constructor(config: Partial<ImageProcessorConfig> = {}) {
    super();
    // Same checks as a JSON file, so a bad field is named the same way.
    this.config = deepFreeze(
      parseImageProcessorConfig({ ...DINOV2_PROCESSOR_DEFAULTS, ...config }, 'BitImageProcessor config'),
    );
    this.table = valueTable(this.config);
  }

  // The output size of `resize` for an image of this size.
  outputSize(width: number, height: number): { width: number; height: number } {
    const { size } = this.config;
    if (size.shortest_edge !== undefined) return shortestEdgeSize(width, height, size.shortest_edge);
    if (size.height !== undefined && size.width !== undefined)
      return { width: size.width, height: size.height };
    throw new Error(
      `BitImageProcessor: size ${JSON.stringify(size)} has neither shortest_edge nor height+width`,
    );
  }

  // The whole resized image (preprocess computes only what the crop keeps, when it crops).
  resize(img: RgbImage): RgbImage {
    checkRgbImage(img);
    const size = this.outputSize(img.width, img.height);
    checkResizeTo(img, size);
    checkAllocation(img, 'the resize', size);
    return { ...size, data: this.resizeWindow(img, size), source: img.source };
  }

  centerCrop(img: RgbImage): RgbImage {
    checkRgbImage(img);
    checkAllocation(img, 'the center crop', this.config.crop_size);
    return centerCrop(img, this.config.crop_size);
  }

  // resize then centerCrop, computing only the resized rows and columns the crop keeps: the
  // same bytes as the two steps, without the full resized image (a 1 x 10000 image resized to a
  // shortest edge of 256 would be 256 x 2,560,000).
  resizeAndCrop(img: RgbImage): RgbImage {
    checkRgbImage(img);
    const size = this.outputSize(img.width, img.height);
    checkResizeTo(img, size);
    const crop = this.config.crop_size;
    checkAllocation(img, 'the center crop', crop);
    const { top, left } = centerCropOffsets(size.width, size.height, crop);
    // The crop's overlap with the resized image (never empty: the crop is centred on it).
    const y0 = Math.max(0, top);
    const x0 = Math.max(0, left);
    const win: ResizeWindow = {
      top: y0,
      left: x0,
      height: Math.min(size.height, top + crop.height) - y0,
      width: Math.min(size.width, left + crop.width) - x0,
    };
    const part = { width: win.width, height: win.height, data: this.resizeWindow(img, size, win) };
    return cropAt({ ...part, source: img.source }, top - y0, left - x0, crop);
  }

  private resizeWindow(img: RgbImage, size: { width: number; height: number }, win?: ResizeWindow) {
    const resample = this.config.resample as PilResampling;
    return resizeU8(img.data, img.width, img.height, RGB_CHANNELS, size.width, size.height, resample, win);
  }

  // One image -> pixel_values (1, 3, H, W), channel-first float32. Input is already RGB (the
  // decoders do PIL's convert('RGB')), so do_convert_rgb has nothing left to do here.
  preprocess(img: RgbImage): ProcessedImage {
    checkRgbImage(img);
    const { do_resize, do_center_crop } = this.config;
    const cur =
      do_resize && do_center_crop
        ? this.resizeAndCrop(img)
        : do_resize
          ? this.resize(img)
          : do_center_crop
            ? this.centerCrop(img)
            : img;
    const { width, height, data } = cur;
    const plane = width * height;
    const out = new Float32Array(RGB_CHANNELS * plane);
    const t = this.table;
    for (let c = 0; c < RGB_CHANNELS; c++) {
      const lut = t.subarray(c * 256, (c + 1) * 256);
      const o = c * plane;
      for (let p = 0; p < plane; p++) out[o + p] = lut[data[p * RGB_CHANNELS + c]];
    }
    return { pixel_values: out, dims: [1, RGB_CHANNELS, height, width] };
  }
}

// transformers: rescale = float32(float64(u) * rescale_factor); normalize = (x - mean) / std with
// x, mean, std float32 and float32 arithmetic (double rounding of a float32 +,-,*,/ through
// float64 is exact, so Math.fround after each op reproduces it).
function valueTable(cfg: ImageProcessorConfig): Float32Array {
  const table = new Float32Array(RGB_CHANNELS * 256);
  for (let c = 0; c < RGB_CHANNELS; c++) {
    const mean = Math.fround(cfg.image_mean[c]);
    const std = Math.fround(cfg.image_std[c]);
    for (let u = 0; u < 256; u++) {
      let x = cfg.do_rescale ? Math.fround(u * cfg.rescale_factor) : u;
      if (cfg.do_normalize) x = Math.fround(Math.fround(x - mean) / std);
      table[c * 256 + u] = x;
    }
  }
  return table;
}
