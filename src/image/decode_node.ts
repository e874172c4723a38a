// Image decoding in Node with sharp, giving the pixels of PIL's `Image.open(f).convert('RGB')`.
//
// What PIL does that sharp would not do by itself, and how it is matched here:
// - PIL ignores embedded ICC profiles: sharp is told `ignoreIcc`.
// - PIL ignores EXIF orientation (transformers' `load_image` applies it): `autoOrient` is opt-in.
// - convert('RGB') drops alpha without compositing and copies grey to R, G and B.
// - 16-bit images keep their high byte, except 16-bit grey (PIL mode I;16), which PIL clips to
//   255 on the way to RGB; sharp would scale it, so its raw 16-bit values are clipped here.
// - CMYK JPEGs go through PIL's naive cmyk2rgb instead of a colour-managed conversion.
// Checked against PIL on test/fixtures/preprocess/pil/decode (PNG of every colour type, JPEG
// baseline/progressive/grey/CMYK, WebP lossy/lossless).

import { importOptional } from '../optional_dependency.js';
import { ImageError } from './errors.js';
import { readImageHeader } from './header.js';
import { checkPixelLimit, MAX_IMAGE_PIXELS, type PixelLimitOptions } from './limits.js';
import { toRgb, type RgbImage } from './rgb_image.js';

export interface LoadImageNodeOptions extends PixelLimitOptions {
  // Rotate/flip by the EXIF Orientation tag, as transformers' load_image does (PIL's open does not).
  autoOrient?: boolean;
  // The name errors give the image when `input` is bytes (a path or URL names itself).
  source?: string;
}

// `input`: a file path, an http(s) URL, or the encoded bytes (PNG, JPEG, WebP, and whatever else
// sharp reads; the first frame of an animation). The pixel limit (`maxPixels`, see limits.ts) is
// checked on the size the header declares, before any pixel is decoded. Every error is an
// ImageError (ImageLimitError for the limit) whose message starts with the image's name.
export async function loadImageNode(
  input: string | Uint8Array,
  options: LoadImageNodeOptions = {},
): Promise<RgbImage> {
  const source = typeof input === 'string' ? input : (options.source ?? `image (${input.length} bytes)`);
  const maxPixels = options.maxPixels ?? MAX_IMAGE_PIXELS;
  const warn =
    options.onWarning ?? ((message: string) => process.emitWarning(message, 'DecompressionBombWarning'));
  const { default: sharp } = await importOptional('sharp', () => import('sharp'), 'decoding images');
  const fail = (e: unknown): never => {
    if (e instanceof ImageError) throw e;
    const message = (e as Error).message ?? String(e);
    const missing = /^Input file is missing/.test(message) || (e as { code?: string }).code === 'ENOENT';
    throw new ImageError(source, missing ? 'no such file' : message);
  };
  let bytes: string | Uint8Array = input;
  if (typeof input === 'string' && /^https?:\/\//i.test(input)) {
    const res = await fetch(input).catch((e: Error) => {
      throw new ImageError(source, `cannot fetch: ${e.message}`);
    });
    if (!res.ok) throw new ImageError(source, `HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer().catch(fail));
  }
  // sharp's own limit stays on as a backstop at the same boundary (it counts width * height and
  // takes integers up to 2^53 - 1; false: none).
  const limit = 2 * maxPixels <= Number.MAX_SAFE_INTEGER ? Math.max(1, Math.floor(2 * maxPixels)) : false;
  const open = (limitInputPixels: number | false = limit) =>
    sharp(bytes, { ignoreIcc: true, autoOrient: options.autoOrient ?? false, limitInputPixels });

  // The size is read from the header before anything is decoded: by readImageHeader where it
  // knows the format (the browser loader's reader), else by sharp's metadata() (libvips opens
  // images lazily: it decodes no pixel).
  const declared = readImageHeader(typeof bytes === 'string' ? await readStart(bytes).catch(fail) : bytes);
  if (declared) checkPixelLimit(declared.width, declared.height, source, maxPixels, warn);
  const meta = await open(false).metadata().catch(fail);
  if (!meta.width || !meta.height) throw new ImageError(source, 'the header has no image size');
  if (!declared) checkPixelLimit(meta.width, meta.height, source, maxPixels, warn);
  const image = await decode(open, meta).catch(fail);
  return { ...image, source };
}

// The first bytes of a file: enough for any header readImageHeader reads, but a JPEG's with
// more than this much metadata before its frame header (then sharp's metadata() gives the size).
async function readStart(path: string, length = 1 << 18): Promise<Uint8Array> {
  const { open } = await import('node:fs/promises');
  const file = await open(path, 'r');
  try {
    const buffer = new Uint8Array(length);
    const { bytesRead } = await file.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

async function decode(open: () => import('sharp').Sharp, meta: import('sharp').Metadata): Promise<RgbImage> {
  if (meta.space === 'cmyk') {
    const { data, info } = await open()
      .pipelineColourspace('cmyk')
      .toColourspace('cmyk')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return cmykToRgb(data, info.width, info.height, info.channels);
  }
  if (meta.depth === 'ushort' && meta.channels === 1) {
    const { data, info } = await open()
      .toColourspace('grey16')
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true });
    const aligned = data.byteOffset % 2 === 0 ? data : data.slice(); // native-endian uint16 samples
    return grey16ToRgb(
      new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2),
      info.width,
      info.height,
    );
  }
  // 8-bit, and 16-bit colour (sharp keeps the high byte, as PIL's ;16B raw modes do).
  const { data, info } = await open().raw().toBuffer({ resolveWithObject: true });
  return toRgb(data, info.width, info.height, info.channels);
}

// Pillow Convert.c cmyk2rgb: R = clip(nk - round(C * nk / 255)) with nk = 255 - K, in integers.
function cmykToRgb(cmyk: Uint8Array, width: number, height: number, channels: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  const mulDiv255 = (a: number, b: number) => {
    const t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (let i = 0; i < n; i++) {
    const nk = 255 - cmyk[i * channels + 3];
    for (let c = 0; c < 3; c++)
      data[i * 3 + c] = Math.max(0, Math.min(255, nk - mulDiv255(cmyk[i * channels + c], nk)));
  }
  return { width, height, data };
}

// Pillow Convert.c I16_RGB: values above 255 become 255.
function grey16ToRgb(grey: Uint16Array, width: number, height: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = Math.min(grey[i], 255);
  return { width, height, data };
}
