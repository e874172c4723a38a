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

import { importOptional } from '../platform.js';
import { toRgb, type RgbImage } from './rgb_image.js';

export interface LoadImageNodeOptions {
  // Rotate/flip by the EXIF Orientation tag, as transformers' load_image does (PIL's open does not).
  autoOrient?: boolean;
}

// `input`: a file path, an http(s) URL, or the encoded bytes (PNG, JPEG, WebP, and whatever else
// sharp reads; the first frame of an animation).
export async function loadImageNode(
  input: string | Uint8Array,
  options: LoadImageNodeOptions = {},
): Promise<RgbImage> {
  const { default: sharp } = await importOptional('sharp', () => import('sharp'), 'decoding images');
  let source: string | Uint8Array = input;
  if (typeof input === 'string' && /^https?:\/\//i.test(input)) {
    const res = await fetch(input);
    if (!res.ok) throw new Error(`loadImageNode: ${input}: HTTP ${res.status}`);
    source = new Uint8Array(await res.arrayBuffer());
  }
  const open = () => sharp(source, { ignoreIcc: true, autoOrient: options.autoOrient ?? false });
  const meta = await open().metadata();

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
