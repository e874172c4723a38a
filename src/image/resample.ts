// PIL's `Image.resize` for 8-bit images, bit for bit.
//
// Pillow resizes in two separable passes (src/libImaging/Resample.c), horizontal first, and
// stores the intermediate image as uint8: each output sample is a fixed-point dot product of
// input samples with precomputed weights, rounded and clipped to 0..255. A pass whose size does
// not change is skipped. NEAREST is a separate affine lookup (src/libImaging/Geometry.c).
// Reproducing the uint8 step and the fixed-point weights is what makes the result exact; a float
// filter without them differs from PIL by up to ~11 levels on ordinary photos.
//
// Nothing here touches the DOM or Node: it runs in the browser and in Node alike.

// PIL's `Image.Resampling` values, as preprocessor_config.json stores them in `resample`.
export const PIL_RESAMPLING = {
  NEAREST: 0,
  LANCZOS: 1,
  BILINEAR: 2,
  BICUBIC: 3,
  BOX: 4,
  HAMMING: 5,
} as const;
export type PilResampling = (typeof PIL_RESAMPLING)[keyof typeof PIL_RESAMPLING];

export function isPilResampling(v: unknown): v is PilResampling {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 5;
}

interface ConvolutionFilter {
  support: number; // half-width of the kernel at scale 1, in input pixels
  weight: (x: number) => number;
}

// The kernels of Resample.c, written with the same operation order (the weights are later
// rounded to 22-bit fixed point, so a different association could move a weight by one step).
const F32_054 = Math.fround(0.54); // Pillow writes these two as float literals (0.54f, 0.46f)
const F32_046 = Math.fround(0.46);

function sinc(x: number): number {
  if (x === 0.0) return 1.0;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

const FILTERS: Record<Exclude<PilResampling, 0>, ConvolutionFilter> = {
  [PIL_RESAMPLING.BOX]: {
    support: 0.5,
    weight: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0),
  },
  [PIL_RESAMPLING.BILINEAR]: {
    support: 1.0,
    weight: (x) => {
      if (x < 0.0) x = -x;
      return x < 1.0 ? 1.0 - x : 0.0;
    },
  },
  [PIL_RESAMPLING.HAMMING]: {
    support: 1.0,
    weight: (x) => {
      if (x < 0.0) x = -x;
      if (x === 0.0) return 1.0;
      if (x >= 1.0) return 0.0;
      x = x * Math.PI;
      return (Math.sin(x) / x) * (F32_054 + F32_046 * Math.cos(x));
    },
  },
  [PIL_RESAMPLING.BICUBIC]: {
    // Keys' cubic convolution with a = -0.5.
    support: 2.0,
    weight: (x) => {
      if (x < 0.0) x = -x;
      if (x < 1.0) return (1.5 * x - 2.5) * x * x + 1; // ((a + 2) x - (a + 3)) x x + 1
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * -0.5; // (((x - 5) x + 8) x - 4) a
      return 0.0;
    },
  },
  [PIL_RESAMPLING.LANCZOS]: {
    // sinc windowed by sinc(x/3), truncated to [-3, 3).
    support: 3.0,
    weight: (x) => (-3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0),
  },
};

// Pillow keeps 8 bits for the result and 2 for overshoot of the (partly negative) weights.
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

// The weights of one pass: output sample i reads `count[i]` inputs starting at `first[i]`.
interface PassCoefficients {
  ksize: number; // row stride of `weights`
  first: Int32Array; // (outSize)
  count: Int32Array; // (outSize)
  weights: Int32Array; // (outSize, ksize) fixed point, scale 2^22, each row sums to about 2^22
}

// Resample.c precompute_coeffs + normalize_coeffs_8bpc, for the full box [0, inSize).
function passCoefficients(inSize: number, outSize: number, filter: ConvolutionFilter): PassCoefficients {
  const scale = inSize / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale; // upscaling keeps the kernel at its own width
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const invFilterscale = 1.0 / filterscale;

  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero, then the range is clipped to the image.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * invFilterscale);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0.0 ? k[x] / ww : k[x];
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { ksize, first, count, weights };
}

// Resample.c clip8: drop the fraction bits (arithmetic shift = floor) and clamp to a byte.
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

// Horizontal pass over input rows [row0, row0 + rows): (rows, outWidth, channels).
function horizontalPass(
  src: Uint8Array,
  width: number,
  channels: number,
  row0: number,
  rows: number,
  outWidth: number,
  co: PassCoefficients,
): Uint8Array {
  const dst = new Uint8Array(rows * outWidth * channels);
  const { ksize, first, count, weights } = co;
  for (let yy = 0; yy < rows; yy++) {
    const inRow = (row0 + yy) * width * channels;
    const outRow = yy * outWidth * channels;
    for (let xx = 0; xx < outWidth; xx++) {
      const k0 = xx * ksize;
      const n = count[xx];
      const in0 = inRow + first[xx] * channels;
      if (channels === 3) {
        // RGB with three int32 accumulators, as Resample.c has per band count (the generic loop
        // below is about half as fast).
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0, p = in0; x < n; x++, p += 3) {
          const w = weights[k0 + x];
          s0 = (s0 + src[p] * w) | 0;
          s1 = (s1 + src[p + 1] * w) | 0;
          s2 = (s2 + src[p + 2] * w) | 0;
        }
        const o = outRow + xx * 3;
        dst[o] = clip8(s0);
        dst[o + 1] = clip8(s1);
        dst[o + 2] = clip8(s2);
        continue;
      }
      for (let c = 0; c < channels; c++) {
        let ss = HALF;
        for (let x = 0; x < n; x++) ss += src[in0 + x * channels + c] * weights[k0 + x];
        dst[outRow + xx * channels + c] = clip8(ss);
      }
    }
  }
  return dst;
}

