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

// The part of the resized image to compute, in output pixels: `resizeU8` returns only these rows
// and columns, with the values they have in the whole resized image (every output sample depends
// only on its own coordinates, so a window is the full resize followed by a crop, bit for bit).
export interface ResizeWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

// The weights of one pass for output samples [out0, out0 + outCount): sample out0 + i reads
// `count[i]` inputs starting at `first[i]`.
interface PassCoefficients {
  ksize: number; // row stride of `weights`
  first: Int32Array; // (outCount)
  count: Int32Array; // (outCount)
  weights: Int32Array; // (outCount, ksize) fixed point, scale 2^22, each row sums to about 2^22
}

// Resample.c precompute_coeffs + normalize_coeffs_8bpc, for the full box [0, inSize), evaluated
// only at the output samples asked for (each is computed from its own index alone).
function passCoefficients(
  inSize: number,
  outSize: number,
  filter: ConvolutionFilter,
  out0: number,
  outCount: number,
): PassCoefficients {
  const scale = inSize / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale; // upscaling keeps the kernel at its own width
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const invFilterscale = 1.0 / filterscale;

  const first = new Int32Array(outCount);
  const count = new Int32Array(outCount);
  const weights = new Int32Array(outCount * ksize);
  const k = new Float64Array(ksize);
  for (let i = 0; i < outCount; i++) {
    const center = (out0 + i + 0.5) * scale;
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
      weights[i * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[i] = xmin;
    count[i] = xmax;
  }
  return { ksize, first, count, weights };
}

// Resample.c clip8: drop the fraction bits (arithmetic shift = floor) and clamp to a byte.
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

// Rows [row0, row0 + rows) and columns [col0, col0 + cols) of a (.., width, channels) image.
function copyRegion(
  src: Uint8Array,
  width: number,
  channels: number,
  row0: number,
  rows: number,
  col0: number,
  cols: number,
): Uint8Array {
  const dst = new Uint8Array(rows * cols * channels);
  for (let y = 0; y < rows; y++) {
    const s = ((row0 + y) * width + col0) * channels;
    dst.set(src.subarray(s, s + cols * channels), y * cols * channels);
  }
  return dst;
}

// Horizontal pass over input rows [row0, row0 + rows): (rows, co's output count, channels).
function horizontalPass(
  src: Uint8Array,
  width: number,
  channels: number,
  row0: number,
  rows: number,
  co: PassCoefficients,
): Uint8Array {
  const { ksize, first, count, weights } = co;
  const outWidth = first.length;
  const dst = new Uint8Array(rows * outWidth * channels);
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

// Vertical pass: (co's output count, width, channels); `src` holds input rows from `rowShift` on.
// Each output row accumulates whole input rows (integer sums, so the order does not change the
// result).
function verticalPass(
  src: Uint8Array,
  width: number,
  channels: number,
  co: PassCoefficients,
  rowShift: number,
): Uint8Array {
  const { ksize, first, count, weights } = co;
  const outHeight = first.length;
  const rowLen = width * channels;
  const dst = new Uint8Array(outHeight * rowLen);
  const acc = new Int32Array(rowLen);
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
// then vertical pass; a pass whose size does not change is skipped. Only the window's columns
// and rows are computed, and the horizontal pass only on the input rows those rows read.
function convolutionResize(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  filter: ConvolutionFilter,
  win: ResizeWindow,
): Uint8Array {
  const vert =
    outHeight !== height ? passCoefficients(height, outHeight, filter, win.top, win.height) : undefined;
  // Input rows read: a window of the vertical pass reads [first of its first row, end of its last).
  const rowFirst = vert ? vert.first[0] : win.top;
  const rowEnd = vert ? vert.first[win.height - 1] + vert.count[win.height - 1] : win.top + win.height;
  const cur =
    outWidth !== width
      ? horizontalPass(
          src,
          width,
          channels,
          rowFirst,
          rowEnd - rowFirst,
          passCoefficients(width, outWidth, filter, win.left, win.width),
        )
      : copyRegion(src, width, channels, rowFirst, rowEnd - rowFirst, win.left, win.width);
  return vert ? verticalPass(cur, win.width, channels, vert, rowFirst) : cur;
}

// Geometry.c ImagingScaleAffine: each output pixel copies the input pixel under its centre,
// positions accumulated in float64 from half a step in (so the sums round as Pillow's do; the
// sums run from the first row and column even for a window, which costs one addition each).
function nearestResize(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  win: ResizeWindow,
): Uint8Array {
  const coord = (v: number) => (v < 0.0 ? -1 : Math.trunc(v));
  const dst = new Uint8Array(win.width * win.height * channels); // Pillow fills misses with 0
  const xStep = width / outWidth;
  const yStep = height / outHeight;
  const xin = new Int32Array(win.width).fill(-1);
  let xo = xStep * 0.5;
  for (let x = 0; x < win.left + win.width; x++) {
    const xi = coord(xo);
    if (x >= win.left && xi >= 0 && xi < width) xin[x - win.left] = xi;
    xo += xStep;
  }
  let yo = yStep * 0.5;
  for (let y = 0; y < win.top + win.height; y++) {
    const yi = coord(yo);
    yo += yStep;
    if (y < win.top || yi < 0 || yi >= height) continue;
    for (let x = 0; x < win.width; x++) {
      if (xin[x] < 0) continue;
      const s = (yi * width + xin[x]) * channels;
      const d = ((y - win.top) * win.width + x) * channels;
      for (let c = 0; c < channels; c++) dst[d + c] = src[s + c];
    }
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
  win: ResizeWindow,
): Uint8Array {
  if (outWidth === width && outHeight === height)
    return copyRegion(src, width, channels, win.top, win.height, win.left, win.width);
  if (resample === PIL_RESAMPLING.NEAREST) {
    return nearestResize(src, width, height, channels, outWidth, outHeight, win);
  }
  return convolutionResize(src, width, height, channels, outWidth, outHeight, FILTERS[resample], win);
}

// `Image.resize((outWidth, outHeight), resample)` on an 8-bit image of `channels` interleaved
// bands (L, RGB, ...; not premultiplied RGBA). `src` is (height, width, channels). With `window`,
// only that part of the result is computed and returned, (window.height, window.width, channels):
// what the full resize followed by a crop gives, without the memory or time of the full resize.
export function resizeU8(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  resample: PilResampling,
  window: ResizeWindow = { left: 0, top: 0, width: outWidth, height: outHeight },
): Uint8Array {
  for (const [name, v] of [
    ['width', width],
    ['height', height],
    ['outWidth', outWidth],
    ['outHeight', outHeight],
    ['channels', channels],
    ['window.width', window.width],
    ['window.height', window.height],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1)
      throw new Error(`resizeU8: ${name} must be a positive integer, got ${v}`);
  }
  const { left, top } = window;
  if (
    !Number.isSafeInteger(left) ||
    !Number.isSafeInteger(top) ||
    left < 0 ||
    top < 0 ||
    left + window.width > outWidth ||
    top + window.height > outHeight
  ) {
    throw new Error(
      `resizeU8: window ${window.width}x${window.height} at (${left}, ${top}) is not inside ${outWidth}x${outHeight}`,
    );
  }
  if (src.length !== width * height * channels) {
    throw new Error(`resizeU8: ${src.length} bytes is not ${width}x${height}x${channels}`);
  }
  if (!isPilResampling(resample)) throw new Error(`resizeU8: unknown PIL resampling filter ${resample}`);
  // Pillow >= 12.2 (Image.resize): an image more than 100 times taller than wide that shrinks
  // vertically is resized in height first, then in width. The first pass computes the window's
  // rows at the full width, the second the window's columns of those rows.
  if (height > width * 100 && outHeight < height) {
    const rows = { left: 0, top, width, height: window.height };
    const tall = resizeOnce(src, width, height, channels, width, outHeight, resample, rows);
    const cols = { left, top: 0, width: window.width, height: window.height };
    return resizeOnce(tall, width, window.height, channels, outWidth, window.height, resample, cols);
  }
  return resizeOnce(src, width, height, channels, outWidth, outHeight, resample, window);
}
