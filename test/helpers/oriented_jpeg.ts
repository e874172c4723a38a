// A JPEG whose EXIF Orientation tag says how to turn it, made with sharp: 32x16 pixels of four flat
// 8x8-aligned colour regions (so every rotation and flip of it differs, and every JPEG decoder
// gives the same pixels: flat blocks have only a DC coefficient), quality 100, no chroma subsampling.
import sharp from 'sharp';
import type { RgbImage } from '../../src/image/rgb_image.js';

export const ORIENTED_WIDTH = 32;
export const ORIENTED_HEIGHT = 16;

const COLOURS = [
  [200, 40, 40],
  [40, 200, 40],
  [40, 40, 200],
  [220, 220, 60],
];

/** The stored (unrotated) pixels: quadrants top-left, top-right (two blocks wide), bottom-left, bottom-right. */
export function storedPixels(): RgbImage {
  const width = ORIENTED_WIDTH;
  const height = ORIENTED_HEIGHT;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const q = (y < 8 ? 0 : 2) + (x < 8 ? 0 : 1);
      data.set(COLOURS[q], (y * width + x) * 3);
    }
  return { width, height, data };
}

export async function orientedJpeg(orientation: number): Promise<Uint8Array> {
  const { width, height, data } = storedPixels();
  const jpeg = await sharp(data, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
    .withMetadata({ orientation })
    .toBuffer();
  return new Uint8Array(jpeg);
}

/** The image turned 90 degrees clockwise: what EXIF orientation 6 asks a viewer to show. */
export function rotate90cw(img: RgbImage): RgbImage {
  const { width, height, data } = img;
  const out = new Uint8Array(data.length);
  // out is height wide and width tall; out(x', y') = in(x = y', y = height - 1 - x').
  for (let y2 = 0; y2 < width; y2++)
    for (let x2 = 0; x2 < height; x2++) {
      const src = ((height - 1 - x2) * width + y2) * 3;
      out.set(data.subarray(src, src + 3), (y2 * height + x2) * 3);
    }
  return { width: height, height: width, data: out };
}
