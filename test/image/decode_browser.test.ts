// loadImageBrowser in headless Chromium: the pixel limit is checked before the browser decodes
// (on the header of a Blob or URL, on an <img>'s natural size, on a canvas), or, for a format the
// header reader does not know (AVIF), on the bitmap before any pixel is read back; errors name
// their image; and the browser's EXIF orientation gives Pillow's exif_transpose pixels.
// src/image/decode_browser.ts is bundled alone with vite into test-output/ and imported by the page.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as DecodeBrowser from '../../src/image/decode_browser.js';
import { MAX_IMAGE_PIXELS_ERROR } from '../../src/image/limits.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import {
  type ChromiumSession,
  launchChromium,
  REPO_ROOT,
  serveStatic,
  type StaticServer,
} from '../../tools/chromium.js';
import { HEADER_ONLY, solidPng } from './image_headers.js';

const OUT = 'test-output/decode-browser';
let server: StaticServer;
let chromium: ChromiumSession;

beforeAll(async () => {
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      outDir: join(REPO_ROOT, OUT),
      emptyOutDir: true,
      minify: false,
      lib: {
        entry: join(REPO_ROOT, 'src/image/decode_browser.ts'),
        formats: ['es'],
        fileName: 'decode_browser',
      },
    },
  });
  server = await serveStatic(REPO_ROOT);
  chromium = await launchChromium({ origin: server.origin, onConsole: () => {} });
  await chromium.page.goto(`${server.origin}/test/browser/page.html`);
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

type Input =
  | { blob: number[]; type?: string; name?: string }
  | { url: string }
  | { img: string }
  | { canvas: [number, number] };
interface Outcome {
  ok: boolean;
  name?: string;
  message?: string;
  width?: number;
  height?: number;
  data?: number[];
  warnings: string[];
}

// Runs loadImageBrowser in the page on `input` with `options` (maxPixels as a number, or 'Infinity').
function load(
  input: Input,
  options: { maxPixels?: number | 'Infinity'; source?: string } = {},
): Promise<Outcome> {
  return chromium.page.evaluate(
    async (url, input, options) => {
      const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
      const lib = (await importModule(url)) as typeof DecodeBrowser;
      const warnings: string[] = [];
      let value: DecodeBrowser.BrowserImageInput;
      if ('blob' in input) {
        const bytes = new Uint8Array(input.blob);
        value = input.name
          ? new File([bytes], input.name, { type: input.type })
          : new Blob([bytes], { type: input.type });
      } else if ('url' in input) value = input.url;
      else if ('img' in input) {
        const img = new Image();
        img.src = input.img;
        value = img;
      } else {
        const canvas = document.createElement('canvas');
        [canvas.width, canvas.height] = input.canvas;
        value = canvas;
      }
      try {
        const image = await lib.loadImageBrowser(value, {
          source: options.source,
          maxPixels: options.maxPixels === 'Infinity' ? Number.POSITIVE_INFINITY : options.maxPixels,
          onWarning: (m) => warnings.push(m),
        });
        return { ok: true, width: image.width, height: image.height, data: [...image.data], warnings };
      } catch (e) {
        return { ok: false, name: (e as Error).name, message: (e as Error).message, warnings };
      }
    },
    `${server.origin}/${OUT}/decode_browser.js`,
    input,
    options,
  );
}

