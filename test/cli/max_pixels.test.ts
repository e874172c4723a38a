// --max-pixels: Pillow's decompression-bomb limit from the command line, on the main thread
// (preprocess) and in embed's decoding threads; a bad value is a usage error.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './run.js';

const IMAGE = 'test/fixtures/preprocess/img2-224x224.png'; // 50,176 pixels
const TINY = 'weights/tiny-dinov2-with-registers';
const work = mkdtempSync(join(tmpdir(), 'dinov2-max-pixels-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('--max-pixels', () => {
  it('preprocess: an image above twice the limit is refused by name, nothing written', async () => {
    const out = join(work, 'p.safetensors');
    const r = await cli(['preprocess', IMAGE, '--max-pixels', '20000', '--output', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /img2-224x224\.png: image size 224x224 \(50176 pixels\) exceeds the limit of 40000 pixels/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('preprocess: above the limit but not twice it, a warning and the output; Infinity: no limit', async () => {
    const warned = await cli([
      'preprocess',
      IMAGE,
      '--max-pixels',
      '30000',
      '--output',
      join(work, 'w.safetensors'),
    ]);
    expect(warned.status, warned.stderr).toBe(0);
    expect(warned.stderr).toMatch(/DecompressionBombWarning: .*exceeds the limit of 30000 pixels/);
    const free = await cli([
      'preprocess',
      IMAGE,
      '--max-pixels',
      'Infinity',
      '--output',
      join(work, 'i.safetensors'),
    ]);
    expect(free.status, free.stderr).toBe(0);
    expect(free.stderr).not.toMatch(/DecompressionBomb/);
  });

  it('embed: the limit reaches the decoding threads', async () => {
    const r = await cli([
      'embed',
      IMAGE,
      '--model',
      TINY,
      '--max-pixels',
      '20000',
      '--output',
      join(work, 'e.npy'),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/img2-224x224\.png: image size 224x224/);
  });

  it('a value that is not a positive number of pixels is a usage error', async () => {
    for (const v of ['0', '-5', 'many', '1.5']) {
      const r = await cli(['preprocess', IMAGE, '--max-pixels', v, '--output', join(work, 'u.safetensors')]);
      expect(r.status, v).toBe(2);
      expect(r.stderr).toMatch(/--max-pixels .*a positive whole number of pixels, or Infinity/);
    }
  });
});
