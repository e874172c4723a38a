// Image files written byte by byte: a real PNG from raw rows, and files whose header declares
// any size but which hold (almost) no pixel data, to check limits on the header alone.
import { crc32, deflateSync } from 'node:zlib';

function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0);
  return Buffer.concat([head, data, crc]);
}

// An 8-bit RGBA PNG (colour type 6) whose IDAT is `idat` (zlib stream of filtered rows).
export function pngFile(width: number, height: number, idat: Uint8Array): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return new Uint8Array(
    Buffer.concat([
      Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
      pngChunk('IHDR', ihdr),
      pngChunk('IDAT', idat),
      pngChunk('IEND', new Uint8Array(0)),
    ]),
  );
}

// A real width x height RGBA PNG, every sample `value`.
export function solidPng(width: number, height: number, value = 7): Uint8Array {
  const stride = 1 + width * 4;
  const rows = Buffer.alloc(height * stride, value);
  for (let y = 0; y < height; y++) rows[y * stride] = 0; // filter: none
  return pngFile(width, height, deflateSync(rows));
}

const u16le = (v: number) => [v & 0xff, v >> 8];
const u16be = (v: number) => [v >> 8, v & 0xff];
const u24le = (v: number) => [v & 0xff, (v >> 8) & 0xff, v >> 16];
const u32le = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

// Headers only: each declares width x height (within the format's own maximum) and stops there.
export const HEADER_ONLY = {
  png: (w: number, h: number) => pngFile(w, h, new Uint8Array([0x78, 0x9c, 0x03, 0x00])),
  // SOI, an APP1 segment to skip, SOF0 (8-bit, 3 components), then EOI: no scan.
  jpeg: (w: number, h: number) =>
    new Uint8Array([
      0xff,
      0xd8,
      0xff,
      0xe1,
      ...u16be(8),
      ...ascii('Exif\0\0'),
      0xff,
      0xc0,
      ...u16be(17),
      8,
      ...u16be(h),
      ...u16be(w),
      3,
      1,
      0x11,
      0,
      2,
      0x11,
      0,
      3,
      0x11,
      0,
      0xff,
      0xd9,
    ]),
  gif: (w: number, h: number) =>
    new Uint8Array([...ascii('GIF89a'), ...u16le(w), ...u16le(h), 0, 0, 0, 0x3b]),
  bmp: (w: number, h: number) =>
    new Uint8Array([
      ...ascii('BM'),
      ...u32le(54),
      0,
      0,
      0,
      0,
      ...u32le(54),
      ...u32le(40),
      ...u32le(w),
      ...u32le(-h),
      1,
      0,
      24,
      0,
      ...new Array(24).fill(0),
    ]),
  'webp (VP8)': (w: number, h: number) =>
    new Uint8Array([
      ...ascii('RIFF'),
      ...u32le(22),
      ...ascii('WEBPVP8 '),
      ...u32le(10),
      0x10,
      0x02,
      0x00,
      0x9d,
      0x01,
      0x2a,
      ...u16le(w),
      ...u16le(h),
    ]),
  'webp (VP8L)': (w: number, h: number) => {
    const bits = (w - 1) | ((h - 1) << 14); // then alpha hint and version 0
    return new Uint8Array([
      ...ascii('RIFF'),
      ...u32le(17),
      ...ascii('WEBPVP8L'),
      ...u32le(5),
      0x2f,
      ...u32le(bits >>> 0),
    ]);
  },
  'webp (VP8X)': (w: number, h: number) =>
    new Uint8Array([
      ...ascii('RIFF'),
      ...u32le(22),
      ...ascii('WEBPVP8X'),
      ...u32le(10),
      0,
      0,
      0,
      0,
      ...u24le(w - 1),
      ...u24le(h - 1),
    ]),
};
