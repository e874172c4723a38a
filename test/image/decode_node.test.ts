import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadImageNode } from '../../src/image/decode_node.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';

const DIR = 'test/fixtures/preprocess';
const read = (path: string) => SafetensorsFile.parse(new Uint8Array(readFileSync(path)), path);

function countDiffs(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('loadImageNode gives the golden rgb of every preprocess PNG', () => {
  const cases = (JSON.parse(readFileSync(`${DIR}/cases.json`, 'utf8')) as { cases: { name: string }[] })
    .cases;
  for (const { name } of cases) {
    it(name, async () => {
      const img = await loadImageNode(`${DIR}/${name}.png`);
      const rgb = read(`${DIR}/${name}.safetensors`);
      const [h, w] = rgb.info('rgb').shape;
      expect([img.width, img.height]).toEqual([w, h]);
      expect(countDiffs(img.data, rgb.bytes('rgb'))).toBe(0);
    });
  }

  it('reads bytes as it reads a path', async () => {
    const name = cases[0].name;
    const fromBytes = await loadImageNode(new Uint8Array(readFileSync(`${DIR}/${name}.png`)));
    expect(countDiffs(fromBytes.data, read(`${DIR}/${name}.safetensors`).bytes('rgb'))).toBe(0);
  });

  it('rejects what is not an image', async () => {
    await expect(loadImageNode(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).rejects.toThrow();
  });
});

// Files and PIL's `np.array(Image.open(f).convert('RGB'))` made by
// test/fixtures/preprocess/pil/make_pil_fixtures.py (see PROVENANCE.md).
describe("loadImageNode equals PIL's Image.open(f).convert('RGB')", () => {
  const ref = read(`${DIR}/pil/decode.safetensors`);
  const modes = new Map(
    (JSON.parse(ref.header.metadata.modes ?? '[]') as { file: string; mode: string }[]).map((m) => [
      m.file,
      m.mode,
    ]),
  );
  const why: Record<string, string> = {
    'rgba.png': 'alpha dropped, not composited',
    'la.png': 'grey copied to R, G, B; alpha dropped',
    'lossless_alpha.webp': 'alpha dropped, colour under transparent pixels kept',
    'palette_trns.png': 'palette looked up, transparency dropped',
    'bilevel.png': '1-bit to 0/255',
    'rgb16.png': '16-bit colour keeps the high byte',
    'rgba16.png': '16-bit colour keeps the high byte',
    'la16.png': '16-bit grey+alpha keeps the high byte',
    'grey16.png': '16-bit grey (I;16) clipped to 255',
    'cmyk.jpg': "PIL's naive cmyk2rgb, no colour management",
    'icc_swapped.png': 'embedded ICC profile ignored',
    'exif6.jpg': 'EXIF orientation ignored',
    'exif6.jpg:exif_transpose': 'EXIF orientation applied on request, as transformers load_image does',
  };
  it('has the cases', () => expect(ref.names.length).toBeGreaterThanOrEqual(19));
  for (const key of ref.names) {
    const [file, variant] = key.split(':');
    it(`${key} (PIL mode ${modes.get(file)}${why[key] ? `: ${why[key]}` : ''})`, async () => {
      const img = await loadImageNode(`${DIR}/pil/decode/${file}`, {
        autoOrient: variant === 'exif_transpose',
      });
      const [h, w] = ref.info(key).shape;
      expect([img.width, img.height]).toEqual([w, h]);
      expect(countDiffs(img.data, ref.bytes(key))).toBe(0);
    });
  }
});
