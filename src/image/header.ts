// The size an image file declares in its header, read without decoding it: PNG, JPEG, GIF, WebP
// and BMP. The browser loader checks the pixel limit on it before the browser decodes anything
// (in Node, sharp's metadata() reads headers). Nothing here touches the DOM or Node.

export interface ImageHeader {
  format: 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp';
  width: number;
  height: number;
}

const startsWith = (b: Uint8Array, at: number, text: string) => {
  if (b.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
};

// The declared size, or undefined for another format or a header cut short. `bytes` need only
// hold the start of the file (a JPEG's size comes after its metadata segments, EXIF included).
export function readImageHeader(bytes: Uint8Array): ImageHeader | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  // PNG: signature, then IHDR (width, height: uint32 BE).
  if (startsWith(bytes, 0, '\x89PNG\r\n\x1a\n') && startsWith(bytes, 12, 'IHDR') && n >= 24)
    return { format: 'png', width: v.getUint32(16), height: v.getUint32(20) };
  // GIF: the logical screen (uint16 LE), the canvas every frame is drawn on.
  if ((startsWith(bytes, 0, 'GIF87a') || startsWith(bytes, 0, 'GIF89a')) && n >= 10)
    return { format: 'gif', width: v.getUint16(6, true), height: v.getUint16(8, true) };
  // BMP: BITMAPCOREHEADER (12 bytes: uint16 sizes) or a later header (int32; height < 0 is top-down).
  if (startsWith(bytes, 0, 'BM') && n >= 26) {
    if (v.getUint32(14, true) === 12)
      return { format: 'bmp', width: v.getUint16(18, true), height: v.getUint16(20, true) };
    return { format: 'bmp', width: Math.abs(v.getInt32(18, true)), height: Math.abs(v.getInt32(22, true)) };
  }
  if (startsWith(bytes, 0, 'RIFF') && startsWith(bytes, 8, 'WEBP')) return webpHeader(bytes, v);
  if (n >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return jpegHeader(bytes, v);
  return undefined;
}

function webpHeader(bytes: Uint8Array, v: DataView): ImageHeader | undefined {
  const n = bytes.length;
  // Lossy: a VP8 key frame, 14-bit sizes after the start code 9d 01 2a.
  if (
    startsWith(bytes, 12, 'VP8 ') &&
    n >= 30 &&
    bytes[23] === 0x9d &&
    bytes[24] === 0x01 &&
    bytes[25] === 0x2a
  )
    return { format: 'webp', width: v.getUint16(26, true) & 0x3fff, height: v.getUint16(28, true) & 0x3fff };
  // Lossless: signature 0x2f, then width - 1 and height - 1 in 14 bits each (LSB first).
  if (startsWith(bytes, 12, 'VP8L') && n >= 25 && bytes[20] === 0x2f) {
    const bits = v.getUint32(21, true);
    return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  // Extended: the canvas, width - 1 and height - 1 in 24 bits LE.
  if (startsWith(bytes, 12, 'VP8X') && n >= 30) {
    const u24 = (at: number) => bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);
    return { format: 'webp', width: u24(24) + 1, height: u24(27) + 1 };
  }
  return undefined;
}

// JPEG: walk the marker segments to the first start-of-frame (SOFn: precision, height, width).
function jpegHeader(bytes: Uint8Array, v: DataView): ImageHeader | undefined {
  const n = bytes.length;
  let at = 2;
  while (at + 4 <= n) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // no length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // EOI, SOS: no frame header before
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (at + 9 > n) return undefined;
      const height = v.getUint16(at + 5);
      const width = v.getUint16(at + 7);
      return height > 0 ? { format: 'jpeg', width, height } : undefined; // 0: the size comes later (DNL)
    }
    at += 2 + v.getUint16(at + 2);
  }
  return undefined;
}