describe('loadImageBrowser checks the pixel limit before decoding', () => {
  for (const [format, make] of Object.entries(HEADER_ONLY)) {
    it(`a ${format} Blob declaring 16383x16383: ImageLimitError naming it, nothing decoded`, async () => {
      const r = await load({ blob: [...make(16_383, 16_383)] }, { source: `bomb ${format}` });
      expect(r).toMatchObject({ ok: false, name: 'ImageLimitError' });
      expect(r.message).toBe(
        `bomb ${format}: image size 16383x16383 (268402689 pixels) exceeds the limit of ${MAX_IMAGE_PIXELS_ERROR} pixels, could be a decompression bomb (maxPixels sets the limit; Infinity removes it)`,
      );
    });
  }

  it('a File is named by its file name, a URL by itself', async () => {
    const r = await load({ blob: [...HEADER_ONLY.png(100_000, 100_000)], name: 'holiday.png' });
    expect(r.message).toMatch(/^holiday\.png: image size 100000x100000/);
    const dataUrl = `data:image/gif;base64,${Buffer.from(HEADER_ONLY.gif(60_000, 60_000)).toString('base64')}`;
    const u = await load({ url: dataUrl });
    expect(u.name).toBe('ImageLimitError');
    expect(u.message?.startsWith(`${dataUrl}: image size 60000x60000`)).toBe(true);
    // A long URL is shortened to 80 characters in the name.
    const long = await load({ url: `${dataUrl}#${'x'.repeat(100)}` });
    expect(long.message).toMatch(/^data:image\/gif;base64,.{55}\.\.\.: image size 60000x60000/);
  });

  it('a 12x10 PNG: a warning above maxPixels 100, then decoded; refused at 59; Infinity: neither', async () => {
    const png = [...solidPng(12, 10, 7)];
    const warned = await load({ blob: png }, { maxPixels: 100, source: 'small.png' });
    expect(warned).toMatchObject({ ok: true, width: 12, height: 10 });
    expect(warned.data?.every((v) => v === 7)).toBe(true);
    expect(warned.warnings).toEqual([
      'small.png: image size 12x10 (120 pixels) exceeds the limit of 100 pixels, could be a decompression bomb (maxPixels sets the limit; Infinity removes it)',
    ]);
    const refused = await load({ blob: png }, { maxPixels: 59, source: 'small.png' });
    expect(refused).toMatchObject({ ok: false, name: 'ImageLimitError' });
    const open = await load({ blob: png }, { maxPixels: 'Infinity' });
    expect(open).toMatchObject({ ok: true, warnings: [] });
  });

  it('an <img> on its natural size, a canvas on its size', async () => {
    const url = `${server.origin}/test/fixtures/exif/orientation-1.jpg`;
    const img = await load({ img: url }, { maxPixels: 400 }); // 37 x 23 = 851
    expect(img).toMatchObject({ ok: false, name: 'ImageLimitError' });
    expect(img.message).toMatch(
      new RegExp(`^${url.replace(/[.]/g, '\\.')}: image size 37x23 \\(851 pixels\\)`),
    );
    expect(await load({ img: url })).toMatchObject({ ok: true, width: 37, height: 23 });
    const canvas = await load({ canvas: [20, 20] }, { maxPixels: 100 });
    expect(canvas).toMatchObject({ ok: false, name: 'ImageLimitError' });
    expect(canvas.message).toMatch(/^HTMLCanvasElement: image size 20x20/);
  });

  it('a format without a header reader (AVIF) is checked on the decoded bitmap, before the readback', async () => {
    const avif = await sharp({ create: { width: 12, height: 10, channels: 3, background: 'red' } })
      .avif()
      .toBuffer();
    const r = await load({ blob: [...avif], type: 'image/avif' }, { maxPixels: 59, source: 'photo.avif' });
    expect(r).toMatchObject({ ok: false, name: 'ImageLimitError' });
    expect(r.message).toMatch(/^photo\.avif: image size 12x10/);
  });

  it('a missing URL and bytes that are no image: ImageError naming them', async () => {
    const missing = `${server.origin}/test/fixtures/exif/missing.png`;
    expect(await load({ url: missing })).toMatchObject({
      ok: false,
      name: 'ImageError',
      message: `${missing}: HTTP 404`,
    });
    const junk = await load({ blob: [1, 2, 3, 4, 5, 6, 7, 8] });
    expect(junk).toMatchObject({ ok: false, name: 'ImageError' });
    expect(junk.message).toMatch(/^Blob \(no type, 8 bytes\): cannot decode/);
  });
});

describe('the browser applies EXIF orientation: Pillow exif_transpose pixels for orientations 1-8', () => {
  const ref = SafetensorsFile.parse(new Uint8Array(readFileSync('test/fixtures/exif/reference.safetensors')));
  for (let n = 1; n <= 8; n++) {
    it(`orientation ${n}`, async () => {
      const r = await load({ url: `${server.origin}/test/fixtures/exif/orientation-${n}.jpg` });
      expect(r).toMatchObject({ ok: true, width: 37, height: 23 });
      const want = ref.bytes(`oriented.${n}`);
      let maxDiff = 0;
      for (let i = 0; i < want.length; i++)
        maxDiff = Math.max(maxDiff, Math.abs((r.data?.[i] ?? -999) - want[i]));
      console.log(`orientation ${n}: max |browser - Pillow| = ${maxDiff} levels`);
      // Chromium's JPEG decoder (libjpeg-turbo inside Skia) may round a level away from Pillow's;
      // a wrong rotation or flip is off by far more (the image has a block and gradients).
      expect(maxDiff).toBeLessThanOrEqual(2);
    });
  }
});
