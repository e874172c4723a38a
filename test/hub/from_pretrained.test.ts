// from_pretrained in Node against a hub on 127.0.0.1 (test/hub/server.ts): the golden checkpoints
// served in the hub's URL layout load, give transformers' outputs, land in the cache in
// huggingface_hub's layout, are reused without touching the weights again, load from a pre-filled
// cache offline, shard, and survive 404s, cut connections, aborts, bad hashes and a full disk
// with the cache left consistent.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubCacheDir } from '../../src/io/cache_node.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { DINOv3ViTImageProcessor } from '../../src/image/dinov3_processor.js';
import { AutoModel, processorFor } from '../../src/model/auto.js';
import { DINOv3ViTModel } from '../../src/model/modeling_dinov3.js';
import {
  Dinov2WithRegistersBackbone,
  Dinov2WithRegistersForImageClassification,
  Dinov2WithRegistersModel,
} from '../../src/model/modeling.js';
import { expectClose } from '../helpers/compare.js';
import { testDevice } from '../helpers/gpu.js';
import { closedPort, FakeHub, folderFiles, type ServedFile } from './server.js';

const GOLDEN = 'test/fixtures/golden';
const GOLDEN_V3 = 'test/fixtures/golden-dinov3';
const hub = new FakeHub();
const commits: Record<string, string> = {};

function readSafetensors(path: string): SafetensorsFile {
  return SafetensorsFile.parse(new Uint8Array(readFileSync(path)), path);
}

function golden(model: string, c = 'square-native') {
  const file = readSafetensors(join(GOLDEN, model, `${c}.safetensors`));
  return {
    file,
    pixel_values: { data: file.float32('pixel_values'), dims: file.info('pixel_values').shape },
  };
}

/** The golden model as two shards and an index (the first half of the tensors, then the rest). */
function sharded(model: string): Record<string, ServedFile> {
  const whole = readSafetensors(join(GOLDEN, model, 'model.safetensors'));
  const names = whole.names;
  const half = Math.ceil(names.length / 2);
  const shards = [names.slice(0, half), names.slice(half)];
  const files: Record<string, ServedFile> = {
    'config.json': { data: new Uint8Array(readFileSync(join(GOLDEN, model, 'config.json'))) },
  };
  const weightMap: Record<string, string> = {};
  shards.forEach((list, i) => {
    const name = `model-0000${i + 1}-of-00002.safetensors`;
    const tensors = Object.fromEntries(
      list.map((n) => [
        n,
        { dtype: whole.info(n).dtype as 'F32', shape: whole.info(n).shape, data: whole.bytes(n) },
      ]),
    );
    files[name] = { data: writeSafetensors(tensors, { format: 'pt' }) };
    for (const n of list) weightMap[n] = name;
  });
  files['model.safetensors.index.json'] = {
    data: new TextEncoder().encode(JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap })),
  };
  return files;
}

const tmp = (name: string) => mkdtempSync(join(tmpdir(), `dinov2-hub-${name}-`));

/** Every file under `dir`, relative, with symlinks shown as "path -> target". */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) out.push(`${relative(dir, p)} -> ${readlinkSync(p)}`);
      else if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

