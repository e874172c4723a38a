// The public image API in Chromium: every browser image kind (URL text and URL, Blob, File, bytes,
// HTMLImageElement, HTMLCanvasElement, OffscreenCanvas, ImageBitmap, ImageData, VideoFrame,
// RgbImage), in the page and in a module worker where the kind exists there, gives the
// pixel_values of the Node path for the same PNG; a JPEG with EXIF orientation 6 comes out turned
// as Node turns it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Library from '../../src/index.js';
import { loadImageNode } from '../../src/image/decode_node.js';
import { load_image } from '../../src/image/load_image.js';
import { BitImageProcessor } from '../../src/image/processor.js';
import { orientedJpeg } from '../helpers/oriented_jpeg.js';
import {
  type ChromiumSession,
  ensureBuilt,
  launchChromium,
  REPO_ROOT,
  serveStatic,
  type StaticServer,
} from '../../tools/chromium.js';

const PNG_PATH = 'test/fixtures/preprocess/img1-300x500.png';

let server: StaticServer | undefined;
let chromium: ChromiumSession | undefined;

beforeAll(async () => {
  ensureBuilt();
  server = await serveStatic();
  chromium = await launchChromium({ origin: server.origin, intercept: false });
  await chromium.page.goto(`${server.origin}/test/browser/page.html`);
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

function floats(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** In the page: each kind's pixel_values (base64 of the float32 bytes) and the oriented JPEG's RgbImage. */
function runInPage(libraryUrl: string, pngUrl: string, jpegBase64: string) {
  return chromium!.page.evaluate(
    async (libraryUrl: string, pngUrl: string, jpegBase64: string) => {
      const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
      const lib = (await importModule(libraryUrl)) as typeof Library;
      const processor = new lib.BitImageProcessor();
      const toBase64 = (a: Float32Array | Uint8Array) => {
        const u8 = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
        let s = '';
        for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
        return btoa(s);
      };
      const blob = await (await fetch(pngUrl)).blob();
      const bitmap = await createImageBitmap(blob);
      const img = new Image();
      img.src = pngUrl;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      canvas.getContext('2d')!.drawImage(img, 0, 0);
      const offscreen = new OffscreenCanvas(bitmap.width, bitmap.height);
      offscreen.getContext('2d')!.drawImage(bitmap, 0, 0);
      const imageData = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      const frame = new VideoFrame(bitmap, { timestamp: 0 });
      const kinds: Record<string, Library.ImageInput> = {
        'URL text': pngUrl,
        URL: new URL(pngUrl),
        Blob: blob,
        File: new File([blob], 'image.png', { type: 'image/png' }),
        Uint8Array: new Uint8Array(await blob.arrayBuffer()),
        HTMLImageElement: img,
        HTMLCanvasElement: canvas,
        OffscreenCanvas: offscreen,
        ImageBitmap: bitmap,
        ImageData: imageData,
        VideoFrame: frame,
        RgbImage: await lib.load_image(blob),
      };
      // Each kind's pixel_values against the first's (URL text), which alone goes back to Node.
      let first: Float32Array | undefined;
      const differs = (a: Float32Array) => (first ? a.findIndex((v, i) => !Object.is(v, first![i])) : -1);
      const out: Record<string, { dims: number[]; differsAt: number }> = {};
      for (const [kind, input] of Object.entries(kinds)) {
        const { pixel_values } = await processor(input);
        first ??= pixel_values.data;
        out[kind] = { dims: pixel_values.dims, differsAt: differs(pixel_values.data) };
      }
      const batch = (await processor(Object.values(kinds))).pixel_values;
      const batchDiffers = Array.from({ length: batch.dims[0] }, (_, i) =>
        differs(batch.data.subarray(i * first!.length, (i + 1) * first!.length)),
      );
      frame.close();

      // The same in a module worker, for the kinds a worker has.
      const workerSource = `
        // The handler is set before any await: a message that arrives first would be lost.
        const loading = import(${JSON.stringify(libraryUrl)});
        self.onmessage = async (e) => {
          try {
            const lib = await loading;
            const processor = new lib.BitImageProcessor();
            const { url, blob } = e.data;
            const bitmap = await createImageBitmap(blob);
            const kinds = { 'worker URL text': url, 'worker Blob': blob, 'worker ImageBitmap': bitmap };
            const out = {};
            for (const [kind, input] of Object.entries(kinds)) {
              const { pixel_values } = await processor(input);
              out[kind] = { dims: pixel_values.dims, data: pixel_values.data };
            }
            self.postMessage(out);
          } catch (err) {
            self.postMessage({ error: String(err && err.stack || err) });
          }
        };`;
      const worker = new Worker(URL.createObjectURL(new Blob([workerSource], { type: 'text/javascript' })), {
        type: 'module',
      });
      const fromWorker = await new Promise<Record<string, { dims: number[]; data: Float32Array }>>(
        (resolve, reject) => {
          worker.onmessage = (e) => (e.data.error ? reject(new Error(e.data.error)) : resolve(e.data));
          worker.onerror = (e) => reject(new Error(e.message));
          worker.postMessage({ url: pngUrl, blob });
        },
      );
      worker.terminate();
      for (const [kind, r] of Object.entries(fromWorker))
        out[kind] = { dims: r.dims, differsAt: differs(r.data) };

      const jpeg = Uint8Array.from(atob(jpegBase64), (c) => c.charCodeAt(0));
      const turned = await lib.load_image(new Blob([jpeg], { type: 'image/jpeg' }));
      let refused = '';
      await lib.load_image(new Blob([jpeg]), { auto_orient: false }).catch((e: Error) => {
        refused = e.message;
      });
      return {
        kinds: out,
        pixelValues: toBase64(first!),
        batch: { dims: batch.dims, differsAt: batchDiffers },
        jpeg: { width: turned.width, height: turned.height, data: toBase64(turned.data) },
        refused,
      };
    },
    libraryUrl,
    pngUrl,
    jpegBase64,
  );
}

describe('load_image and processor(images) in Chromium', () => {
  it('every browser image kind, in the page and a module worker, gives the pixel_values of the Node path', async () => {
    const processor = new BitImageProcessor();
    const reference = processor.preprocess(await loadImageNode(join(REPO_ROOT, PNG_PATH))).pixel_values;
    const jpeg = await orientedJpeg(6);
    const result = await runInPage(
      `${server!.origin}/dist/index.js`,
      `${server!.origin}/${PNG_PATH}`,
      Buffer.from(jpeg).toString('base64'),
    );
    expect(Object.keys(result.kinds)).toHaveLength(15);
    const got = floats(result.pixelValues);
    expect(
      got.findIndex((v, i) => !Object.is(v, reference[i])),
      "URL text: first value that differs from Node's",
    ).toBe(-1);
    for (const [kind, { dims, differsAt }] of Object.entries(result.kinds)) {
      expect(dims, kind).toEqual([1, 3, 224, 224]);
      expect(differsAt, `${kind}: first value that differs from URL text's`).toBe(-1);
    }
    expect(result.batch.dims).toEqual([12, 3, 224, 224]);
    expect(result.batch.differsAt).toEqual(new Array(12).fill(-1));

    // EXIF orientation 6: the browser's decoder turns it as sharp does for Node.
    const node = await load_image(jpeg);
    expect([result.jpeg.width, result.jpeg.height]).toEqual([node.width, node.height]);
    expect(Buffer.from(result.jpeg.data, 'base64').equals(Buffer.from(node.data))).toBe(true);
    expect(result.refused).toMatch(/auto_orient: false is not possible in a browser/);
    expect(chromium!.problems).toEqual([]);
  });
});
