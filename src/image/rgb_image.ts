// An 8-bit RGB image in row-major HWC order: what PIL's `np.array(image.convert('RGB'))` holds.
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array; // (height, width, 3)
  source?: string; // where the pixels came from (a file path, URL or name), for error messages
}

export const RGB_CHANNELS = 3;

// Throws unless `img` is a well-formed RgbImage (positive integer sizes, data of exactly h*w*3 bytes).
export function checkRgbImage(img: RgbImage, what = img.source ?? 'image'): void {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${what}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (!(data instanceof Uint8Array)) throw new Error(`${what}: data must be a Uint8Array`);
  if (data.length !== width * height * RGB_CHANNELS) {
    throw new Error(
      `${what}: data has ${data.length} bytes, expected ${width}*${height}*3 = ${width * height * 3}`,
    );
  }
}

// Drops alpha and widens grey the way PIL's convert('RGB') does for L, LA, RGB and RGBA:
// alpha is discarded without compositing, grey is copied to all three channels.
export function toRgb(
  pixels: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  channels: number,
): RgbImage {
  const n = width * height;
  if (pixels.length !== n * channels) {
    throw new Error(`toRgb: ${pixels.length} bytes is not ${width}x${height}x${channels}`);
  }
  const data = new Uint8Array(n * RGB_CHANNELS);
  switch (channels) {
    case 1:
    case 2:
      for (let i = 0; i < n; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = pixels[channels * i];
      break;
    case 3:
      data.set(pixels);
      break;
    case 4:
      for (let i = 0; i < n; i++) {
        data[3 * i] = pixels[4 * i];
        data[3 * i + 1] = pixels[4 * i + 1];
        data[3 * i + 2] = pixels[4 * i + 2];
      }
      break;
    default:
      throw new Error(`toRgb: cannot convert ${channels} channels to RGB`);
  }
  return { width, height, data };
}