// Vertical pass: (outHeight, width, channels), input row indices relative to `src`. Each output
// row accumulates whole input rows (integer sums, so the order does not change the result).
function verticalPass(
  src: Uint8Array,
  width: number,
  channels: number,
  outHeight: number,
  co: PassCoefficients,
  rowShift: number,
): Uint8Array {
  const rowLen = width * channels;
  const dst = new Uint8Array(outHeight * rowLen);
  const acc = new Int32Array(rowLen);
  const { ksize, first, count, weights } = co;
  for (let yy = 0; yy < outHeight; yy++) {
    acc.fill(HALF);
    for (let y = 0; y < count[yy]; y++) {
      const w = weights[yy * ksize + y];
      const in0 = (first[yy] - rowShift + y) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += src[in0 + i] * w;
    }
    const out0 = yy * rowLen;
    for (let i = 0; i < rowLen; i++) dst[out0 + i] = clip8(acc[i]);
  }
  return dst;
}

// Resample.c ImagingResampleInner: horizontal pass (only on the rows the vertical pass reads),
// then vertical pass; a pass whose size does not change is skipped.
function convolutionResize(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  filter: ConvolutionFilter,
): Uint8Array {
  const needHorizontal = outWidth !== width;
  const needVertical = outHeight !== height;
  const vert = passCoefficients(height, outHeight, filter);
  let cur = src;
  let rowShift = 0;
  if (needHorizontal) {
    const rowFirst = vert.first[0];
    const rowLast = vert.first[outHeight - 1] + vert.count[outHeight - 1];
    const horiz = passCoefficients(width, outWidth, filter);
    cur = horizontalPass(src, width, channels, rowFirst, rowLast - rowFirst, outWidth, horiz);
    rowShift = rowFirst;
  }
  if (needVertical) cur = verticalPass(cur, outWidth, channels, outHeight, vert, rowShift);
  return cur === src ? src.slice() : cur;
}

// Geometry.c ImagingScaleAffine: each output pixel copies the input pixel under its centre,
// positions accumulated in float64 from half a step in (so the sums round as Pillow's do).
function nearestResize(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  const coord = (v: number) => (v < 0.0 ? -1 : Math.trunc(v));
  const dst = new Uint8Array(outWidth * outHeight * channels); // Pillow fills misses with 0
  const xStep = width / outWidth;
  const yStep = height / outHeight;
  const xin = new Int32Array(outWidth).fill(-1);
  let xo = xStep * 0.5;
  for (let x = 0; x < outWidth; x++) {
    const xi = coord(xo);
    if (xi >= 0 && xi < width) xin[x] = xi;
    xo += xStep;
  }
  let yo = yStep * 0.5;
  for (let y = 0; y < outHeight; y++) {
    const yi = coord(yo);
    if (yi >= 0 && yi < height) {
      for (let x = 0; x < outWidth; x++) {
        if (xin[x] < 0) continue;
        const s = (yi * width + xin[x]) * channels;
        const d = (y * outWidth + x) * channels;
        for (let c = 0; c < channels; c++) dst[d + c] = src[s + c];
      }
    }
    yo += yStep;
  }
  return dst;
}

function resizeOnce(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  resample: PilResampling,
): Uint8Array {
  if (outWidth === width && outHeight === height) return src.slice();
  if (resample === PIL_RESAMPLING.NEAREST) {
    return nearestResize(src, width, height, channels, outWidth, outHeight);
  }
  return convolutionResize(src, width, height, channels, outWidth, outHeight, FILTERS[resample]);
}

// `Image.resize((outWidth, outHeight), resample)` on an 8-bit image of `channels` interleaved
// bands (L, RGB, ...; not premultiplied RGBA). `src` is (height, width, channels).
export function resizeU8(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  resample: PilResampling,
): Uint8Array {
  for (const [name, v] of [
    ['width', width],
    ['height', height],
    ['outWidth', outWidth],
    ['outHeight', outHeight],
    ['channels', channels],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`resizeU8: ${name} must be a positive integer, got ${v}`);
  }
  if (src.length !== width * height * channels) {
    throw new Error(`resizeU8: ${src.length} bytes is not ${width}x${height}x${channels}`);
  }
  if (!isPilResampling(resample)) throw new Error(`resizeU8: unknown PIL resampling filter ${resample}`);
  // Pillow >= 12.2 (Image.resize): an image more than 100 times taller than wide that shrinks
  // vertically is resized in height first, then in width.
  if (height > width * 100 && outHeight < height) {
    const tall = resizeOnce(src, width, height, channels, width, outHeight, resample);
    return resizeOnce(tall, width, outHeight, channels, outWidth, outHeight, resample);
  }
  return resizeOnce(src, width, height, channels, outWidth, outHeight, resample);
}
