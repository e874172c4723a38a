// Getting a model onto the GPU from each source the page offers: a bundled folder served with the
// page, the Hugging Face hub (through the library's from_pretrained), or files the user picked or
// dropped. Every path ends in the library's loadModel / from_pretrained with the page's device.
import * as lib from '../../src/index.js';
import type { AnyDinov2Model, DeviceInfo, TensorSource } from '../../src/index.js';
import { parseShardIndex, ShardedSource } from '../../src/io/sharded.js';

export interface Loaded {
  model: AnyDinov2Model;
  name: string;
  /** preprocessor_config.json of the checkpoint, parsed JSON, when it has one. */
  preprocessorConfig?: unknown;
  /** Bytes of the checkpoint files read (undefined when the loader does not say). */
  checkpointBytes?: number;
  loadMs: number;
}

/** Progress in words and as a fraction (undefined when unknown). */
export type Progress = (text: string, fraction?: number) => void;

export class HubUnavailableError extends Error {
  override name = 'HubUnavailableError';
}

/** Local files larger than this are streamed by from_pretrained rather than read whole. */
const STREAM_LOCAL_ABOVE = 2 ** 30;

/** Files smaller than this are fetched whole (no progress to show). */
const STREAM_ABOVE = 16 * 2 ** 20;

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** GET url as bytes, reporting download progress. */
async function fetchBytes(url: string, progress: Progress, what: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length')) || 0;
  // Small files in one go; large ones streamed, to show progress.
  if (!res.body || (total > 0 && total < STREAM_ABOVE)) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    progress(
      `downloading ${what}: ${mb(received)}${total ? ` of ${mb(total)}` : ''}`,
      total ? received / total : undefined,
    );
  }
  const out = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function parseJson(bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

async function build(
  name: string,
  configJson: unknown,
  source: TensorSource,
  file: string,
  device: DeviceInfo,
  progress: Progress,
  start: number,
  extra: Partial<Loaded>,
): Promise<Loaded> {
  const config = lib.parseConfig(configJson, `${name}/config.json`);
  const model = await lib.loadModel(config, source, {
    device,
    file,
    onProgress: (done, total) => progress(`uploading tensors to the GPU: ${done} of ${total}`, done / total),
  });
  return { model, name, loadMs: performance.now() - start, ...extra };
}

/** A folder served with the page at models/<id>/ (see demo/vite.config.ts). */
export async function loadBundled(
  id: string,
  files: string[],
  device: DeviceInfo,
  progress: Progress,
): Promise<Loaded> {
  const start = performance.now();
  const base = `models/${id}/`;
  const config = parseJson(
    await fetchBytes(`${base}config.json`, progress, 'config.json'),
    `${id}/config.json`,
  );
  const preprocessorConfig = files.includes('preprocessor_config.json')
    ? parseJson(
        await fetchBytes(`${base}preprocessor_config.json`, progress, 'preprocessor_config.json'),
        `${id}/preprocessor_config.json`,
      )
    : undefined;
  const bytes = await fetchBytes(`${base}model.safetensors`, progress, 'model.safetensors');
  const source = lib.SafetensorsFile.parse(bytes, `${id}/model.safetensors`);
  return build(id, config, source, `${id}/model.safetensors`, device, progress, start, {
    preprocessorConfig,
    checkpointBytes: bytes.length,
  });
}

/** AutoModel.from_pretrained and the classes' own: a hub id, a URL, or File objects. */
type FromPretrained = (source: unknown, options: Record<string, unknown>) => Promise<AnyDinov2Model>;

/**
 * The hub's from_pretrained, where this build of the library has it: AutoModel's (which picks the
 * class from config.json) or else the class's own.
 */
export function hubLoader(classifier: boolean): FromPretrained | undefined {
  const exports = lib as unknown as Record<string, { from_pretrained?: FromPretrained } | undefined>;
  const names = [
    'AutoModel',
    classifier ? 'Dinov2WithRegistersForImageClassification' : 'Dinov2WithRegistersModel',
  ];
  const candidates = names.map((n) => exports[n]);
  for (const c of candidates)
    if (c && typeof c.from_pretrained === 'function') return c.from_pretrained.bind(c);
  return undefined;
}

/** Words for whatever a from_pretrained progress callback passes: (done, total) or an event object. */
export function describeProgress(args: unknown[]): { text: string; fraction?: number } {
  const [a, b, c] = args;
  if (typeof a === 'string' && typeof b === 'number' && typeof c === 'number')
    return { text: `${a}: ${mb(b)}${c > 0 ? ` of ${mb(c)}` : ''}`, fraction: c > 0 ? b / c : undefined };
  if (typeof a === 'number' && typeof b === 'number' && b > 0)
    return { text: `${a} of ${b}`, fraction: a / b };
  if (a && typeof a === 'object') {
    const o = a as Record<string, unknown>;
    const loaded = Number(o.loaded ?? o.done ?? o.bytes ?? NaN);
    const total = Number(o.total ?? NaN);
    const what = [o.status, o.file ?? o.name].filter((v) => typeof v === 'string').join(' ');
    if (Number.isFinite(loaded) && total > 0)
      return { text: `${what ? `${what}: ` : ''}${mb(loaded)} of ${mb(total)}`, fraction: loaded / total };
    if (typeof o.progress === 'number')
      return { text: `${what ? `${what}: ` : ''}${o.progress.toFixed(0)}%`, fraction: o.progress / 100 };
    if (what) return { text: what };
  }
  return { text: 'loading…' };
}

export async function loadHub(
  id: string,
  classifier: boolean,
  device: DeviceInfo,
  progress: Progress,
): Promise<Loaded> {
  const start = performance.now();
  const fromPretrained = hubLoader(classifier);
  if (!fromPretrained) {
    throw new HubUnavailableError(
      `Loading ${id} from the Hugging Face hub needs from_pretrained, which this build of the library does not have yet. ` +
        'Use the bundled tiny model, or download the checkpoint and open its folder (config.json + model.safetensors) as a local folder.',
    );
  }
  const model = await fromPretrained(id, pretrainedOptions(device, progress));
  return {
    model,
    name: id,
    preprocessorConfig: preprocessorConfigOf(model),
    loadMs: performance.now() - start,
  };
}

/** from_pretrained's options: the device, and its two progress callbacks in words. */
function pretrainedOptions(device: DeviceInfo, progress: Progress): Record<string, unknown> {
  return {
    device,
    // (file, loaded, total) while the files are read or downloaded
    progress: (...args: unknown[]) => {
      const p = describeProgress(args);
      progress(p.text, p.fraction);
    },
    // (done, total) as the tensors land on the GPU
    onTensor: (done: number, total: number) =>
      progress(`uploading tensors to the GPU: ${done} of ${total}`, done / total),
  };
}

/** from_pretrained keeps the checkpoint's preprocessor_config.json on the model. */
function preprocessorConfigOf(model: AnyDinov2Model): unknown {
  return (model as { preprocessorConfig?: unknown }).preprocessorConfig ?? undefined;
}

/** The file's name without the folder a directory picker prefixes. */
const baseName = (f: File) => f.name.split('/').pop()!;

/** Whether the files hold a checkpoint: config.json and model.safetensors (or a shard index). */
export function looksLikeCheckpoint(files: File[]): boolean {
  const names = new Set(files.map(baseName));
  return (
    names.has('config.json') && (names.has('model.safetensors') || names.has('model.safetensors.index.json'))
  );
}

/** Files picked with the folder or file picker, or dropped: config.json + model.safetensors (or index + shards) [+ preprocessor_config.json]. */
export async function loadLocal(files: File[], device: DeviceInfo, progress: Progress): Promise<Loaded> {
  const start = performance.now();
  const byName = new Map(files.map((f) => [baseName(f), f]));
  const folder = files[0]?.webkitRelativePath?.split('/')[0] || 'local folder';
  // A file too large for one ArrayBuffer (giant is 4.5 GB) streams through from_pretrained instead.
  const fromPretrained = hubLoader(false);
  const weightBytes = files.filter((f) => f.name.endsWith('.safetensors')).reduce((a, f) => a + f.size, 0);
  if (fromPretrained && files.some((f) => f.size > STREAM_LOCAL_ABOVE)) {
    const model = await fromPretrained(files, pretrainedOptions(device, progress));
    return {
      model,
      name: folder,
      preprocessorConfig: preprocessorConfigOf(model),
      checkpointBytes: weightBytes,
      loadMs: performance.now() - start,
    };
  }
  const read = async (name: string) => {
    const f = byName.get(name);
    if (!f)
      throw new Error(
        `${folder}: no ${name} among the files given (${[...byName.keys()].join(', ') || 'none'})`,
      );
    progress(`reading ${name} (${mb(f.size)})`);
    return new Uint8Array(await f.arrayBuffer());
  };
  const config = parseJson(await read('config.json'), `${folder}/config.json`);
  const preprocessorConfig = byName.has('preprocessor_config.json')
    ? parseJson(await read('preprocessor_config.json'), `${folder}/preprocessor_config.json`)
    : undefined;
  let source: TensorSource;
  let file: string;
  let bytes = 0;
  if (byName.has('model.safetensors')) {
    const data = await read('model.safetensors');
    bytes = data.length;
    file = `${folder}/model.safetensors`;
    source = lib.SafetensorsFile.parse(data, file);
  } else {
    file = `${folder}/model.safetensors.index.json`;
    const index = parseShardIndex(parseJson(await read('model.safetensors.index.json'), file), file);
    const shards = new Map<string, lib.SafetensorsFile>();
    for (const shard of new Set(Object.values(index.weight_map))) {
      const data = await read(shard);
      bytes += data.length;
      shards.set(shard, lib.SafetensorsFile.parse(data, `${folder}/${shard}`));
    }
    source = new ShardedSource(index, shards, file);
  }
  return build(folder, config, source, file, device, progress, start, {
    preprocessorConfig,
    checkpointBytes: bytes,
  });
}

/** Parameters the model declares (from its checkpoint keys and shapes). */
export function parameterCount(model: AnyDinov2Model): number {
  let n = 0;
  for (const shape of model.params.expected.values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}
