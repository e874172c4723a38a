// transformers' DINOv3 image processor (DINOv3ViTImageProcessorFast, torchvision backend):
// rescale first, then resize straight to size.height x size.width (aspect ratio not kept, no
// crop) with torch's antialiased bilinear filter on the float image, then normalize -> CHW.
//
// The resize is torch's separable antialiased triangle filter, per axis, for an input of length n
// resized to m: s = n/m, support = max(s, 1), output i has centre c = s·(i + 0.5) and taps
// j in [⌊c − support + 0.5⌋, ⌊c + support + 0.5⌋) ∩ [0, n) with weight
// max(0, 1 − |(j + 0.5 − c) / max(s, 1)|), normalised to sum 1 (upscaling is plain bilinear, the
// edges clamped). Nothing is rounded to uint8 on the way. Weights and sums are computed in
// float64 and the result stored as float32: within ~1e-6 of the exact algorithm, where torch's
// float32 kernel (what transformers returns) sits up to ~5e-5 away.

import {
  fail,
  isFiniteNumber,
  isPositiveInt,
  isRecord,
  type ProcessedImage,
  readBool,
  readPerChannel,
} from './processor.js';
import { checkRgbImage, RGB_CHANNELS, type RgbImage } from './rgb_image.js';

import { CallableImageProcessor } from './load_image.js';

export interface DINOv3ImageProcessorConfig {
  do_resize: boolean;
  size: { height: number; width: number };
  do_rescale: boolean;
  rescale_factor: number;
  do_normalize: boolean;
  image_mean: number[]; // (3)
  image_std: number[]; // (3)
}

/** The preprocessor_config.json of the facebook/dinov3-* checkpoints. */
export const DINOV3_PROCESSOR_DEFAULTS: Readonly<DINOv3ImageProcessorConfig> = Object.freeze({
  do_resize: true,
  size: Object.freeze({ height: 224, width: 224 }),
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: Object.freeze([0.485, 0.456, 0.406]) as number[], // ImageNet
  image_std: Object.freeze([0.229, 0.224, 0.225]) as number[],
});

/** torch's (and PIL's) enum value of bilinear, the only filter this processor implements. */
const BILINEAR = 2;

/**
 * Reads a DINOv3 preprocessor_config.json (parsed JSON). Missing fields take the published
 * defaults; a field of the wrong type, or a setting this implementation does not follow exactly
 * (another resampling filter, antialias off, a center crop, a shortest-edge size), is an error
 * naming it rather than a silent approximation.
 */
export function parseDINOv3ImageProcessorConfig(
  json: unknown,
  source = 'preprocessor_config.json',
): DINOv3ImageProcessorConfig {
  if (!isRecord(json)) fail(source, 'the top level', 'a JSON object', json);
  const j = json as Record<string, unknown>;
  const d = DINOV3_PROCESSOR_DEFAULTS;
  const get = (k: string) => (j[k] === undefined || j[k] === null ? undefined : j[k]);
  const perChannel = (k: string, dflt: number[], nonzero: boolean) =>
    readPerChannel(get(k) ?? dflt, k, source, nonzero);

  const size = get('size') ?? d.size;
  if (!isRecord(size) || !isPositiveInt(size.height) || !isPositiveInt(size.width))
    fail(source, 'size', 'a {height, width} of positive integers (DINOv3 resizes to a fixed size)', size);
  const resample = get('resample') ?? BILINEAR;
  if (resample !== BILINEAR)
    fail(source, 'resample', `${BILINEAR} (bilinear; the only filter implemented)`, resample);
  if ((get('antialias') ?? true) !== true)
    fail(source, 'antialias', 'true (the only mode implemented)', j.antialias);
  if ((get('do_center_crop') ?? false) !== false)
    fail(source, 'do_center_crop', 'false (DINOv3 does not crop)', j.do_center_crop);
  const rescale = get('rescale_factor') ?? d.rescale_factor;
  if (!isFiniteNumber(rescale)) fail(source, 'rescale_factor', 'a finite number', rescale);
  return {
    do_resize: readBool(j, 'do_resize', d.do_resize, source),
    size: { height: (size as { height: number }).height, width: (size as { width: number }).width },
    do_rescale: readBool(j, 'do_rescale', d.do_rescale, source),
    rescale_factor: rescale as number,
    do_normalize: readBool(j, 'do_normalize', d.do_normalize, source),
    image_mean: perChannel('image_mean', d.image_mean, false),
    image_std: perChannel('image_std', d.image_std, true),
  };
}

