// preprocess --model DIR runs the processor its preprocessor_config.json names: DINOv3's gives the
// golden DINOv3 pixel_values, and a type this library does not implement is refused (it used to run
// DINOv2's processor quietly). The library's DINOv2 loaders refuse DINOv3's processor by name.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { DINOv3ViTImageProcessor } from '../../src/image/dinov3_processor.js';
import { BitImageProcessor } from '../../src/image/processor.js';
import { parseDinov3Config } from '../../src/io/config_dinov3.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { processorFor } from '../../src/model/auto.js';
import { cli } from './run.js';

const GOLDEN = 'test/fixtures/golden-dinov3/preprocess';
const work = mkdtempSync(join(tmpdir(), 'dinov2-preprocess-types-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function modelDir(name: string, config: Record<string, unknown>): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(config));
  return dir;
}

const { order: _order, ...dinov3Config } = JSON.parse(readFileSync(`${GOLDEN}/cases.json`, 'utf8')).processor;

/**
 * `preprocess --model DIR` on the golden DINOv3 image img5-120x90 (written as a PNG): the CLI's
 * result, the pixel_values' shape and their largest absolute difference from the golden ones.
 */
async function preprocessGoldenImage(dir: string, name: string) {
  const file = SafetensorsFile.parse(new Uint8Array(readFileSync(`${GOLDEN}/img5-120x90.safetensors`)));
  const image = join(work, `${name}.png`);
  await sharp(file.bytes('rgb'), { raw: { width: 120, height: 90, channels: 3 } })
    .png()
    .toFile(image);
  const out = join(work, `${name}.safetensors`);
  const r = await cli(['preprocess', image, '--model', dir, '--output', out]);
  expect(r.status, r.stderr).toBe(0);
  const got = SafetensorsFile.parse(new Uint8Array(readFileSync(out)));
  const mine = got.float32('pixel_values');
  const ref = file.float32('pixel_values');
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(mine[i] - ref[i]));
  return { stderr: r.stderr, shape: got.info('pixel_values').shape, worst };
}

describe('preprocess follows image_processor_type', () => {
  it('DINOv3ViTImageProcessorFast: the golden DINOv3 pixel_values (rescale, antialiased bilinear to 224, normalize)', async () => {
    const { shape, worst } = await preprocessGoldenImage(modelDir('v3', dinov3Config), 'v3');
    expect(shape).toEqual([1, 3, 224, 224]);
    expect(worst).toBeLessThan(1e-4);
  });

  it("a DINOv3 checkpoint folder without preprocessor_config.json: DINOv3's processor with the published defaults", async () => {
    const dir = join(work, 'v3-no-processor');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'dinov3_vit' }));
    const { stderr, worst } = await preprocessGoldenImage(dir, 'v3-defaults');
    expect(stderr).toMatch(/DINOv3 defaults/);
    expect(worst).toBeLessThan(1e-4);
  });

  it('an image_processor_type it does not implement is an error naming the file, and nothing is written', async () => {
    const dir = modelDir('vit', { image_processor_type: 'ViTImageProcessor' });
    const out = join(work, 'vit.safetensors');
    const r = await cli([
      'preprocess',
      `${GOLDEN}/../../preprocess/img2-224x224.png`,
      '--model',
      dir,
      '--output',
      out,
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /preprocessor_config\.json: image_processor_type "ViTImageProcessor" is not implemented/,
    );
    expect(() => readFileSync(out)).toThrow();
  });

  it("the loaders (embed, classify, pipelines) run the processor image_processor_type names, else the model family's", () => {
    expect(
      processorFor({ image_processor_type: 'DINOv3ViTImageProcessorFast' }, 'm/preprocessor_config.json'),
    ).toBeInstanceOf(DINOv3ViTImageProcessor);
    expect(() => processorFor({ image_processor_type: 'CLIPImageProcessor' })).toThrow(/is not implemented/);
    const bit = processorFor({ image_processor_type: 'BitImageProcessor' });
    expect(bit).toBeInstanceOf(BitImageProcessor);
    expect((bit as BitImageProcessor).config.crop_size).toEqual({ height: 224, width: 224 });
    // No file, or no type in it: the family's processor (DINOv3's for a DINOv3 config.json).
    const v3 = parseDinov3Config({ model_type: 'dinov3_vit' });
    expect(processorFor(undefined, 'm', v3)).toBeInstanceOf(DINOv3ViTImageProcessor);
    expect(processorFor({ do_resize: true }, 'm', v3)).toBeInstanceOf(DINOv3ViTImageProcessor);
    expect(processorFor(undefined, 'm')).toBeInstanceOf(BitImageProcessor);
  });
});
