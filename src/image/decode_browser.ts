// Image decoding in the browser, aiming at the pixels of PIL's `Image.open(f).convert('RGB')`.
//
// - The image is decoded to an ImageBitmap with colorSpaceConversion 'none' (PIL ignores ICC
//   profiles) and premultiplyAlpha 'none' (convert('RGB') drops alpha without compositing, so the
//   colour under a transparent pixel must survive).
// - The bitmap's bytes are read back through a WebGL2 texture, which keeps them unpremultiplied;
//   a 2D canvas (the fallback when WebGL2 is missing or the image exceeds its texture size)
//   premultiplies, so there the colour of partly transparent pixels is approximate.
// - Browsers apply the EXIF orientation when decoding (as transformers' load_image does, and
//   PIL's open does not).
// - JPEG decoders differ between browsers and libjpeg-turbo in their IDCT and chroma upsampling,
//   so a JPEG may land a level or so away from PIL; PNG and lossless WebP decode exactly.

// - The pixel limit (`maxPixels`, Pillow's MAX_IMAGE_PIXELS) is checked before the browser
//   decodes: for bytes (a URL, a Blob) on the size their header declares (src/image/header.ts:
//   PNG, JPEG, GIF, WebP, BMP), for an <img> on its natural size once loaded (Chromium decodes
//   an <img> lazily, on paint or decode()), for canvases, bitmaps, frames and ImageData on their
//   size. Formats the header reader does not know (AVIF, SVG, ICO, ...) are decoded by the
//   browser first and checked on the bitmap, before any pixel is read back.

import { ImageError } from './errors.js';
import { readImageHeader } from './header.js';
import { checkPixelLimit, MAX_IMAGE_PIXELS, type PixelLimitOptions } from './limits.js';
import { toRgb, type RgbImage } from './rgb_image.js';

export type BrowserImageInput =
  | HTMLImageElement
  | HTMLCanvasElement
  | ImageBitmap
  | ImageData
  | VideoFrame
  | Blob
  | string; // URL (http(s), blob:, data:)

export interface LoadImageBrowserOptions extends PixelLimitOptions {
  // The name errors give the image (default: the URL, a File's name, or what the input is).
  source?: string;
}

const BITMAP_OPTIONS: ImageBitmapOptions = { colorSpaceConversion: 'none', premultiplyAlpha: 'none' };

// `v instanceof globalThis[name]`, false where the class does not exist (workers, Node).
function isInstance<T>(v: unknown, name: string): v is T {
  const ctor = (globalThis as Record<string, unknown>)[name];
  return typeof ctor === 'function' && v instanceof (ctor as new () => unknown);
}

function describeInput(input: BrowserImageInput): string {
  if (typeof input === 'string') return input.length > 80 ? `${input.slice(0, 77)}...` : input;
  if (isInstance<File>(input, 'File')) return input.name;
  if (isInstance<HTMLImageElement>(input, 'HTMLImageElement'))
    return describeInput(input.currentSrc || input.src || 'HTMLImageElement');
  if (isInstance<Blob>(input, 'Blob')) return `Blob (${input.type || 'no type'}, ${input.size} bytes)`;
  return input.constructor?.name ?? 'image';
}

// The size an input has before it is decoded (undefined: only decoding tells).
async function declaredSize(
  input: Exclude<BrowserImageInput, string>,
): Promise<{ width: number; height: number } | undefined> {
  if (isInstance<Blob>(input, 'Blob')) return readImageHeader(new Uint8Array(await input.arrayBuffer()));
  if (isInstance<HTMLImageElement>(input, 'HTMLImageElement'))
    return { width: input.naturalWidth, height: input.naturalHeight };
  if (isInstance<VideoFrame>(input, 'VideoFrame'))
    return { width: input.displayWidth, height: input.displayHeight };
  return { width: (input as ImageBitmap).width, height: (input as ImageBitmap).height };
}

// Resolves once an <img> has loaded its bytes (not decoded them), rejects if it cannot.
function loaded(img: HTMLImageElement, source: string): Promise<void> {
  if (img.complete) {
    return img.naturalWidth > 0
      ? Promise.resolve()
      : Promise.reject(new ImageError(source, 'the image could not be loaded or decoded'));
  }
  return new Promise((resolve, reject) => {
    img.addEventListener('load', () => resolve(), { once: true });
    img.addEventListener(
      'error',
      () => reject(new ImageError(source, 'the image could not be loaded or decoded')),
      { once: true },
    );
  });
}

