// The public image API in Node: every image kind Node accepts (path, file: and http: URLs as text
// and URL, data: URL, Buffer, Uint8Array, Blob, RgbImage) gives the pixel_values of the Node path
// (loadImageNode + preprocess) for the same pixels; processor(images) stacks a batch; EXIF
// orientation is applied by default (transformers' load_image) and not with auto_orient: false.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageNode } from '../../src/image/decode_node.js';
import { ImageError, ImageLimitError } from '../../src/image/errors.js';
import { type ImageInput, load_image } from '../../src/image/load_image.js';
import { BitImageProcessor } from '../../src/image/processor.js';
import { AutoImageProcessor } from '../../src/model/auto.js';
import { importOptional, MissingDependencyError } from '../../src/optional_dependency.js';
import { listenOnLoopback, REPO_ROOT, type StaticServer } from '../../tools/chromium.js';
import {
  ORIENTED_HEIGHT,
  ORIENTED_WIDTH,
  orientedJpeg,
  rotate90cw,
  storedPixels,
} from '../helpers/oriented_jpeg.js';

const PNG = join(REPO_ROOT, 'test/fixtures/preprocess/img1-300x500.png');
const TINY = join(REPO_ROOT, 'weights/tiny-dinov2-with-registers');

let server: StaticServer;
let reference: Float32Array;
const processor = new BitImageProcessor();

beforeAll(async () => {
  const bytes = readFileSync(PNG);
  const log: string[] = [];
  server = await listenOnLoopback(
    createServer((req, res) => {
      log.push(`${req.method} ${req.url}`);
      res.writeHead(req.url === '/image.png' ? 200 : 404, { 'content-type': 'image/png' });
      res.end(req.url === '/image.png' ? bytes : undefined);
    }),
    log,
  );
  reference = processor.preprocess(await loadImageNode(PNG)).pixel_values;
});

afterAll(() => server?.close());

/** The first index where the two differ (-1: none); expect's deep equality is slow on 150k floats. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

describe('load_image and processor(images) in Node', () => {
  it('every Node image kind gives the pixel_values of the Node path', async () => {
    const bytes = new Uint8Array(readFileSync(PNG));
    const kinds: Record<string, ImageInput> = {
      path: PNG,
      'file: URL text': pathToFileURL(PNG).href,
      'file: URL': pathToFileURL(PNG),
      'http URL text': `${server.origin}/image.png`,
      'http URL': new URL(`${server.origin}/image.png`),
      'data: URL': `data:image/png;base64,${Buffer.from(bytes).toString('base64')}`,
      Buffer: readFileSync(PNG),
      Uint8Array: bytes,
      Blob: new Blob([bytes]),
      RgbImage: await loadImageNode(PNG),
    };
    for (const [kind, input] of Object.entries(kinds)) {
      const { pixel_values } = await processor(input);
      expect(pixel_values.dims, kind).toEqual([1, 3, 224, 224]);
      expect(firstDifference(pixel_values.data, reference), kind).toBe(-1);
    }
    const { pixel_values } = await processor(Object.values(kinds));
    const n = Object.keys(kinds).length;
    expect(pixel_values.dims).toEqual([n, 3, 224, 224]);
    for (let i = 0; i < n; i++)
      expect(
        firstDifference(
          pixel_values.data.subarray(i * reference.length, (i + 1) * reference.length),
          reference,
        ),
      ).toBe(-1);
  });

  it('AutoImageProcessor.from_pretrained reads preprocessor_config.json and is callable', async () => {
    const auto = await AutoImageProcessor.from_pretrained(TINY);
    expect(auto).toBeInstanceOf(BitImageProcessor);
    expect(auto.config).toEqual(processor.config);
    expect(firstDifference((await auto(PNG)).pixel_values.data, reference)).toBe(-1);
  });

  it('applies the EXIF orientation by default, and not with auto_orient: false', async () => {
    const jpeg = await orientedJpeg(6);
    const stored = await load_image(jpeg, { auto_orient: false });
    expect([stored.width, stored.height]).toEqual([ORIENTED_WIDTH, ORIENTED_HEIGHT]);
    // Flat 8x8 blocks decode exactly.
    expect(stored.data).toEqual(storedPixels().data);
    const shown = await load_image(jpeg);
    const turned = rotate90cw(stored);
    // (A decoded image also names its source, for the processor's errors.)
    expect({ width: shown.width, height: shown.height, data: shown.data }).toEqual({
      width: turned.width,
      height: turned.height,
      data: turned.data,
    });
  });

  it('names the input in its errors', async () => {
    await expect(load_image(join(REPO_ROOT, 'no-such-image.png'))).rejects.toThrow(/no-such-image\.png/);
    await expect(load_image(`${server.origin}/missing.png`)).rejects.toThrow(/missing\.png: .*404/);
    await expect(load_image({} as ImageInput)).rejects.toBeInstanceOf(ImageError);
    await expect(processor([])).rejects.toThrow(/no images/);
    // Different sizes out of a processor that does not crop cannot be one batch.
    const noCrop = new BitImageProcessor({ do_center_crop: false });
    await expect(noCrop([PNG, join(REPO_ROOT, 'test/fixtures/preprocess/img0-640x480.png')])).rejects.toThrow(
      /one batch needs one size/,
    );
  });

  it('passes the pixel limit to the decoder: maxPixels, and Infinity for none', async () => {
    // 300 x 500 = 150,000 pixels: refused above twice 70,000, a warning above 100,000.
    await expect(load_image(PNG, { maxPixels: 70_000 })).rejects.toThrow(ImageLimitError);
    const warnings: string[] = [];
    const img = await load_image(PNG, { maxPixels: 100_000, onWarning: (w) => warnings.push(w) });
    expect([img.width, img.height, warnings.length]).toEqual([300, 500, 1]);
    expect(warnings[0]).toMatch(/img1-300x500\.png: image size 300x500 \(150000 pixels\)/);
    await expect(load_image(PNG, { maxPixels: Infinity })).resolves.toMatchObject({ width: 300 });
  });

  it('a missing optional dependency is an error naming the package', async () => {
    const name = 'dinov2-webgpu-no-such-package';
    await expect(importOptional(name, () => import(name), 'testing')).rejects.toThrow(
      new MissingDependencyError(
        `dinov2-webgpu needs the package ${name} for testing in Node; it is an optional dependency that was not installed (npm install ${name})`,
      ),
    );
  });
});
