// Getting a model onto the GPU. Every source goes through the library's AutoModel.from_pretrained
// with the page's device: a bundled folder served with the page (models/<id>/, see
// demo/vite.config.ts), a hub id, or the files of a folder the user picked or dropped (single
// model.safetensors or an index with its shards). Hub checkpoints get the page's token (gated
// models: DINOv3), and the processor is the one the checkpoint names (the library's processorFor).
import { AutoModel, type PretrainedSource, processorFor } from 'dinov2-webgpu';
import { bundledEntry, type CatalogEntry } from './catalog.js';
import { folderName } from './local_files.js';
import type { Current, DemoState } from './state.js';

/** Progress in words and as a fraction (undefined when unknown). */
export type Progress = (text: string, fraction?: number) => void;

/** models/index.json, written by demo/vite.config.ts. */
interface BundledIndex {
  models: { id: string; label: string; random?: boolean }[];
}

/** The bundled checkpoints the page is served with (none when it is served without them). */
export async function bundledEntries(): Promise<CatalogEntry[]> {
  try {
    const res = await fetch('models/index.json');
    if (!res.ok) return [];
    const index = (await res.json()) as BundledIndex;
    return index.models.map((m) => bundledEntry(m.id, m.label, m.random ?? false));
  } catch {
    return []; // served without the bundled models: the hub and local folders remain
  }
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** Loads `entry` (for the local entry, from `files`, a folder called `folder`) onto state.device. */
export async function loadEntry(
  state: DemoState,
  entry: CatalogEntry,
  report: Progress,
  files: File[] = [],
  folder = folderName(files),
): Promise<Current> {
  if (!state.device) throw new Error('no WebGPU device');
  const start = performance.now();
  const source: PretrainedSource =
    entry.kind === 'bundled'
      ? new URL(`models/${entry.id}/`, location.href).href
      : entry.kind === 'hub'
        ? entry.id
        : files;
  const sizes = new Map<string, number>();
  const hub = entry.kind === 'hub';
  const model = await AutoModel.from_pretrained(source, {
    device: state.device,
    // The bundled files are served with the page: nothing to keep in the browser's cache.
    cache: hub,
    // Sent to the hub only (the library sends it to the endpoint alone), and only for hub models.
    token: hub && state.token ? state.token : undefined,
    // The hub was found unreachable a moment ago: fail at once instead of retrying for 20 s.
    retries: hub && state.hubUnreachable ? 0 : undefined,
    progress: (file, loaded, total) => {
      sizes.set(file, total);
      report(
        `reading ${file}: ${mb(loaded)}${total ? ` of ${mb(total)}` : ''}`,
        total ? loaded / total : undefined,
      );
    },
    onTensor: (done, total) => report(`uploading tensors to the GPU: ${done} of ${total}`, done / total),
  });
  const name = entry.kind === 'local' ? folder : entry.id;
  try {
    const processor = processorFor(
      model.preprocessorConfig,
      `${name}/preprocessor_config.json`,
      model.config,
    );
    const weights = [...sizes].filter(([file]) => file.endsWith('.safetensors'));
    return {
      entry,
      model,
      name,
      processor,
      checkpointBytes: weights.length ? weights.reduce((a, [, n]) => a + n, 0) : undefined,
      loadMs: performance.now() - start,
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
