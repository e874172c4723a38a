// The decompression-bomb limit (Pillow's MAX_IMAGE_PIXELS: a warning above it, an error above
// twice it), checked on the header before any pixel is decoded, and the header reader the
// browser loader checks it with. The header-only files declare a size but hold no pixel data:
// had the loader decoded them it would fail with a decode error, not the limit's ImageLimitError.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadImageNode } from '../../src/image/decode_node.js';
import { ImageError, ImageLimitError } from '../../src/image/errors.js';
import { readImageHeader } from '../../src/image/header.js';
import { checkPixelLimit, MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS_ERROR } from '../../src/image/limits.js';
import { HEADER_ONLY, solidPng } from './image_headers.js';

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const png = (width: number, height: number) => solidPng(width, height);

describe("the pixel limit is Pillow's", () => {
  it('defaults: Image.MAX_IMAGE_PIXELS = 1024^3 // 4 // 3 (warning), twice that (error)', () => {
    expect(MAX_IMAGE_PIXELS).toBe(Math.floor(1024 ** 3 / 4 / 3));
    expect(MAX_IMAGE_PIXELS).toBe(89_478_485);
    expect(MAX_IMAGE_PIXELS_ERROR).toBe(178_956_970);
  });

  it('boundaries: a warning above maxPixels, an error above twice it; Infinity disables; bad limits refused', () => {
    const warnings: string[] = [];
    const check = (w: number, h: number, max: number) =>
      checkPixelLimit(w, h, 'x.png', max, (m) => warnings.push(m));
    check(10, 10, 100);
    expect(warnings).toEqual([]);
    check(101, 1, 100);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^x\.png: image size 101x1 \(101 pixels\) exceeds the limit of 100 pixels/);
    check(200, 1, 100); // exactly twice: still a warning
    expect(warnings).toHaveLength(2);
    expect(() => check(201, 1, 100)).toThrow(ImageLimitError);
    expect(() => check(201, 1, 100)).toThrow(
      /^x\.png: image size 201x1 \(201 pixels\) exceeds the limit of 200 pixels/,
    );
    check(0, 150, 100); // Pillow counts max(1, w) * max(1, h)
    expect(warnings).toHaveLength(3);
    check(1e9, 1e9, Number.POSITIVE_INFINITY);
    expect(warnings).toHaveLength(3);
    for (const bad of [0, -1, Number.NaN]) expect(() => check(1, 1, bad)).toThrow(RangeError);
  });
});