beforeAll(async () => {
  await hub.start();
  commits.gelu = hub.addCommit(
    'org/tiny-gelu',
    folderFiles(join(GOLDEN, 'tiny-gelu'), ['config.json', 'model.safetensors']),
  );
  commits.bf16 = hub.addCommit(
    'org/tiny-gelu-bf16',
    folderFiles(join(GOLDEN, 'tiny-gelu-bf16'), ['config.json', 'model.safetensors']),
  );
  commits.classifier = hub.addCommit('org/tiny-classifier', {
    ...folderFiles(join(GOLDEN, 'tiny-classifier'), ['config.json', 'model.safetensors']),
    'preprocessor_config.json': {
      data: new TextEncoder().encode(
        JSON.stringify({ crop_size: { height: 56, width: 56 }, size: { shortest_edge: 64 } }),
      ),
    },
  });
  commits.sharded = hub.addCommit('org/tiny-gelu-sharded', sharded('tiny-gelu'));
  commits.private = hub.addCommit(
    'org/private',
    folderFiles(join(GOLDEN, 'tiny-gelu'), ['config.json', 'model.safetensors']),
    { private: true },
  );
  commits.v1 = hub.addCommit(
    'org/tiny-gelu',
    folderFiles(join(GOLDEN, 'tiny-gelu'), ['config.json', 'model.safetensors']),
    { revision: 'v1' },
  );
  hub.rename('org/old-name', 'org/tiny-gelu');
  // A gated DINOv3 checkpoint, as facebook/dinov3-* are on the hub (preprocessor config as published).
  commits.dinov3 = hub.addCommit(
    'facebook/dinov3-tiny',
    {
      ...folderFiles(join(GOLDEN_V3, 'tiny-v3-mlp'), ['config.json', 'model.safetensors']),
      'preprocessor_config.json': {
        data: new TextEncoder().encode(
          JSON.stringify({ image_processor_type: 'DINOv3ViTImageProcessorFast' }),
        ),
      },
    },
    { gated: true },
  );
});

afterAll(async () => {
  await hub.close();
});

async function loadGelu(cacheDir: string, extra: Record<string, unknown> = {}) {
  return Dinov2WithRegistersModel.from_pretrained('org/tiny-gelu', {
    endpoint: hub.origin,
    cacheDir,
    device: await testDevice(),
    ...extra,
  });
}

async function expectGolden(model: Dinov2WithRegistersModel, name = 'tiny-gelu') {
  const { file, pixel_values } = golden(name);
  const out = await model.forward(pixel_values);
  expectClose(
    await out.last_hidden_state.read(),
    file.float32('last_hidden_state'),
    `${name} last_hidden_state`,
  );
  expectClose(await out.pooler_output.read(), file.float32('pooler_output'), `${name} pooler_output`);
}

