// `dinov2-webgpu embed | classify | download` as a user runs them (node bin/dinov2-webgpu.js, the
// built CLI): embed writes the vectors the library's forward gives for the same batch of images,
// in every format and pooling; classify agrees with topK; download fills the huggingface_hub cache
// from the loopback hub, and its failures say what happened and leave the cache consistent.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageNode } from '../../src/image/decode_node.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { baseModelFrom, processorFor } from '../../src/model/auto.js';
import { Dinov2WithRegistersForImageClassification } from '../../src/model/modeling.js';
import { expectClose } from '../helpers/compare.js';
import { testDevice } from '../helpers/gpu.js';
import { closedPort, FakeHub, folderFiles } from '../hub/server.js';

const TINY = 'weights/tiny-dinov2-with-registers';
const IMAGES = ['img0-640x480.png', 'img1-300x500.png', 'img2-224x224.png'].map((f) =>
  join('test/fixtures/preprocess', f),
);
const work = mkdtempSync(join(tmpdir(), 'dinov2-embed-'));
const hub = new FakeHub();

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/dinov2-webgpu.js', ...args], {
      env: { ...process.env, HF_HUB_OFFLINE: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A .npy float32 2-D array. */
function readNpy(path: string): { shape: number[]; data: Float32Array } {
  const bytes = new Uint8Array(readFileSync(path));
  expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
  expect((10 + headerLength) % 64).toBe(0);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(\d+, \d+\), \}\s*\n$/);
  const shape = /\((\d+), (\d+)\)/.exec(header)!.slice(1).map(Number);
  const data = new Float32Array(bytes.slice(10 + headerLength).buffer);
  expect(data.length).toBe(shape[0] * shape[1]);
  return { shape, data };
}

/** The library's forward on the whole batch, pooled in float64 here: [cls | mean of patch tokens]. */
async function reference(modelDir: string) {
  const model = await baseModelFrom(modelDir, { device: await testDevice() });
  const processor = processorFor(model.preprocessorConfig, modelDir, model.config);
  const processed = await Promise.all(IMAGES.map(async (f) => processor.preprocess(await loadImageNode(f))));
  const [, c, h, w] = processed[0].dims;
  const data = new Float32Array(IMAGES.length * c * h * w);
  processed.forEach((p, i) => data.set(p.pixel_values, i * c * h * w));
  const out = await model.forward({ data, dims: [IMAGES.length, c, h, w] });
  const hidden = await out.last_hidden_state.read();
  const pooled = await out.pooler_output.read();
  const [b, t, d] = out.last_hidden_state.dims;
  const prefix = 1 + model.config.num_register_tokens;
  const cls = new Float64Array(b * d);
  const mean = new Float64Array(b * d);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < d; j++) {
      cls[i * d + j] = hidden[i * t * d + j];
      let s = 0;
      for (let k = prefix; k < t; k++) s += hidden[(i * t + k) * d + j];
      mean[i * d + j] = s / (t - prefix);
    }
  }
  model.dispose();
  return { b, d, cls, mean, pooled };
}

beforeAll(async () => {
  await hub.start();
  hub.addCommit('org/tiny', folderFiles(TINY));
});

afterAll(async () => {
  await hub.close();
});

describe('weights/make-tiny.sh', () => {
  it('makes the committed tiny model again, byte for byte, under 1 MB', () =>
    new Promise<void>((done, fail) => {
      const out = join(work, 'tiny');
      const child = spawn('bash', ['weights/make-tiny.sh', out]);
      child.on('close', (status) => {
        try {
          expect(status).toBe(0);
          let total = 0;
          for (const f of readdirSync(TINY)) {
            expect(readFileSync(join(out, f)).equals(readFileSync(join(TINY, f))), f).toBe(true);
            total += readFileSync(join(TINY, f)).length;
          }
          expect(readdirSync(out).sort()).toEqual([
            'config.json',
            'model.safetensors',
            'preprocessor_config.json',
          ]);
          expect(total).toBeLessThan(1e6);
          done();
        } catch (e) {
          fail(e);
        }
      });
    }));
});

