// The decompression-bomb limit, as Pillow has it (PIL.Image._decompression_bomb_check): an image
// of more than `maxPixels` pixels (default Image.MAX_IMAGE_PIXELS) gets a warning, one of more
// than twice that is refused. Both loaders check it from the header, before the pixels are
// decoded; `maxPixels: Infinity` turns it off.

import { ImageLimitError } from './errors.js';

// Pillow's Image.MAX_IMAGE_PIXELS: int(1024 * 1024 * 1024 // 4 // 3), a 250 MB RGB image.
export const MAX_IMAGE_PIXELS = 89_478_485;
// Above this many pixels an image is refused by default (Pillow: 2 * MAX_IMAGE_PIXELS).
export const MAX_IMAGE_PIXELS_ERROR = 2 * MAX_IMAGE_PIXELS;

export interface PixelLimitOptions {
  // Warn above this many pixels, refuse above twice as many (Pillow's MAX_IMAGE_PIXELS);
  // Infinity: no limit. Default MAX_IMAGE_PIXELS.
  maxPixels?: number;
  // Where the warning goes. Default: process.emitWarning (type DecompressionBombWarning) in
  // Node, console.warn in browsers.
  onWarning?: (message: string) => void;
}

// Throws ImageLimitError above 2 * maxPixels, calls `warn` above maxPixels. Pillow counts
// max(1, w) * max(1, h).
export function checkPixelLimit(
  width: number,
  height: number,
  source: string,
  maxPixels: number,
  warn: (message: string) => void,
): void {
  if (!(maxPixels > 0)) {
    throw new RangeError(`maxPixels must be a positive number or Infinity, got ${maxPixels}`);
  }
  if (maxPixels === Number.POSITIVE_INFINITY) return;
  const pixels = Math.max(1, width) * Math.max(1, height);
  const what = `image size ${width}x${height} (${pixels} pixels) exceeds the limit of`;
  const why = 'could be a decompression bomb (maxPixels sets the limit; Infinity removes it)';
  if (pixels > 2 * maxPixels) {
    throw new ImageLimitError(source, pixels, 2 * maxPixels, `${what} ${2 * maxPixels} pixels, ${why}`);
  }
  if (pixels > maxPixels) warn(`${source}: ${what} ${maxPixels} pixels, ${why}`);
}