describe('from_pretrained from the hub (Node, huggingface_hub cache layout)', () => {
  const cacheDir = tmp('cache');

  it("downloads org/tiny-gelu, gives transformers' outputs, and caches it as huggingface_hub does", async () => {
    const progress: string[] = [];
    const model = await loadGelu(cacheDir, {
      progress: (file: string, loaded: number, total: number) => progress.push(`${file} ${loaded}/${total}`),
    });
    await expectGolden(model);
    const weights = hub.blob('org/tiny-gelu', 'model.safetensors');
    const config = hub.blob('org/tiny-gelu', 'config.json');
    const c = commits.gelu;
    expect(tree(join(cacheDir, 'models--org--tiny-gelu'))).toEqual(
      [
        `.no_exist/${c}/model.safetensors.index.json`,
        `.no_exist/${c}/preprocessor_config.json`,
        `blobs/${config.gitSha1}`,
        `blobs/${weights.sha256}`,
        'refs/main',
        `snapshots/${c}/config.json -> ../../blobs/${config.gitSha1}`,
        `snapshots/${c}/model.safetensors -> ../../blobs/${weights.sha256}`,
      ]
        .filter((p) => !p.endsWith('model.safetensors.index.json'))
        .sort(),
    );
    expect(readFileSync(join(cacheDir, 'models--org--tiny-gelu/refs/main'), 'utf8')).toBe(c);
    expect(
      new Uint8Array(readFileSync(join(cacheDir, `models--org--tiny-gelu/snapshots/${c}/model.safetensors`))),
    ).toEqual(new Uint8Array(readFileSync(join(GOLDEN, 'tiny-gelu/model.safetensors'))));
    expect(model.source).toBe(join(cacheDir, `models--org--tiny-gelu/snapshots/${c}`));
    expect(progress).toContain(`model.safetensors ${weights.size}/${weights.size}`);
    // The weights came from the CDN with a header-first Range request; the token never went there.
    const cdn = hub.requests((r) => r.path === `/cdn/${weights.sha256}`);
    // (The 64 KiB probe holds the header and the first data bytes; the rest is asked for from there.)
    expect(cdn.map((r) => r.range)).toEqual(['bytes=0-65535', `bytes=${Math.min(65536, weights.size)}-`]);
    model.dispose();
  });

  it('a second load makes no request for the weights (one HEAD of config.json names the commit)', async () => {
    const before = hub.log.length;
    const model = await loadGelu(cacheDir);
    await expectGolden(model);
    const requests = hub.log.slice(before);
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'HEAD /org/tiny-gelu/resolve/main/config.json',
    ]);
    model.dispose();
  });

  it('offline ($HF_HUB_OFFLINE, or the hub unreachable), the cached snapshot is used through refs/main', async () => {
    const before = hub.log.length;
    const offline = await loadGelu(cacheDir, { offline: true });
    await expectGolden(offline);
    offline.dispose();
    const unreachable = await Dinov2WithRegistersModel.from_pretrained('org/tiny-gelu', {
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      cacheDir,
      device: await testDevice(),
    });
    await expectGolden(unreachable);
    unreachable.dispose();
    expect(hub.log.length).toBe(before);
  });

  it('reads a cache huggingface_hub filled (blobs + relative symlinks + refs), offline, with $HF_HUB_CACHE', async () => {
    const root = tmp('python-cache');
    const repo = join(root, 'models--facebook--dinov2-with-registers-small');
    const commit = 'a'.repeat(40);
    mkdirSync(join(repo, 'blobs'), { recursive: true });
    mkdirSync(join(repo, 'snapshots', commit), { recursive: true });
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), commit);
    for (const [file, etag] of [
      ['config.json', 'c'.repeat(40)],
      ['model.safetensors', 'd'.repeat(64)],
    ]) {
      writeFileSync(join(repo, 'blobs', etag), readFileSync(join(GOLDEN, 'tiny-gelu', file)));
      symlinkSync(`../../blobs/${etag}`, join(repo, 'snapshots', commit, file));
    }
    const saved = { ...process.env };
    process.env.HF_HUB_CACHE = root;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      expect(hubCacheDir()).toBe(root);
      const model = await AutoModel.from_pretrained('facebook/dinov2-with-registers-small', {
        device: await testDevice(),
      });
      expect(model).toBeInstanceOf(Dinov2WithRegistersModel);
      await expectGolden(model as Dinov2WithRegistersModel);
      model.dispose();
      await expect(
        AutoModel.from_pretrained('facebook/not-cached', { device: await testDevice() }),
      ).rejects.toThrow(/offline.*not in the cache/);
    } finally {
      process.env = saved;
    }
  });

  it('a revision (tag, or "@rev" in the id) resolves to its own commit and ref', async () => {
    const model = await Dinov2WithRegistersModel.from_pretrained('org/tiny-gelu@v1', {
      endpoint: hub.origin,
      cacheDir,
      device: await testDevice(),
    });
    await expectGolden(model);
    model.dispose();
    expect(readFileSync(join(cacheDir, 'models--org--tiny-gelu/refs/v1'), 'utf8')).toBe(commits.v1);
  });

  it('a renamed repository: the relative redirect is followed', async () => {
    const model = await Dinov2WithRegistersModel.from_pretrained('org/old-name', {
      endpoint: hub.origin,
      cacheDir: tmp('renamed'),
      device: await testDevice(),
    });
    await expectGolden(model);
    model.dispose();
  });

  it('a sharded checkpoint: the index, then each shard streamed, gives the same outputs', async () => {
    const dir = tmp('sharded');
    const model = await Dinov2WithRegistersModel.from_pretrained('org/tiny-gelu-sharded', {
      endpoint: hub.origin,
      cacheDir: dir,
      device: await testDevice(),
    });
    await expectGolden(model);
    model.dispose();
    const files = tree(join(dir, 'models--org--tiny-gelu-sharded')).filter((p) => p.startsWith('snapshots/'));
    expect(files.map((p) => p.split(' ')[0].split('/').pop())).toEqual([
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
  });

  it('F16/BF16 checkpoints are converted on the GPU as they stream (BF16 fixture within 1e-4 of transformers)', async () => {
    const model = await Dinov2WithRegistersModel.from_pretrained('org/tiny-gelu-bf16', {
      endpoint: hub.origin,
      cacheDir: tmp('bf16'),
      device: await testDevice(),
    });
    const { file, pixel_values } = golden('tiny-gelu-bf16');
    const out = await model.forward(pixel_values);
    expectClose(
      await out.last_hidden_state.read(),
      file.float32('last_hidden_state'),
      'bf16 last_hidden_state',
    );
    model.dispose();
  });

  it('the three classes and AutoModel; the classifier keeps preprocessor_config.json', async () => {
    const options = { endpoint: hub.origin, cacheDir: tmp('classes'), device: await testDevice() };
    const auto = await AutoModel.from_pretrained('org/tiny-classifier', options);
    expect(auto).toBeInstanceOf(Dinov2WithRegistersForImageClassification);
    expect(auto.preprocessorConfig).toEqual({
      crop_size: { height: 56, width: 56 },
      size: { shortest_edge: 64 },
    });
    const { file, pixel_values } = golden('tiny-classifier');
    const logits = (await (auto as Dinov2WithRegistersForImageClassification).forward(pixel_values)).logits;
    expectClose(await logits.read(), file.float32('logits'), 'classifier logits');
    auto.dispose();
    // The base model and the backbone read the classification checkpoint without its head.
    const base = await Dinov2WithRegistersModel.from_pretrained('org/tiny-classifier', options);
    expectClose(
      await (await base.forward(pixel_values)).last_hidden_state.read(),
      file.float32('last_hidden_state'),
      'base from classifier',
    );
    base.dispose();
    const backbone = await Dinov2WithRegistersBackbone.from_pretrained('org/tiny-gelu', options);
    expect((await backbone.forward(golden('tiny-gelu').pixel_values)).feature_maps.length).toBe(1);
    backbone.dispose();
  });

  it('a private repository needs the token ($HF_TOKEN or options.token), which never reaches the CDN', async () => {
    const options = { endpoint: hub.origin, cacheDir: tmp('private'), device: await testDevice() };
    await expect(Dinov2WithRegistersModel.from_pretrained('org/private', options)).rejects.toThrow(
      /HTTP 401.*HF_TOKEN/,
    );
    const before = hub.log.length;
    const model = await Dinov2WithRegistersModel.from_pretrained('org/private', {
      ...options,
      token: hub.token,
    });
    await expectGolden(model);
    model.dispose();
    const after = hub.log.slice(before);
    expect(
      after
        .filter((r) => r.path.includes('/resolve/'))
        .every((r) => r.authorization === `Bearer ${hub.token}`),
    ).toBe(true);
    expect(after.filter((r) => r.path.startsWith('/cdn/')).every((r) => r.authorization === undefined)).toBe(
      true,
    );
  });

  it('a gated DINOv3 repository: 401 without a token and 403 with one lacking access, each saying so; AutoModel loads it with the token', async () => {
    const options = { endpoint: hub.origin, cacheDir: tmp('gated'), device: await testDevice() };
    await expect(AutoModel.from_pretrained('facebook/dinov3-tiny', options)).rejects.toThrow(
      /HTTP 401 GatedRepo \(gated: request access on the model's page, then pass a token of that account, or set HF_TOKEN\)/,
    );
    await expect(
      AutoModel.from_pretrained('facebook/dinov3-tiny', { ...options, token: 'hf_not_granted' }),
    ).rejects.toThrow(/HTTP 403 GatedRepo \(gated: this token's account has no access/);
    const model = await AutoModel.from_pretrained('facebook/dinov3-tiny', { ...options, token: hub.token });
    expect(model).toBeInstanceOf(DINOv3ViTModel);
    expect(processorFor(model.preprocessorConfig, 'hub', model.config)).toBeInstanceOf(
      DINOv3ViTImageProcessor,
    );
    const file = readSafetensors(join(GOLDEN_V3, 'tiny-v3-mlp', 'square-native.safetensors'));
    const out = await (model as DINOv3ViTModel).forward({
      data: file.float32('pixel_values'),
      dims: file.info('pixel_values').shape,
    });
    expectClose(await out.last_hidden_state.read(), file.float32('last_hidden_state'), 'gated dinov3');
    model.dispose();
  });

  it('$HF_ENDPOINT and $HF_TOKEN are read when the options do not say', async () => {
    const saved = { ...process.env };
    process.env.HF_ENDPOINT = hub.origin;
    process.env.HF_TOKEN = hub.token;
    try {
      const model = await Dinov2WithRegistersModel.from_pretrained('org/private', {
        cacheDir: tmp('env'),
        device: await testDevice(),
      });
      model.dispose();
    } finally {
      process.env = saved;
    }
  });
});

describe('from_pretrained failures leave the cache consistent', () => {
  /** No partial file under a final name, no dangling link, no leftover .incomplete. */
  function expectConsistent(dir: string) {
    for (const p of tree(dir)) {
      expect(p, 'leftover partial download').not.toMatch(/\.incomplete$/);
      const link = / -> (.*)$/.exec(p);
      if (link) expect(existsSync(join(dir, p.split(' -> ')[0])), `dangling ${p}`).toBe(true);
    }
    for (const blob of tree(dir).filter((p) => p.includes('blobs/') && !p.includes(' -> '))) {
      const sha = blob.split('/').pop()!;
      if (/^[0-9a-f]{64}$/.test(sha)) {
        expect(
          createHash('sha256')
            .update(readFileSync(join(dir, blob)))
            .digest('hex'),
        ).toBe(sha);
      }
    }
  }

  it('404s say what is missing: an unknown repository, revision, a checkpoint without weights', async () => {
    const options = { endpoint: hub.origin, cacheDir: tmp('404'), device: await testDevice() };
    await expect(Dinov2WithRegistersModel.from_pretrained('org/nope', options)).rejects.toThrow(
      /org\/nope@main: config.json: HTTP 401 RepoNotFound/,
    );
    await expect(
      Dinov2WithRegistersModel.from_pretrained('org/tiny-gelu', { ...options, revision: 'v9' }),
    ).rejects.toThrow(/org\/tiny-gelu: no revision v9/);
    hub.addCommit('org/config-only', folderFiles(join(GOLDEN, 'tiny-gelu'), ['config.json']));
    await expect(Dinov2WithRegistersModel.from_pretrained('org/config-only', options)).rejects.toThrow(
      /org\/config-only@main: neither model.safetensors nor model.safetensors.index.json/,
    );
    expectConsistent(options.cacheDir);
  });

  it('a connection cut half-way (retries off): the error says where, nothing partial is kept, and a new load completes', async () => {
    const dir = tmp('cut');
    const sha = hub.blob('org/tiny-gelu', 'model.safetensors').sha256;
    hub.faults.set(sha, { cutAfter: Math.floor(hub.blob('org/tiny-gelu', 'model.safetensors').size / 2) });
    try {
      await expect(loadGelu(dir, { retries: 0 })).rejects.toThrow(
        /connection .*(closed|broke) after \d+ of \d+ bytes/,
      );
    } finally {
      hub.faults.delete(sha);
    }
    expectConsistent(dir);
    expect(existsSync(join(dir, 'models--org--tiny-gelu/blobs', sha))).toBe(false);
    const model = await loadGelu(dir);
    await expectGolden(model);
    model.dispose();
    expectConsistent(dir);
  });

  it('abort mid-download (AbortSignal): rejects with the abort and keeps nothing partial', async () => {
    const dir = tmp('abort');
    const sha = hub.blob('org/tiny-gelu', 'model.safetensors').sha256;
    hub.faults.set(sha, { bytesPerSecond: 400_000 });
    const controller = new AbortController();
    const seen: number[] = [];
    try {
      const load = loadGelu(dir, {
        signal: controller.signal,
        progress: (file: string, loaded: number) => {
          if (file === 'model.safetensors') {
            seen.push(loaded);
            if (loaded > 200_000) controller.abort();
          }
        },
      });
      await expect(load).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      hub.faults.delete(sha);
    }
    expect(seen.length).toBeGreaterThan(0);
    expectConsistent(dir);
    expect(tree(join(dir, 'models--org--tiny-gelu')).some((p) => p.includes('model.safetensors'))).toBe(
      false,
    );
  });

  it("a body whose sha256 differs from the hub's ETag is refused and not kept", async () => {
    const dir = tmp('corrupt');
    const sha = hub.blob('org/tiny-gelu', 'model.safetensors').sha256;
    hub.faults.set(sha, { corrupt: true });
    try {
      await expect(loadGelu(dir)).rejects.toThrow(
        /failed verification: sha256 [0-9a-f]{64} differs from the server's/,
      );
    } finally {
      hub.faults.delete(sha);
    }
    expectConsistent(dir);
    expect(existsSync(join(dir, 'models--org--tiny-gelu/blobs', sha))).toBe(false);
  });

  it('a server that ignores Range: the header is read from the front of the one response, the rest streams on', async () => {
    const sha = hub.blob('org/tiny-gelu', 'model.safetensors').sha256;
    hub.faults.set(sha, { noRange: true });
    try {
      const before = hub.log.length;
      const model = await loadGelu(tmp('norange'));
      await expectGolden(model);
      model.dispose();
      expect(hub.log.slice(before).filter((r) => r.path === `/cdn/${sha}`).length).toBe(1);
    } finally {
      hub.faults.delete(sha);
    }
  });

  it('shard names that leave the folder are refused before any download', async () => {
    for (const bad of [
      '../model.safetensors',
      '/etc/passwd',
      'https://evil.example/x.safetensors',
      'sub/../../x.safetensors',
    ]) {
      const repo = `org/bad-index-${bad.length}`;
      hub.addCommit(repo, {
        'config.json': { data: new Uint8Array(readFileSync(join(GOLDEN, 'tiny-gelu/config.json'))) },
        'model.safetensors.index.json': {
          data: new TextEncoder().encode(JSON.stringify({ weight_map: { 'embeddings.cls_token': bad } })),
        },
      });
      const before = hub.log.length;
      await expect(
        Dinov2WithRegistersModel.from_pretrained(repo, {
          endpoint: hub.origin,
          cacheDir: tmp('bad'),
          device: await testDevice(),
        }),
      ).rejects.toThrow(/refusing shard name/);
      const asked = hub.log.slice(before).map((r) => r.path.split('/resolve/main/')[1]);
      expect([...new Set(asked)]).toEqual([
        'config.json',
        'preprocessor_config.json',
        'model.safetensors',
        'model.safetensors.index.json',
      ]);
    }
  });

  it('cache: false neither reads nor writes the cache', async () => {
    const dir = tmp('nocache');
    const model = await loadGelu(dir, { cache: false });
    await expectGolden(model);
    model.dispose();
    expect(tree(dir)).toEqual([]);
  });
});

describe('from_pretrained from a local folder and from a folder URL', () => {
  it('a local folder (the golden fixture) and an http folder URL give the golden outputs', async () => {
    const local = await Dinov2WithRegistersModel.from_pretrained(join(GOLDEN, 'tiny-gelu'), {
      device: await testDevice(),
    });
    await expectGolden(local);
    expect(local.source).toBe(join(process.cwd(), GOLDEN, 'tiny-gelu'));
    local.dispose();
    const url = await Dinov2WithRegistersModel.from_pretrained(`${hub.origin}/org/tiny-gelu/resolve/main`, {
      device: await testDevice(),
    });
    await expectGolden(url);
    url.dispose();
    await expect(
      Dinov2WithRegistersModel.from_pretrained('./no/such/folder', { device: await testDevice() }),
    ).rejects.toThrow(/no such folder/);
    await expect(
      Dinov2WithRegistersModel.from_pretrained('org/x', {
        endpoint: `http://127.0.0.1:${await closedPort()}`,
        device: await testDevice(),
        dtype: 'int8' as 'fp32',
      }),
    ).rejects.toThrow(/dtype "int8"/);
  });
});
