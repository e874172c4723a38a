// The public image API: load_image (an image from whatever the user holds, as the RgbImage of PIL's
// convert('RGB')) and the batch a processor makes of images (processor(images).pixel_values).
// EXIF orientation is applied by default, as transformers' load_image does (ImageOps.exif_transpose):
// in Node by sharp, in browsers by the browser's decoder (createImageBitmap's imageOrientation
// 'from-image', which browsers apply to every encoded image).
import { nodePlatform } from '../platform.js';
import { type BrowserImageInput, loadImageBrowser } from './decode_browser.js';
import { ImageError } from './errors.js';
import type { PixelLimitOptions } from './limits.js';
import { Callable } from './callable.js';
import { checkRgbImage, type RgbImage } from './rgb_image.js';

/**
 * What load_image and processor(images) accept.
 * - Browsers: a URL (string or URL; http(s), blob:, data:), a Blob or File, an HTMLImageElement,
 *   HTMLCanvasElement, OffscreenCanvas, ImageBitmap, ImageData or VideoFrame, encoded bytes (Uint8Array).
 * - Node: a file path, a URL (string or URL; file:, http(s):, data:), encoded bytes (Buffer,
 *   Uint8Array) or a Blob.
 * - Both: an RgbImage (decoded pixels), taken as it is.
 */
export type ImageInput =
  | string
  | URL
  | Blob
  | Uint8Array
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | ImageBitmap
  | ImageData
  | VideoFrame
  | RgbImage;

export interface LoadImageOptions {
  /** Pillow's decompression-bomb limit: a warning above maxPixels (default 89,478,485), an ImageLimitError above twice it; Infinity: none. */
  maxPixels?: PixelLimitOptions['maxPixels'];
  /** Where the pixel-limit warning goes (default process.emitWarning in Node, console.warn in browsers). */
  onWarning?: PixelLimitOptions['onWarning'];
  /**
   * Rotate and flip by the EXIF Orientation tag (default true, as transformers' load_image does).
   * Browsers always apply it when they decode, so false is refused there for encoded images.
   */
  auto_orient?: boolean;
}

/** pixel_values as model.forward takes them: [batch, 3, height, width], channel-first float32. */
export interface PixelValues {
  data: Float32Array;
  dims: [number, number, number, number];
}

// `v instanceof globalThis[name]`, false where the class does not exist (workers, Node).
function isInstance(v: unknown, name: string): boolean {
  const ctor = (globalThis as Record<string, unknown>)[name];
  return typeof ctor === 'function' && v instanceof (ctor as new () => unknown);
}

function isRgbImage(v: unknown): v is RgbImage {
  return (
    typeof v === 'object' &&
    v !== null &&
    !isInstance(v, 'ImageData') &&
    (v as RgbImage).data instanceof Uint8Array &&
    typeof (v as RgbImage).width === 'number' &&
    typeof (v as RgbImage).height === 'number'
  );
}

/** What an error calls the input: the string or URL itself, else its kind. */
function describeInput(input: unknown): string {
  if (typeof input === 'string') return input.length > 200 ? `${input.slice(0, 200)}...` : input;
  if (input instanceof URL) return input.href;
  const name = (input as object | null)?.constructor?.name;
  return name ? `a ${name}` : String(input);
}

/** An image as RgbImage (8-bit RGB, the pixels of PIL's `Image.open(f).convert('RGB')`). */
export async function load_image(input: ImageInput, options: LoadImageOptions = {}): Promise<RgbImage> {
  if (isRgbImage(input)) {
    checkRgbImage(input);
    return input;
  }
  const autoOrient = options.auto_orient ?? true;
  const limits: PixelLimitOptions = { maxPixels: options.maxPixels, onWarning: options.onWarning };
  const what = describeInput(input);
  try {
    const node = nodePlatform();
    if (node) {
      if (
        typeof input === 'string' ||
        input instanceof URL ||
        input instanceof Uint8Array ||
        input instanceof Blob
      )
        return await node.loadImage(input, { autoOrient, ...limits });
      throw new ImageError(
        what,
        'is not an image kind Node reads: give a file path, a URL, encoded bytes (Buffer, Uint8Array), a Blob or an RgbImage',
      );
    }
    const encoded =
      typeof input === 'string' ||
      input instanceof URL ||
      input instanceof Uint8Array ||
      isInstance(input, 'Blob') ||
      isInstance(input, 'HTMLImageElement');
    if (encoded && !autoOrient) {
      throw new ImageError(
        what,
        'auto_orient: false is not possible in a browser: browsers apply the EXIF orientation when they decode',
      );
    }
    let source: unknown = input;
    if (input instanceof URL) source = input.href;
    else if (input instanceof Uint8Array) source = new Blob([input as Uint8Array<ArrayBuffer>]);
    return await loadImageBrowser(source as BrowserImageInput, limits);
  } catch (e) {
    if (e instanceof ImageError) throw e; // it names its image already
    const message = e instanceof Error ? e.message : String(e);
    throw new ImageError(what, message.startsWith(`${what}: `) ? message.slice(what.length + 2) : message);
  }
}

/**
 * processor(images): each image loaded (load_image) and preprocessed, stacked into one batch. The
 * images must come out of the processor at one size (they do when it center-crops, as DINOv2's does).
 */
export async function processImages(
  processor: { preprocess(img: RgbImage): { pixel_values: Float32Array; dims: readonly number[] } },
  images: ImageInput | readonly ImageInput[],
  options: LoadImageOptions = {},
): Promise<{ pixel_values: PixelValues }> {
  const list = Array.isArray(images) ? (images as readonly ImageInput[]) : [images as ImageInput];
  if (list.length === 0) throw new ImageError('processor(images)', 'no images');
  let data: Float32Array | undefined;
  let dims: PixelValues['dims'] = [list.length, 0, 0, 0];
  for (let i = 0; i < list.length; i++) {
    const one = processor.preprocess(await load_image(list[i], options));
    const [, c, h, w] = one.dims;
    if (!data) {
      dims = [list.length, c, h, w];
      data = new Float32Array(list.length * c * h * w);
    } else if (h !== dims[2] || w !== dims[3]) {
      throw new ImageError(
        describeInput(list[i]),
        `processor(images): becomes ${w}x${h} but the first image ${dims[3]}x${dims[2]}; one batch needs one size (center-crop, or call once per image)`,
      );
    }
    data.set(one.pixel_values, i * c * h * w);
  }
  return { pixel_values: { data: data!, dims } };
}

/** `processor(images)`: the images loaded (load_image), preprocessed and stacked into pixel_values [B, 3, H, W]. */
export interface CallableImageProcessor {
  // biome-ignore lint/style/useShorthandFunctionType: an interface, to merge with the class below
  (
    images: ImageInput | readonly ImageInput[],
    options?: LoadImageOptions,
  ): Promise<{ pixel_values: PixelValues }>;
}

/** What the image processors share: called on images (processImages), each image by `preprocess`. */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface adds the call signature Callable gives instances
export abstract class CallableImageProcessor extends Callable<
  [images: ImageInput | readonly ImageInput[], options?: LoadImageOptions],
  Promise<{ pixel_values: PixelValues }>
> {
  /** One decoded image -> pixel_values (1, 3, H, W), channel-first float32. */
  abstract preprocess(img: RgbImage): { pixel_values: Float32Array; dims: readonly number[] };

  _call(images: ImageInput | readonly ImageInput[], options?: LoadImageOptions) {
    return processImages(this, images, options);
  }
}