describe('loadImageNode checks the limit on the header, before decoding', () => {
  // Sizes above twice the default limit, within each format's own maximum.
  const huge: [keyof typeof HEADER_ONLY, number, number][] = [
    ['png', 100_000, 100_000],
    ['jpeg', 60_000, 60_000],
    ['gif', 65_535, 65_535],
    ['webp (VP8)', 16_383, 16_383],
    ['webp (VP8L)', 16_384, 16_384],
    ['webp (VP8X)', 1_000_000, 1_000],
  ];
  for (const [format, w, h] of huge) {
    it(`${format} declaring ${w}x${h}: ImageLimitError naming the file, nothing decoded`, async () => {
      const before = process.resourceUsage().maxRSS; // kilobytes, the peak so far
      const e = await rejection(loadImageNode(HEADER_ONLY[format](w, h), { source: `bomb.${format}` }));
      expect((process.resourceUsage().maxRSS - before) / 1024, 'peak memory growth, MiB').toBeLessThan(64);
      expect(e).toBeInstanceOf(ImageLimitError);
      expect(e.message).toBe(
        `bomb.${format}: image size ${w}x${h} (${w * h} pixels) exceeds the limit of ${MAX_IMAGE_PIXELS_ERROR} pixels, could be a decompression bomb (maxPixels sets the limit; Infinity removes it)`,
      );
      expect((e as ImageLimitError).pixels).toBe(w * h);
    });
  }

  it('above the warning limit: a warning naming the file, then the decode (here failing, naming the file)', async () => {
    const warnings: string[] = [];
    const e = await rejection(
      loadImageNode(HEADER_ONLY.png(10_000, 9_000), {
        source: 'big.png',
        onWarning: (m) => warnings.push(m),
      }),
    );
    expect(warnings).toEqual([
      `big.png: image size 10000x9000 (90000000 pixels) exceeds the limit of ${MAX_IMAGE_PIXELS} pixels, could be a decompression bomb (maxPixels sets the limit; Infinity removes it)`,
    ]);
    expect(e).toBeInstanceOf(ImageError);
    expect(e).not.toBeInstanceOf(ImageLimitError);
    expect(e.message).toMatch(/^big\.png: /);
  });

  it('the warning goes to process.emitWarning by default, as a DecompressionBombWarning', async () => {
    const seen: Error[] = [];
    const listener = (w: Error) => seen.push(w);
    process.on('warning', listener);
    try {
      await loadImageNode(png(12, 10), { maxPixels: 100 });
      await new Promise((r) => setTimeout(r, 0)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', listener);
    }
    expect(seen.map((w) => [w.name, w.message])).toEqual([
      [
        'DecompressionBombWarning',
        expect.stringMatching(/^image \(\d+ bytes\): image size 12x10 \(120 pixels\)/),
      ],
    ]);
  });

  it('maxPixels is configurable: a 12x10 image warns above 100, decodes; is refused at 59', async () => {
    const warnings: string[] = [];
    const onWarning = (m: string) => warnings.push(m);
    const img = await loadImageNode(png(12, 10), { maxPixels: 100, onWarning, source: 'small.png' });
    expect([img.width, img.height, img.data[0]]).toEqual([12, 10, 7]);
    expect(warnings).toHaveLength(1);
    await loadImageNode(png(12, 10), { maxPixels: 60, onWarning }); // 120 = 2 * 60: a warning
    expect(warnings).toHaveLength(2);
    const e = await rejection(loadImageNode(png(12, 10), { maxPixels: 59, onWarning, source: 'small.png' }));
    expect(e).toBeInstanceOf(ImageLimitError);
    expect(e.message).toMatch(/^small\.png: image size 12x10 \(120 pixels\) exceeds the limit of 118 pixels/);
    await loadImageNode(png(12, 10), { maxPixels: 120, onWarning });
    await loadImageNode(png(12, 10), { maxPixels: 1e300, onWarning }); // beyond what sharp's own limit takes
    expect(warnings).toHaveLength(2);
  });

  it("a format the header reader does not know (TIFF) is checked on sharp's metadata()", async () => {
    const tiff = await sharp({ create: { width: 12, height: 10, channels: 3, background: 'red' } })
      .tiff()
      .toBuffer();
    expect(readImageHeader(tiff)).toBeUndefined();
    const e = await rejection(loadImageNode(new Uint8Array(tiff), { maxPixels: 59, source: 'scan.tiff' }));
    expect(e).toBeInstanceOf(ImageLimitError);
    expect(e.message).toMatch(/^scan\.tiff: image size 12x10 \(120 pixels\)/);
    expect((await loadImageNode(new Uint8Array(tiff))).width).toBe(12);
  });

  it('maxPixels: Infinity removes the limit (sharp then tries to decode: a decode error, no limit error)', async () => {
    const warnings: string[] = [];
    const e = await rejection(
      loadImageNode(HEADER_ONLY.png(20_000, 10_000), {
        maxPixels: Number.POSITIVE_INFINITY,
        source: 'open.png',
        onWarning: (m) => warnings.push(m),
      }),
    );
    expect(warnings).toEqual([]);
    expect(e).toBeInstanceOf(ImageError);
    expect(e).not.toBeInstanceOf(ImageLimitError);
    expect(e.message).toMatch(/^open\.png: /);
  });
});

describe('every image error names its file', () => {
  it('a missing file, a corrupt file, an unsupported format, bytes that are no image', async () => {
    const missing = await rejection(loadImageNode('test/fixtures/no/such.png'));
    expect(missing).toBeInstanceOf(ImageError);
    expect(missing.message).toBe('test/fixtures/no/such.png: no such file');
    expect((missing as ImageError).source).toBe('test/fixtures/no/such.png');

    const truncated = png(30, 30).subarray(0, 60);
    expect((await rejection(loadImageNode(truncated, { source: 'cut.png' }))).message).toMatch(/^cut\.png: /);
    // sharp has no BMP decoder: the format is unsupported, and the message says which file.
    const bmp = await rejection(loadImageNode(HEADER_ONLY.bmp(4, 4), { source: 'old.bmp' }));
    expect(bmp).toBeInstanceOf(ImageError);
    expect(bmp.message).toMatch(/^old\.bmp: .*unsupported image format/);
    const junk = await rejection(loadImageNode(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])));
    expect(junk.message).toMatch(/^image \(8 bytes\): /);
  });

  it('an http(s) URL: an HTTP error, or a body that is no image, names the URL', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/junk.png') res.end('not a png');
      else res.writeHead(404).end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const missing = await rejection(loadImageNode(`${origin}/gone.png`));
      expect(missing).toBeInstanceOf(ImageError);
      expect(missing.message).toBe(`${origin}/gone.png: HTTP 404`);
      const junk = await rejection(loadImageNode(`${origin}/junk.png`));
      expect(junk).toBeInstanceOf(ImageError);
      expect(junk.message.startsWith(`${origin}/junk.png: `)).toBe(true);
    } finally {
      server.close();
    }
  });
});

