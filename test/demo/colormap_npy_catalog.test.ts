// The demo's colouring, its .npy and .json downloads, and its model catalogue.
import { describe, expect, it } from 'vitest';
import { bundledEntry, hubEntries, twinOf } from '../../demo/src/catalog.js';
import { folderName, looksLikeCheckpoint } from '../../demo/src/local_files.js';
import { nearestStep, scalarToRgba, step, valueRange, VIRIDIS } from '../../demo/src/views/colormap.js';
import { embeddingsJson } from '../../demo/src/views/embeddings.js';
import { fromNpy, toNpy } from '../../demo/src/views/npy.js';
import { tokenLayout } from '../../demo/src/views/tokens.js';

describe('viridis', () => {
  it("is a fit of matplotlib's viridis: within 4 levels at five of its stops", () => {
    const at = (s: number) => Array.from(VIRIDIS.subarray(s * 3, s * 3 + 3));
    const close = (got: number[], want: number[]) =>
      got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(4));
    close(at(0), [68, 1, 84]); // #440154
    close(at(64), [59, 82, 139]); // #3b528b
    close(at(128), [33, 145, 140]); // #21918c
    close(at(192), [94, 201, 98]); // #5ec962
    close(at(255), [253, 231, 37]); // #fde725
  });
  it('is one-to-one: every step is read back from its colour', () => {
    for (let s = 0; s < 256; s++)
      expect(nearestStep(VIRIDIS[s * 3], VIRIDIS[s * 3 + 1], VIRIDIS[s * 3 + 2])).toBe(s);
  });
  it('scalarToRgba: min-max to 256 steps, opaque; a flat map is step 0; NaN is step 0', () => {
    const { rgba, range } = scalarToRgba([2, 4, 3, NaN]);
    expect(range).toEqual({ min: 2, max: 4 });
    expect([step(2, range), step(4, range), step(3, range), step(NaN, range)]).toEqual([0, 255, 128, 0]);
    expect(Array.from(rgba.subarray(4, 8))).toEqual([...VIRIDIS.subarray(255 * 3, 256 * 3), 255]);
    expect(Array.from(rgba.filter((_, i) => i % 4 === 3))).toEqual([255, 255, 255, 255]);
    expect(step(5, valueRange([5, 5]))).toBe(0);
    expect(valueRange([])).toEqual({ min: 0, max: 0 });
  });
});

describe('.npy download', () => {
  it("writes numpy's v1.0 header, 64-byte aligned, little-endian float32", () => {
    const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i / 7 - 1);
    const bytes = toNpy(data, [2, 3, 4]);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 78, 85, 77, 80, 89, 1, 0]);
    const headerLength = bytes[8] | (bytes[9] << 8);
    expect((10 + headerLength) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3, 4\), \} *\n$/);
    expect(bytes.length).toBe(10 + headerLength + data.byteLength);
    const back = fromNpy(bytes);
    expect(back.shape).toEqual([2, 3, 4]);
    expect(back.data).toEqual(data);
  });
  it('a 1-d shape is written as a one-tuple', () => {
    const bytes = toNpy(new Float32Array(5), [5]);
    expect(new TextDecoder().decode(bytes.subarray(10, 70))).toContain("'shape': (5,)");
    expect(fromNpy(bytes).shape).toEqual([5]);
  });
  it('refuses a shape that does not match the data', () => {
    expect(() => toNpy(new Float32Array(5), [2, 3])).toThrow(/needs 6 values/);
  });
});

describe('.json download', () => {
  it('splits last_hidden_state into pooler_output, registers and patches', () => {
    const layout = tokenLayout(2, 2, 3); // 9 tokens
    const d = 2;
    const hidden = Float32Array.from({ length: 9 * d }, (_, i) => i);
    const j = embeddingsJson('m', 'img.png', hidden, [1, 9, d], layout);
    expect(j.pooler_output).toEqual([0, 1]);
    expect(j.register_tokens).toEqual([
      [2, 3],
      [4, 5],
    ]);
    expect(j.patch_tokens).toEqual([
      [6, 7],
      [8, 9],
      [10, 11],
      [12, 13],
      [14, 15],
      [16, 17],
    ]);
    expect(j.patch_mean).toEqual([11, 12]);
    expect(j.layout).toMatchObject({ tokens: 9, registers: 2, grid: [2, 3], hidden_size: 2 });
    expect(() => embeddingsJson('m', 'i', hidden, [1, 8, d], layout)).toThrow(/9 tokens/);
  });
});

describe('model catalogue', () => {
  it('offers the four hub checkpoints and their ImageNet classifiers', () => {
    expect(hubEntries().map((e) => e.id)).toEqual([
      'facebook/dinov2-with-registers-small',
      'facebook/dinov2-with-registers-base',
      'facebook/dinov2-with-registers-large',
      'facebook/dinov2-with-registers-giant',
      'facebook/dinov2-with-registers-small-imagenet1k-1-layer',
      'facebook/dinov2-with-registers-base-imagenet1k-1-layer',
      'facebook/dinov2-with-registers-large-imagenet1k-1-layer',
      'facebook/dinov2-with-registers-giant-imagenet1k-1-layer',
    ]);
    expect(hubEntries().filter((e) => e.classifier).length).toBe(4);
    expect(bundledEntry('tiny', 'x').key).toBe('bundled:tiny');
  });
  it('pairs every checkpoint with its twin without registers, both ways', () => {
    const pairs: [string, string][] = [
      ['facebook/dinov2-with-registers-small', 'facebook/dinov2-small'],
      ['facebook/dinov2-with-registers-giant-imagenet1k-1-layer', 'facebook/dinov2-giant-imagenet1k-1-layer'],
      ['tiny-dinov2-with-registers', 'tiny-dinov2'],
    ];
    for (const [reg, plain] of pairs) {
      expect(twinOf(reg)).toBe(plain);
      expect(twinOf(plain)).toBe(reg);
    }
    expect(twinOf('my-vit')).toBeUndefined();
  });
});

describe('local files', () => {
  it('recognise a checkpoint among dropped files', () => {
    const f = (name: string) => new File(['{}'], name);
    expect(looksLikeCheckpoint([f('config.json'), f('model.safetensors')])).toBe(true);
    expect(
      looksLikeCheckpoint([
        f('config.json'),
        f('model.safetensors.index.json'),
        f('model-00001-of-00002.safetensors'),
      ]),
    ).toBe(true);
    expect(looksLikeCheckpoint([f('model.safetensors')])).toBe(false);
    expect(looksLikeCheckpoint([f('cat.png')])).toBe(false);
  });
  it('name a picked folder from its files (dropped files carry no folder)', () => {
    const picked = new File(['{}'], 'config.json');
    Object.defineProperty(picked, 'webkitRelativePath', { value: 'my-checkpoint/config.json' });
    expect(folderName([picked])).toBe('my-checkpoint');
    expect(folderName([new File(['{}'], 'config.json')])).toBe('picked files');
    expect(folderName([], 'dropped')).toBe('dropped');
  });
});
