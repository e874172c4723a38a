// The model's input as a picture: pixel_values (1, 3, H, W) turned back into the resized and
// cropped RGB image they were computed from, by undoing the processor's rescale and normalize.
// Each value came from one uint8, so rounding recovers it exactly.

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