describe('readImageHeader (the browser loader reads sizes with it before decoding)', () => {
  it('reads the size of every format from a header-only file, and nothing from a cut one', () => {
    const formats = { png: 'png', jpeg: 'jpeg', gif: 'gif', bmp: 'bmp' } as Record<string, string>;
    for (const [name, make] of Object.entries(HEADER_ONLY)) {
      for (const [w, h] of [
        [1, 1],
        [37, 23],
        [16_383, 9_000],
      ]) {
        const file = make(w, h);
        expect(readImageHeader(file), `${name} ${w}x${h}`).toEqual({
          format: formats[name] ?? 'webp',
          width: w,
          height: h,
        });
        // One byte short of the size.
        const cut = {
          png: 23,
          gif: 9,
          bmp: 25,
          jpeg: 20,
          'webp (VP8)': 29,
          'webp (VP8L)': 24,
          'webp (VP8X)': 29,
        }[name];
        expect(readImageHeader(file.subarray(0, cut)), `${name} cut`).toBeUndefined();
      }
    }
    expect(readImageHeader(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });

  it('agrees with the decoder on real files: PNG, JPEG (EXIF, progressive, CMYK), WebP, GIF', async () => {
    const dir = 'test/fixtures/preprocess/pil/decode';
    const files: [string, Uint8Array][] = readdirSync(dir).map((f) => [
      f,
      new Uint8Array(readFileSync(`${dir}/${f}`)),
    ]);
    const rgb = { width: 13, height: 7, channels: 3 as const, background: { r: 1, g: 2, b: 3 } };
    files.push(['made.gif', new Uint8Array(await sharp({ create: rgb }).gif().toBuffer())]);
    files.push([
      'made.webp',
      new Uint8Array(await sharp({ create: rgb }).webp({ lossless: true }).toBuffer()),
    ]);
    files.push([
      'alpha.webp',
      new Uint8Array(
        await sharp({ create: { ...rgb, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.5 } } })
          .webp()
          .toBuffer(),
      ),
    ]);
    expect(files.length).toBeGreaterThanOrEqual(20);
    for (const [name, bytes] of files) {
      const meta = await sharp(bytes).metadata();
      expect(readImageHeader(bytes), name).toMatchObject({ width: meta.width, height: meta.height });
    }
  });
});
