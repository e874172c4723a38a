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

import { toRgb, type RgbImage } from './rgb_image.js';

export type BrowserImageInput =
  | HTMLImageElement
  | HTMLCanvasElement
  | ImageBitmap
  | ImageData
  | VideoFrame
  | Blob
  | string; // URL (http(s), blob:, data:)

const BITMAP_OPTIONS: ImageBitmapOptions = { colorSpaceConversion: 'none', premultiplyAlpha: 'none' };

// `v instanceof globalThis[name]`, false where the class does not exist (workers, Node).
function isInstance<T>(v: unknown, name: string): v is T {
  const ctor = (globalThis as Record<string, unknown>)[name];
  return typeof ctor === 'function' && v instanceof (ctor as new () => unknown);
}

export async function loadImageBrowser(input: BrowserImageInput): Promise<RgbImage> {
  if (isInstance<ImageData>(input, 'ImageData')) return toRgb(input.data, input.width, input.height, 4);
  if (typeof createImageBitmap !== 'function') {
    throw new Error('loadImageBrowser: createImageBitmap is not available here (in Node use loadImageNode)');
  }
  let bitmap: ImageBitmap;
  let owned = true;
  if (typeof input === 'string') {
    const res = await fetch(input);
    if (!res.ok) throw new Error(`loadImageBrowser: ${input}: HTTP ${res.status}`);
    bitmap = await createImageBitmap(await res.blob(), BITMAP_OPTIONS);
  } else if (isInstance<ImageBitmap>(input, 'ImageBitmap')) {
    bitmap = input;
    owned = false;
  } else {
    if (
      isInstance<HTMLImageElement>(input, 'HTMLImageElement') &&
      (!input.complete || input.naturalWidth === 0)
    ) {
      await input.decode();
    }
    bitmap = await createImageBitmap(input, BITMAP_OPTIONS); // <img>, <canvas>, VideoFrame, Blob
  }
  try {
    const { width, height } = bitmap;
    if (width < 1 || height < 1) throw new Error(`loadImageBrowser: empty image (${width}x${height})`);
    const rgba = readPixelsWebGL(bitmap) ?? readPixels2D(bitmap);
    return toRgb(rgba, width, height, 4);
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
function readPixels2D(bitmap: ImageBitmap): Uint8ClampedArray {
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
  if (!ctx) throw new Error('loadImageBrowser: no 2D canvas context');
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, width, height).data;
}
