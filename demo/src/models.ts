// Getting a model onto the GPU. Every source goes through the library's AutoModel.from_pretrained
// with the page's device: a bundled folder served with the page (models/<id>/, see
// demo/vite.config.ts), a hub id, or the files of a folder the user picked or dropped (single
// model.safetensors or an index with its shards).
import { AutoModel, parseImageProcessorConfig, type PretrainedSource } from 'dinov2-webgpu';
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
  const model = await AutoModel.from_pretrained(source, {
    device: state.device,
    // The bundled files are served with the page: nothing to keep in the browser's cache.
    cache: entry.kind === 'hub',
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
    const processorConfig = parseImageProcessorConfig(
      model.preprocessorConfig ?? {},
      `${name}/preprocessor_config.json`,
    );
    const weights = [...sizes].filter(([file]) => file.endsWith('.safetensors'));
    return {
      entry,
      model,
      name,
      processorConfig,
      checkpointBytes: weights.length ? weights.reduce((a, [, n]) => a + n, 0) : undefined,
      loadMs: performance.now() - start,
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
