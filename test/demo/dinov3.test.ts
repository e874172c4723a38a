// The demo's DINOv3 parts that need no browser: the bundled tiny checkpoint (what its script writes,
// the golden fixtures' names and shapes, the processor it names), the gated hub entries, the input
// sizes per patch size, what the page says when the hub refuses a gated model, and the part of the
// model's input that the patch grid covers.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeTinyDinov3 } from '../../demo/scripts/make_tiny_dinov3.js';
import { dinov3HubEntries, HUB_EXAMPLE_DINOV3, twinOf } from '../../demo/src/catalog.js';
import { inputSizeChoices, processorLabel } from '../../demo/src/input_sizes.js';
import { accessNote, randomModelNote } from '../../demo/src/messages.js';
import { coveredPart } from '../../demo/src/views/crop.js';
import { layoutFor } from '../../demo/src/views/tokens.js';
import { DINOv3ViTImageProcessor } from '../../src/image/dinov3_processor.js';
import { isDinov3, parseModelConfig } from '../../src/io/model_config.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { processorFor } from '../../src/model/auto.js';

const TINY = join(import.meta.dirname, '../../demo/models/tiny-dinov3');

describe('the bundled tiny DINOv3 checkpoint (demo/models/tiny-dinov3)', () => {
  it('is what demo/scripts/make_tiny_dinov3.ts writes, byte for byte', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiny-dinov3-'));
    try {
      writeTinyDinov3(dir);
      for (const f of ['config.json', 'model.safetensors', 'preprocessor_config.json'])
        expect(Buffer.compare(readFileSync(join(dir, f)), readFileSync(join(TINY, f))), f).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is a DINOv3ViTModel of patch 16 with 4 registers, its tensors named and shaped as transformers saves them', () => {
    const config = parseModelConfig(JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')));
    expect(isDinov3(config)).toBe(true);
    expect(config).toMatchObject({
      architectures: ['DINOv3ViTModel'],
      patch_size: 16,
      num_register_tokens: 4,
      hidden_size: 64,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      intermediate_size: 256,
      rope_theta: 100,
      use_gated_mlp: false,
      query_bias: true,
      key_bias: false,
      value_bias: true,
      proj_bias: true,
    });
    const file = SafetensorsFile.parse(new Uint8Array(readFileSync(join(TINY, 'model.safetensors'))), TINY);
    const shapes = Object.fromEntries(file.names.map((n) => [n, file.info(n).shape]));
    expect(Object.keys(shapes).length).toBe(5 + 2 + 3 * 17);
    expect(shapes).toMatchObject({
      'embeddings.cls_token': [1, 1, 64],
      'embeddings.mask_token': [1, 1, 64],
      'embeddings.register_tokens': [1, 4, 64],
      'embeddings.patch_embeddings.weight': [64, 3, 16, 16],
      'embeddings.patch_embeddings.bias': [64],
      'norm.weight': [64],
      'layer.2.attention.q_proj.bias': [64],
      'layer.2.attention.o_proj.weight': [64, 64],
      'layer.2.mlp.up_proj.weight': [256, 64],
      'layer.2.mlp.down_proj.weight': [64, 256],
      'layer.2.layer_scale2.lambda1': [64],
    });
    expect(shapes['layer.0.attention.k_proj.bias'], 'no k bias, as published').toBeUndefined();
    expect(file.names.every((n) => file.info(n).dtype === 'F32')).toBe(true);
  });

  it('names the DINOv3 processor: 224 x 224 without a crop, so a 320x240 image gives the 14x14 grid', () => {
    const json = JSON.parse(readFileSync(join(TINY, 'preprocessor_config.json'), 'utf8'));
    expect(json.image_processor_type).toBe('DINOv3ViTImageProcessorFast');
    const config = parseModelConfig(JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')));
    const processor = processorFor(json, 'tiny-dinov3/preprocessor_config.json', config);
    expect(processor).toBeInstanceOf(DINOv3ViTImageProcessor);
    const image = { width: 320, height: 240, data: new Uint8Array(320 * 240 * 3).fill(128) };
    const { dims } = processor.preprocess(image);
    expect(dims).toEqual([1, 3, 224, 224]);
    expect(layoutFor(config, dims[2], dims[3])).toMatchObject({ gridH: 14, gridW: 14, tokens: 201 });
  });
});

describe('the DINOv3 hub checkpoints', () => {
  it('offers the six published ViTs, gated, with their sizes, and no twin', () => {
    const entries = dinov3HubEntries();
    expect(entries.map((e) => e.id)).toEqual([
      'facebook/dinov3-vits16-pretrain-lvd1689m',
      'facebook/dinov3-vits16plus-pretrain-lvd1689m',
      'facebook/dinov3-vitb16-pretrain-lvd1689m',
      'facebook/dinov3-vitl16-pretrain-lvd1689m',
      'facebook/dinov3-vith16plus-pretrain-lvd1689m',
      'facebook/dinov3-vit7b16-pretrain-lvd1689m',
    ]);
    expect(entries.every((e) => e.gated && e.kind === 'hub' && e.key === `hub:${e.id}`)).toBe(true);
    expect(entries.map((e) => /\((\S+),/.exec(e.label)![1])).toEqual([
      '21M',
      '29M',
      '86M',
      '300M',
      '840M',
      '6.7B',
    ]);
    expect(entries.every((e) => e.label.endsWith(', gated)'))).toBe(true);
    expect(entries[0].id).toBe(HUB_EXAMPLE_DINOV3);
    for (const e of entries) expect(twinOf(e.id)).toBeUndefined();
    expect(twinOf('tiny-dinov3')).toBeUndefined();
  });
});

describe('input sizes', () => {
  it('the processor, then 448 and the largest square of whole patches up to 518', () => {
    expect(inputSizeChoices({ kind: 'crop', height: 224, width: 224 }, 14)).toEqual([
      { value: 'processor', label: 'processor (224 crop)' },
      { value: '448', label: '448 × 448' },
      { value: '518', label: '518 × 518' },
    ]);
    expect(inputSizeChoices({ kind: 'resize', height: 224, width: 224 }, 16)).toEqual([
      { value: 'processor', label: 'processor (224 × 224, no crop)' },
      { value: '448', label: '448 × 448' },
      { value: '512', label: '512 × 512' },
    ]);
    expect(processorLabel({ kind: 'none' })).toBe('processor (image size)');
    expect(() => inputSizeChoices({ kind: 'none' }, 0)).toThrow(/patch/);
  });
});

describe('what the page says when the hub refuses a gated model', () => {
  const model = 'facebook/dinov3-vitb16-pretrain-lvd1689m';

  it('401 without a token: gated, a token with access is needed, where to get one and where to put it', () => {
    const text = accessNote(model, 401, false, true, 'tiny-dinov3');
    expect(text).toMatch(
      /^Could not load facebook\/dinov3-vitb16-pretrain-lvd1689m: it is gated on the Hugging Face hub: a token with access is needed \(HTTP 401\)\./,
    );
    expect(text).toContain(`huggingface.co/${model}`);
    expect(text).toContain('huggingface.co/settings/tokens');
    expect(text).toContain('“Hugging Face token”');
    expect(text).toMatch(/The maps still show tiny-dinov3\.$/);
  });

  it('403 with a token: that token’s account has no access; 401 with a token: the token was not accepted', () => {
    expect(accessNote(model, 403, true, true, undefined)).toMatch(
      /^Could not load \S+: it is gated on the Hugging Face hub, and the token given has no access to it \(HTTP 403\)\. Request access on huggingface\.co\/facebook\/dinov3-vitb16-pretrain-lvd1689m with that token’s account/,
    );
    expect(accessNote(model, 401, true, true, 'x')).toMatch(/did not accept the token given \(HTTP 401\)/);
    expect(accessNote('org/private', 401, false, false, 'x')).toContain('is private or gated');
  });

  it('a random DINOv3 model’s note says the suggested hub model is gated and needs a token', () => {
    const online = randomModelNote('tiny-dinov3', true, HUB_EXAMPLE_DINOV3, true);
    expect(online).toMatch(/^tiny-dinov3 has random weights.*noise by design/);
    expect(online).toContain(`token with access to the gated ${HUB_EXAMPLE_DINOV3}`);
    expect(online).toContain('Open folder…');
    expect(randomModelNote('tiny-dinov3', false, HUB_EXAMPLE_DINOV3, true)).not.toContain('facebook/');
  });
});

describe('the picture under the maps is what the patch grid covers', () => {
  it('keeps the top-left whole patches (the model drops the right and bottom remainder)', () => {
    const img = { width: 5, height: 4, data: Uint8Array.from({ length: 60 }, (_, i) => i) };
    const part = coveredPart(img, 3, 2);
    expect([part.width, part.height]).toEqual([3, 2]);
    expect(Array.from(part.data)).toEqual([
      ...Array.from({ length: 9 }, (_, i) => i),
      ...Array.from({ length: 9 }, (_, i) => 15 + i),
    ]);
    expect(coveredPart(img, 5, 4)).toBe(img);
    expect(() => coveredPart(img, 6, 4)).toThrow(/larger/);
  });
});
