// A server that gzips .safetensors whatever the request accepts and answers Range requests with
// bytes of the compressed body (as a cache holding the compressed response does; vite preview
// gzips): the Range answer is not the asked-for bytes of the file, so the whole file is read,
// streamed, and from_pretrained loads the right weights in Node. (Chromium: test/browser/hub.test.ts.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpByteSource } from '../../src/io/http.js';
import { readAll } from '../../src/io/stream.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { Dinov2WithRegistersModel } from '../../src/model/modeling.js';
import { expectClose } from '../helpers/compare.js';
import { testDevice } from '../helpers/gpu.js';
import { FakeHub } from './server.js';

const GOLDEN = 'test/fixtures/golden/tiny-gelu';
const hub = new FakeHub({ staticRoot: process.cwd() });

beforeAll(async () => {
  await hub.start();
});

afterAll(async () => {
  await hub.close();
});

describe('Range answered from a compressed body', () => {
  it('the server really answers a Range with compressed bytes (the fault this guards against)', async () => {
    const res = await fetch(`${hub.origin}/gzip/${GOLDEN}/model.safetensors`, {
      headers: { range: 'bytes=0-65535', 'accept-encoding': 'identity' },
    });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    await res.body?.cancel();
  });

  it('HttpByteSource reads the exact bytes of the file: header, data from an offset, whole', async () => {
    const want = new Uint8Array(readFileSync(join(GOLDEN, 'model.safetensors')));
    const source = new HttpByteSource(`${hub.origin}/gzip/${GOLDEN}/model.safetensors`, { retryDelay: 10 });
    const head = await source.head(65536);
    expect(head.size).toBe(want.byteLength);
    expect(head.bytes).toEqual(want.subarray(0, 65536));
    const parts: Uint8Array[] = [];
    for await (const piece of source.chunks(100_000)) parts.push(piece.slice());
    expect(Buffer.concat(parts)).toEqual(Buffer.from(want.subarray(100_000)));
    const again = new HttpByteSource(`${hub.origin}/gzip/${GOLDEN}/model.safetensors`);
    expect(await readAll(again)).toEqual(want);
  });

  it("from_pretrained of the gzipping folder URL gives transformers' outputs", async () => {
    const model = await Dinov2WithRegistersModel.from_pretrained(`${hub.origin}/gzip/${GOLDEN}`, {
      device: await testDevice(),
    });
    const file = SafetensorsFile.parse(
      new Uint8Array(readFileSync(join(GOLDEN, 'square-native.safetensors'))),
    );
    const out = await model.forward({
      data: file.float32('pixel_values'),
      dims: file.info('pixel_values').shape,
    });
    expectClose(
      await out.last_hidden_state.read(),
      file.float32('last_hidden_state'),
      'gzip last_hidden_state',
    );
    model.dispose();
  });
});
