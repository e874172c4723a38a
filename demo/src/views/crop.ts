// The model's input as a picture: pixel_values (1, 3, H, W) turned back into the RGB image they
// were computed from, by undoing the processor's rescale and normalize. With DINOv2's processor
// (resize, then center crop, in uint8) each value came from one uint8, so rounding recovers it
// exactly; DINOv3's resizes the float image (straight to 224 x 224, no crop), so rounding gives the
// nearest uint8 of what the model saw.

export interface PixelConfig {
  do_rescale: boolean;
  rescale_factor: number;
  do_normalize: boolean;
  image_mean: number[];
  image_std: number[];
}

export interface Rgb {
  width: number;
  height: number;
  /** HWC uint8. */
  data: Uint8Array;
}

export function pixelsToRgb(pixelValues: Float32Array, dims: readonly number[], config: PixelConfig): Rgb {
  const [, channels, height, width] = dims;
  if (channels !== 3 || pixelValues.length !== 3 * height * width)
    throw new Error(`pixel_values [${dims.join(', ')}] is not one RGB image`);
  const plane = height * width;
  const data = new Uint8Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = config.do_normalize ? config.image_mean[c] : 0;
    const std = config.do_normalize ? config.image_std[c] : 1;
    const scale = config.do_rescale ? config.rescale_factor : 1;
    for (let p = 0; p < plane; p++) {
      const u = (pixelValues[c * plane + p] * std + mean) / scale;
      data[p * 3 + c] = Math.min(255, Math.max(0, Math.round(u)));
    }
  }
  return { width, height, data };
}

/**
 * The top-left `width` x `height` of `img`: the part a patch grid covers (the model floors the input
 * to whole patches, dropping the right and bottom remainder), so that maps laid over it line up.
 */
export function coveredPart(img: Rgb, width: number, height: number): Rgb {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    throw new Error(`coveredPart: ${width} x ${height} is not a positive size`);
  if (width > img.width || height > img.height)
    throw new Error(
      `coveredPart: ${width} x ${height} is larger than the ${img.width} x ${img.height} image`,
    );
  if (width === img.width && height === img.height) return img;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    data.set(img.data.subarray(y * img.width * 3, (y * img.width + width) * 3), y * width * 3);
  return { width, height, data };
}