/** Taps of torch's antialiased bilinear resize of one axis: output i reads input first[i] .. + count[i]. */
export interface AxisWeights {
  first: Int32Array; // (out)
  count: Int32Array; // (out)
  stride: number; // taps stored per output
  weights: Float64Array; // (out, stride), normalised to sum 1 per output
}

export function antialiasedBilinearWeights(inSize: number, outSize: number): AxisWeights {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1); // the triangle's half-width, in input pixels
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * stride);
  for (let i = 0; i < outSize; i++) {
    const centre = scale * (i + 0.5);
    const lo = Math.max(Math.floor(centre - support + 0.5), 0);
    const hi = Math.min(Math.floor(centre + support + 0.5), inSize);
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      weights[i * stride + j - lo] = w;
      total += w;
    }
    for (let j = lo; j < hi; j++) weights[i * stride + j - lo] /= total;
    first[i] = lo;
    count[i] = hi - lo;
  }
  return { first, count, stride, weights };
}

/** `processor(images)` (CallableImageProcessor), or `preprocess(img)` for one decoded image. */
export class DINOv3ViTImageProcessor extends CallableImageProcessor {
  /** transformers' name of this processor, as preprocessor_config.json's image_processor_type gives it. */
  readonly image_processor_type = 'DINOv3ViTImageProcessor';
  readonly config: Readonly<DINOv3ImageProcessorConfig>;

  constructor(config: Partial<DINOv3ImageProcessorConfig> = {}) {
    super();
    this.config = Object.freeze(
      parseDINOv3ImageProcessorConfig(
        { ...DINOV3_PROCESSOR_DEFAULTS, ...config },
        'DINOv3ViTImageProcessor config',
      ),
    );
  }

  /** The size of pixel_values for an image of this size. */
  outputSize(width: number, height: number): { width: number; height: number } {
    return this.config.do_resize ? { ...this.config.size } : { width, height };
  }

  /** One image -> pixel_values (1, 3, H, W), channel-first float32. */
  preprocess(img: RgbImage): ProcessedImage {
    checkRgbImage(img);
    const { do_rescale, rescale_factor, do_normalize, image_mean, image_std } = this.config;
    const { width: outW, height: outH } = this.outputSize(img.width, img.height);
    const inW = img.width;
    const scale = do_rescale ? rescale_factor : 1;
    // Horizontal pass: (inH, outW, 3) in float64, rescaled; then vertical: (outH, outW, 3).
    const wx = antialiasedBilinearWeights(inW, outW);
    const wy = antialiasedBilinearWeights(img.height, outH);
    const rows = new Float64Array(img.height * outW * RGB_CHANNELS);
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < outW; x++) {
        const o = (y * outW + x) * RGB_CHANNELS;
        for (let t = 0; t < wx.count[x]; t++) {
          const w = wx.weights[x * wx.stride + t] * scale;
          const s = (y * inW + wx.first[x] + t) * RGB_CHANNELS;
          for (let c = 0; c < RGB_CHANNELS; c++) rows[o + c] += w * img.data[s + c];
        }
      }
    }
    const plane = outW * outH;
    const out = new Float32Array(RGB_CHANNELS * plane);
    const mean = do_normalize ? image_mean : [0, 0, 0];
    const std = do_normalize ? image_std : [1, 1, 1];
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        for (let c = 0; c < RGB_CHANNELS; c++) {
          let v = 0;
          for (let t = 0; t < wy.count[y]; t++)
            v += wy.weights[y * wy.stride + t] * rows[((wy.first[y] + t) * outW + x) * RGB_CHANNELS + c];
          out[c * plane + y * outW + x] = (v - mean[c]) / std[c];
        }
      }
    }
    return { pixel_values: out, dims: [1, RGB_CHANNELS, outH, outW] };
  }
}
