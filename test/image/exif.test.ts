// EXIF orientation: loadImageNode with autoOrient (sharp's auto-orientation) + BitImageProcessor
// against Pillow's ImageOps.exif_transpose + transformers' processor, for all eight orientations
// of one 37x23 image (test/fixtures/exif, made by make_exif_fixtures.py; see its README.md).
//
// What is compared: the JPEGs are decoded by libjpeg-turbo on both sides (sharp's libvips and
// Pillow), so the decoded RGB is compared exactly, before and after orientation; pixel_values,
// computed from those bytes by each side's processor, exactly too.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadImageNode } from '../../src/image/decode_node.js';
import { BitImageProcessor, parseImageProcessorConfig } from '../../src/image/processor.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';

const DIR = 'test/fixtures/exif';
const ref = SafetensorsFile.parse(
  new Uint8Array(readFileSync(`${DIR}/reference.safetensors`)),
  'reference.safetensors',
);
const processor = new BitImageProcessor(
  parseImageProcessorConfig(JSON.parse(ref.header.metadata.processor ?? '{}'), 'reference processor'),
);

function differences(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('EXIF orientations 1-8 equal Pillow exif_transpose + the processor', () => {
  it('the fixtures are the eight orientations of one upright 37x23 image', () => {
    for (let n = 1; n <= 8; n++) {
      expect(ref.info(`oriented.${n}`).shape).toEqual([23, 37, 3]);
      expect(ref.info(`stored.${n}`).shape).toEqual(n >= 5 ? [37, 23, 3] : [23, 37, 3]);
    }
    // The stored pixels differ between orientations: ignoring the tag cannot pass the tests below.
    expect(differences(ref.bytes('stored.1'), ref.bytes('stored.2'))).toBeGreaterThan(1000);
  });

  for (let n = 1; n <= 8; n++) {
    it(`orientation ${n}: auto-orient gives exif_transpose's pixels and pixel_values`, async () => {
      const file = `${DIR}/orientation-${n}.jpg`;
      const img = await loadImageNode(file, { autoOrient: true });
      expect([img.height, img.width]).toEqual([23, 37]);
      expect(differences(img.data, ref.bytes(`oriented.${n}`))).toBe(0);
      const { pixel_values, dims } = processor.preprocess(img);
      expect(dims).toEqual(ref.info(`pixel_values.${n}`).shape);
      expect(dims).toEqual([1, 3, 18, 14]);
      expect(differences(pixel_values, ref.float32(`pixel_values.${n}`))).toBe(0);
    });

    it(`orientation ${n}: without auto-orient the stored orientation is kept`, async () => {
      const img = await loadImageNode(`${DIR}/orientation-${n}.jpg`, { autoOrient: false });
      const [h, w] = ref.info(`stored.${n}`).shape;
      expect([img.height, img.width]).toEqual([h, w]);
      expect(differences(img.data, ref.bytes(`stored.${n}`))).toBe(0);
    });
  }
});
