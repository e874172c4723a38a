// The checkpoints the model picker offers, and which plain DINOv2 checkpoint is the twin of which
// with-registers one (same size, same training, without the register tokens).

export type EntryKind = 'bundled' | 'hub' | 'local';

export interface CatalogEntry {
  /** The <option> value: `bundled:<id>`, `hub:<repo id>`, or `local`. */
  key: string;
  kind: EntryKind;
  /** Hub repository id, or the bundled folder's id. */
  id: string;
  label: string;
  classifier: boolean;
}

export const HUB_SIZES = [
  { size: 'small', params: '22M', download: '≈ 90 MB' },
  { size: 'base', params: '86M', download: '≈ 350 MB' },
  { size: 'large', params: '304M', download: '≈ 1.2 GB' },
  { size: 'giant', params: '1.1B', download: '≈ 4.5 GB' },
] as const;

/** facebook/dinov2-with-registers-{size} and their ImageNet linear-probe classifiers. */
export function hubEntries(): CatalogEntry[] {
  const entries: CatalogEntry[] = [];
  for (const classifier of [false, true]) {
    for (const { size, params, download } of HUB_SIZES) {
      const id = `facebook/dinov2-with-registers-${size}${classifier ? '-imagenet1k-1-layer' : ''}`;
      entries.push({
        key: `hub:${id}`,
        kind: 'hub',
        id,
        classifier,
        label: `${id} (${params}, ${download})`,
      });
    }
  }
  return entries;
}

export function bundledEntry(id: string, label: string): CatalogEntry {
  return { key: `bundled:${id}`, kind: 'bundled', id, label, classifier: false };
}

export const LOCAL_ENTRY: CatalogEntry = {
  key: 'local',
  kind: 'local',
  id: 'local folder',
  label: 'Local folder (config.json + model.safetensors)…',
  classifier: false,
};

/**
 * The twin of a checkpoint id: "dinov2-with-registers" <-> "dinov2" in the name
 * (facebook/dinov2-with-registers-small <-> facebook/dinov2-small, the -imagenet1k-1-layer
 * classifiers alike, tiny-dinov2-with-registers <-> tiny-dinov2). undefined when the name has neither.
 */
export function twinOf(id: string): string | undefined {
  if (id.includes('dinov2-with-registers')) return id.replace('dinov2-with-registers', 'dinov2');
  const m = /dinov2(?![\w-]*with-registers)/.exec(id);
  if (!m) return undefined;
  return `${id.slice(0, m.index)}dinov2-with-registers${id.slice(m.index + 'dinov2'.length)}`;
}