describe('dinov2-webgpu embed', () => {
  let ref: Awaited<ReturnType<typeof reference>>;
  beforeAll(async () => {
    ref = await reference(TINY);
  });

  it("cls+patch-mean to .npy, in batches of 2: the classifier input of the library's forward on the batch of 3", async () => {
    const output = join(work, 'e.npy');
    const r = await cli([
      'embed',
      ...IMAGES,
      '--model',
      TINY,
      '--pooling',
      'cls+patch-mean',
      '--batch-size',
      '2',
      '--output',
      output,
    ]);
    expect(r.stderr).toMatch(/wrote 3 x 128 float32 \(cls\+patch-mean\)/);
    expect(r.status).toBe(0);
    const { shape, data } = readNpy(output);
    expect(shape).toEqual([3, 2 * ref.d]);
    const want = new Float64Array(3 * 2 * ref.d);
    for (let i = 0; i < 3; i++) {
      want.set(ref.cls.subarray(i * ref.d, (i + 1) * ref.d), i * 2 * ref.d);
      want.set(ref.mean.subarray(i * ref.d, (i + 1) * ref.d), i * 2 * ref.d + ref.d);
    }
    expectClose(data, want, 'embed cls+patch-mean', 1e-6);
  });

  it('cls to JSON equals pooler_output; mean to safetensors equals the patch mean', async () => {
    const json = join(work, 'e.json');
    let r = await cli(['embed', ...IMAGES, '--model', TINY, '--pooling', 'cls', '--output', json]);
    expect(r.status, r.stderr).toBe(0);
    const parsed = JSON.parse(readFileSync(json, 'utf8')) as {
      pooling: string;
      dim: number;
      embeddings: { image: string; embedding: number[] }[];
    };
    expect(parsed.pooling).toBe('cls');
    expect(parsed.embeddings.map((e) => e.image)).toEqual(IMAGES);
    // Shortest decimals that read back as the same float32: equal bits.
    expect(Float32Array.from(parsed.embeddings.flatMap((e) => e.embedding))).toEqual(ref.pooled);

    const st = join(work, 'e.safetensors');
    r = await cli([
      'embed',
      ...IMAGES,
      '--model',
      TINY,
      '--pooling',
      'mean',
      '--format',
      'safetensors',
      '--output',
      st,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const file = SafetensorsFile.parse(new Uint8Array(readFileSync(st)));
    expect(file.info('embeddings').shape).toEqual([3, ref.d]);
    expect(JSON.parse(file.header.metadata.images)).toEqual(IMAGES);
    expectClose(file.float32('embeddings'), ref.mean, 'embed mean', 1e-6);
  });

  it('--model as a hub id, through $HF_ENDPOINT into $HF_HUB_CACHE', async () => {
    const output = join(work, 'hub.npy');
    const cache = join(work, 'hub-cache');
    const r = await cli(['embed', IMAGES[2], '--model', 'org/tiny', '--output', output], {
      HF_ENDPOINT: hub.origin,
      HF_HUB_CACHE: cache,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(readNpy(output).data).toEqual(ref.pooled.subarray(2 * ref.d, 3 * ref.d));
    expect(existsSync(join(cache, 'models--org--tiny/refs/main'))).toBe(true);
  });

  it('usage mistakes and unreadable images: one line, the right exit code', async () => {
    let r = await cli([
      'embed',
      IMAGES[0],
      '--model',
      TINY,
      '--pooling',
      'max',
      '--output',
      join(work, 'x.npy'),
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--pooling must be one of cls, mean, cls\+patch-mean/);
    r = await cli(['embed', join(work, 'absent.png'), '--model', TINY, '--output', join(work, 'x.npy')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/absent\.png/);
    expect(existsSync(join(work, 'x.npy'))).toBe(false);
  });
});

describe('dinov2-webgpu embed, a DINOv3 checkpoint', () => {
  // No preprocessor_config.json: DINOv3's processor with its published defaults (224 x 224, no crop),
  // run in embed's decoding threads (--workers 2) as in the main thread (--workers 0).
  const V3 = 'test/fixtures/golden-dinov3/tiny-v3-mlp';
  it("cls+patch-mean: the library's DINOv3ViTModel forward on the processed batch", async () => {
    const ref = await reference(V3);
    const want = new Float64Array(3 * 2 * ref.d);
    for (let i = 0; i < 3; i++) {
      want.set(ref.cls.subarray(i * ref.d, (i + 1) * ref.d), i * 2 * ref.d);
      want.set(ref.mean.subarray(i * ref.d, (i + 1) * ref.d), i * 2 * ref.d + ref.d);
    }
    for (const workers of ['0', '2']) {
      const output = join(work, `v3-${workers}.npy`);
      const r = await cli([
        'embed',
        ...IMAGES,
        '--model',
        V3,
        '--pooling',
        'cls+patch-mean',
        '--workers',
        workers,
        '--output',
        output,
      ]);
      expect(r.status, r.stderr).toBe(0);
      const { shape, data } = readNpy(output);
      expect(shape).toEqual([3, 2 * ref.d]);
      expectClose(data, want, `embed DINOv3 (--workers ${workers})`, 1e-6);
    }
  });
});

describe('dinov2-webgpu classify', () => {
  it('top-k of a classification checkpoint, as topK gives it', async () => {
    const dir = 'test/fixtures/golden/tiny-classifier';
    const r = await cli(['classify', IMAGES[0], '--model', dir, '--top-k', '3', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as {
      image: string;
      top: { label: string; index: number; score: number }[];
    }[];
    const model = await Dinov2WithRegistersForImageClassification.from_pretrained(dir, {
      device: await testDevice(),
    });
    const { pixel_values, dims } = processorFor(undefined).preprocess(await loadImageNode(IMAGES[0]));
    const [want] = await model.topK((await model.forward({ data: pixel_values, dims: [...dims] })).logits, 3);
    model.dispose();
    expect(got[0].top.map((t) => t.index)).toEqual(want.map((t) => t.index));
    expect(got[0].top.map((t) => t.label)).toEqual(want.map((t) => t.label));
    for (let i = 0; i < 3; i++) expect(got[0].top[i].score).toBeCloseTo(want[i].score, 6);
    const text = await cli(['classify', IMAGES[0], '--model', dir, '--top-k', '2']);
    expect(text.stdout.split('\n')[1]).toMatch(
      new RegExp(
        `^  ${want[0].score.toFixed(4)}  ${want[0].label.replace(/[()]/g, '\\$&')} \\(${want[0].index}\\)$`,
      ),
    );
  });

  it('a checkpoint without a classification head is refused', async () => {
    const r = await cli(['classify', IMAGES[0], '--model', TINY]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/has no classification head .*Dinov2WithRegistersModel/);
  });
});

describe('dinov2-webgpu download', () => {
  it('fills the cache (huggingface_hub layout) and prints the snapshot; a second run downloads nothing', async () => {
    const cache = join(work, 'dl-cache');
    const env = { HF_ENDPOINT: hub.origin, HF_HUB_CACHE: cache };
    let r = await cli(['download', 'org/tiny'], env);
    expect(r.status, r.stderr).toBe(0);
    const snapshot = r.stdout.trim();
    expect(snapshot).toMatch(/models--org--tiny\/snapshots\/[0-9a-f]{40}$/);
    expect(readdirSync(snapshot).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'preprocessor_config.json',
    ]);
    expect(
      readFileSync(join(snapshot, 'model.safetensors')).equals(readFileSync(join(TINY, 'model.safetensors'))),
    ).toBe(true);
    expect(r.stderr).toMatch(/3 files, .* \(3 downloaded, 0 already cached\)/);
    const before = hub.log.length;
    r = await cli(['download', 'org/tiny'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\(0 downloaded, 3 already cached\)/);
    expect(hub.log.slice(before).filter((q) => q.method === 'GET')).toEqual([]);
  });

  it('errors say what happened: unknown repository, no network, a connection cut half-way; the cache stays consistent', async () => {
    const cache = join(work, 'dl-errors');
    let r = await cli(['download', 'org/absent'], { HF_ENDPOINT: hub.origin, HF_HUB_CACHE: cache });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/org\/absent@main: config.json: HTTP 401 RepoNotFound/);
    const port = await closedPort();
    r = await cli(['download', 'org/tiny'], { HF_ENDPOINT: `http://127.0.0.1:${port}`, HF_HUB_CACHE: cache });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`cannot reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED.*not in the cache`),
    );
    const sha = hub.blob('org/tiny', 'model.safetensors').sha256;
    hub.faults.set(sha, { cutAfter: 300_000 });
    try {
      r = await cli(['download', 'org/tiny'], { HF_ENDPOINT: hub.origin, HF_HUB_CACHE: cache });
    } finally {
      hub.faults.delete(sha);
    }
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/connection for .* (closed|broke) after \d+ of 826184 bytes/);
    const blobs = join(cache, 'models--org--tiny/blobs');
    expect(readdirSync(blobs).filter((f) => f.includes(sha))).toEqual([]);
    expect(readdirSync(blobs).filter((f) => f.endsWith('.incomplete'))).toEqual([]);
    r = await cli(['download', 'org/tiny'], { HF_ENDPOINT: hub.origin, HF_HUB_CACHE: cache });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(blobs)).toContain(sha);
  });
});