export async function loadImageBrowser(
  input: BrowserImageInput,
  options: LoadImageBrowserOptions = {},
): Promise<RgbImage> {
  const source = options.source ?? describeInput(input);
  const maxPixels = options.maxPixels ?? MAX_IMAGE_PIXELS;
  const warn = options.onWarning ?? ((message: string) => console.warn(message));
  const limit = (width: number, height: number) => checkPixelLimit(width, height, source, maxPixels, warn);

  if (isInstance<ImageData>(input, 'ImageData')) {
    limit(input.width, input.height);
    return { ...toRgb(input.data, input.width, input.height, 4), source };
  }
  if (typeof createImageBitmap !== 'function') {
    throw new ImageError(source, 'createImageBitmap is not available here (in Node use loadImageNode)');
  }
  let image: Exclude<BrowserImageInput, string | ImageData>;
  if (typeof input === 'string') {
    const res = await fetch(input).catch((e: Error) => {
      throw new ImageError(source, `cannot fetch: ${e.message}`);
    });
    if (!res.ok) throw new ImageError(source, `HTTP ${res.status}`);
    image = await res.blob();
  } else {
    image = input;
    if (isInstance<HTMLImageElement>(image, 'HTMLImageElement')) await loaded(image, source);
  }
  const size = await declaredSize(image);
  if (size) limit(size.width, size.height);

  let bitmap: ImageBitmap;
  const owned = !isInstance<ImageBitmap>(image, 'ImageBitmap');
  if (owned) {
    try {
      bitmap = await createImageBitmap(image, BITMAP_OPTIONS); // <img>, <canvas>, VideoFrame, Blob
    } catch (e) {
      throw new ImageError(source, `cannot decode: ${(e as Error).message}`);
    }
  } else {
    bitmap = image as ImageBitmap;
  }
  try {
    const { width, height } = bitmap;
    if (width < 1 || height < 1) throw new ImageError(source, `empty image (${width}x${height})`);
    if (!size) limit(width, height); // a format without a header reader: checked before the readback
    const rgba = readPixelsWebGL(bitmap) ?? readPixels2D(bitmap, source);
    return { ...toRgb(rgba, width, height, 4), source };
  } finally {
    if (owned) bitmap.close();
  }
}

// RGBA bytes of the bitmap, unpremultiplied, top row first; null where WebGL2 cannot do it.
function readPixelsWebGL(bitmap: ImageBitmap): Uint8Array | null {
  if (typeof OffscreenCanvas !== 'function') return null;
  const { width, height } = bitmap;
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2', {
    premultipliedAlpha: false,
    antialias: false,
    depth: false,
  });
  if (!gl) return null;
  const texture = gl.createTexture();
  const framebuffer = gl.createFramebuffer();
  try {
    const maxSize = gl.getParameter(gl.MAX_TEXTURE_SIZE) as number;
    if (width > maxSize || height > maxSize) return null;
    gl.bindTexture(gl.TEXTURE_2D, texture);
    // For an ImageBitmap these are governed by its own options; set them anyway for clarity.
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, width, height, 0, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
    if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) return null;
    const rgba = new Uint8Array(width * height * 4);
    gl.pixelStorei(gl.PACK_ALIGNMENT, 1);
    // Texture row 0 is the first uploaded row (the image's top), and readPixels starts there.
    gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, rgba);
    return gl.getError() === gl.NO_ERROR ? rgba : null;
  } finally {
    gl.deleteFramebuffer(framebuffer);
    gl.deleteTexture(texture);
    gl.getExtension('WEBGL_lose_context')?.loseContext();
  }
}

// RGBA bytes through a 2D canvas. Canvases store premultiplied colour, so only pixels with
// alpha 255 come back exactly.
function readPixels2D(bitmap: ImageBitmap, source: string): Uint8ClampedArray {
  const { width, height } = bitmap;
  let ctx: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null;
  if (typeof OffscreenCanvas === 'function') {
    ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  } else {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    ctx = canvas.getContext('2d', { willReadFrequently: true });
  }
  if (!ctx) throw new ImageError(source, 'no 2D canvas context to read the pixels back');
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, width, height).data;
}
