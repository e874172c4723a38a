// The vendored golden checkpoints (test/fixtures/golden, see its PROVENANCE.md) read back as
// transformers wrote them: every key and shape follows from config.json, and the F16/BF16 copies
// are the F32 weights rounded to nearest even.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Dinov2Config, mlpHiddenSize, parseConfig } from '../../src/io/config.js';
import { f32ToBf16, f32ToF16 } from '../../src/io/dtype.js';
import { DTYPE_BYTES, SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';

const GOLDEN = join(import.meta.dirname, '../fixtures/golden');
const MODELS = [
  'tiny-gelu',
  'tiny-gelu-f16',
  'tiny-gelu-bf16',
  'tiny-swiglu',
  'tiny-dinov2-plain',
  'tiny-classifier',
];

const load = (path: string) => SafetensorsFile.parse(new Uint8Array(readFileSync(join(GOLDEN, path))), path);
const config = (model: string) =>
  parseConfig(JSON.parse(readFileSync(join(GOLDEN, model, 'config.json'), 'utf8')));

/** transformers' state-dict keys and shapes for a config (Dinov2WithRegistersModel / ...ForImageClassification / Dinov2Model). */
function expectedTensors(c: Dinov2Config): Map<string, number[]> {
  const C = c.hidden_size;
  const patches = Math.floor(c.image_size / c.patch_size) ** 2;
  const classifier = c.architectures.some((a) => a.endsWith('ForImageClassification'));
  const prefix = classifier ? `${c.model_type}.` : '';
  const out = new Map<string, number[]>();
  const add = (key: string, shape: number[]) => out.set(prefix + key, shape);
  add('embeddings.cls_token', [1, 1, C]);
  add('embeddings.mask_token', [1, C]);
  add('embeddings.position_embeddings', [1, patches + 1, C]);
  add('embeddings.patch_embeddings.projection.weight', [C, c.num_channels, c.patch_size, c.patch_size]);
  add('embeddings.patch_embeddings.projection.bias', [C]);
  if (c.num_register_tokens > 0) add('embeddings.register_tokens', [1, c.num_register_tokens, C]);
  const H = mlpHiddenSize(c);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const layer = `encoder.layer.${i}`;
    for (const norm of ['norm1', 'norm2']) {
      add(`${layer}.${norm}.weight`, [C]);
      add(`${layer}.${norm}.bias`, [C]);
    }
    for (const proj of [
      'attention.attention.query',
      'attention.attention.key',
      'attention.attention.value',
      'attention.output.dense',
    ]) {
      add(`${layer}.${proj}.weight`, [C, C]);
      add(`${layer}.${proj}.bias`, [C]);
    }
    if (c.use_swiglu_ffn) {
      add(`${layer}.mlp.weights_in.weight`, [2 * H, C]);
      add(`${layer}.mlp.weights_in.bias`, [2 * H]);
      add(`${layer}.mlp.weights_out.weight`, [C, H]);
    } else {
      add(`${layer}.mlp.fc1.weight`, [H, C]);
      add(`${layer}.mlp.fc1.bias`, [H]);
      add(`${layer}.mlp.fc2.weight`, [C, H]);
    }
    add(`${layer}.mlp.${c.use_swiglu_ffn ? 'weights_out' : 'fc2'}.bias`, [C]);
    add(`${layer}.layer_scale1.lambda1`, [C]);
    add(`${layer}.layer_scale2.lambda1`, [C]);
  }
  add('layernorm.weight', [C]);
  add('layernorm.bias', [C]);
  if (classifier) {
    out.set('classifier.weight', [c.num_labels, 2 * C]); // [cls, mean of patch tokens]
    out.set('classifier.bias', [c.num_labels]);
  }
  return out;
}

describe('golden checkpoints', () => {
  it.each(MODELS)('%s/model.safetensors holds exactly the tensors its config.json implies', (model) => {
    const file = load(`${model}/model.safetensors`);
    const expected = expectedTensors(config(model));
    expect(new Set(file.names)).toEqual(new Set(expected.keys()));
    for (const [name, shape] of expected) expect([name, file.info(name).shape]).toEqual([name, shape]);
    expect(file.header.metadata).toEqual({ format: 'pt' });
  });

  it('tiny-gelu is all F32, and its values are finite', () => {
    const file = load('tiny-gelu/model.safetensors');
    for (const name of file.names) {
      expect(file.info(name).dtype).toBe('F32');
      expect(file.float32(name).every(Number.isFinite)).toBe(true);
    }
  });

  it.each([
    ['tiny-gelu-f16', 'F16', f32ToF16, 2 ** -11, 2 ** -25],
    ['tiny-gelu-bf16', 'BF16', f32ToBf16, 2 ** -8, 2 ** -134],
  ] as const)('%s holds the F32 weights rounded to nearest even, bit for bit', (model, dtype, round, halfUlp, halfSubnormal) => {
    const full = load('tiny-gelu/model.safetensors');
    const half = load(`${model}/model.safetensors`);
    expect(half.names.sort()).toEqual(full.names.sort());
    for (const name of full.names) {
      expect(half.info(name)).toMatchObject({ dtype, shape: full.info(name).shape });
      const x = full.float32(name);
      const bits = new Uint16Array(half.bytes(name).slice().buffer);
      expect(bits).toEqual(round(x));
      // And read back, each value is within half an ulp of the F32 one (a fixed step among subnormals).
      const y = half.float32(name);
      for (let i = 0; i < x.length; i++) {
        const bound = Math.max(Math.abs(x[i]) * halfUlp, halfSubnormal);
        if (Math.abs(y[i] - x[i]) > bound) expect([name, i, y[i]]).toEqual([name, i, x[i]]);
      }
      expect(Array.from(half.float64(name))).toEqual(Array.from(y));
    }
  });

  it('every golden case file parses, and its float tensors read at their full size', () => {
    let files = 0;
    for (const model of MODELS) {
      for (const entry of readdirSync(join(GOLDEN, model)).filter((f) => f.endsWith('.safetensors'))) {
        const file = load(`${model}/${entry}`);
        for (const name of file.names) {
          const { dtype, shape } = file.info(name);
          const count = shape.reduce((a, b) => a * b, 1);
          if (['F32', 'F16', 'BF16', 'F64'].includes(dtype)) expect(file.float32(name).length).toBe(count);
          else expect(file.bytes(name).length).toBe(count * DTYPE_BYTES[dtype]);
        }
        files++;
      }
    }
    expect(files).toBeGreaterThanOrEqual(20);
  });

  it('tiny-gelu survives a write and read back unchanged', () => {
    const file = load('tiny-gelu/model.safetensors');
    const copy = SafetensorsFile.parse(
      writeSafetensors(
        Object.fromEntries(
          file.names.map((n) => [
            n,
            { dtype: 'F32' as const, shape: file.info(n).shape, data: file.float32(n) },
          ]),
        ),
        file.header.metadata,
      ),
    );
    expect(copy.header.fileSize).toBe(file.header.fileSize - file.header.dataOffset + copy.header.dataOffset);
    for (const name of file.names) expect(copy.bytes(name)).toEqual(file.bytes(name));
  });
});
