// The checkpoints the model picker offers, and which plain DINOv2 checkpoint is the twin of which
// with-registers one (same size, same training, without the register tokens).

export type EntryKind = 'bundled' | 'hub' | 'local';

export interface CatalogEntry {
  /** The <option> value: `bundled:<id>`, `hub:<repo id>`, or `local`. */
  key: string;
  kind: EntryKind;
  /** Hub repository id, or the bundled folder's id. */
  id: string;
  /** The picker's text: names the checkpoint in full (the picker is as wide as its longest). */
  label: string;
  classifier: boolean;
  /** Random weights (the bundled tiny checkpoints): the maps are noise by design. */
  random?: boolean;
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

export function bundledEntry(id: string, label: string, random = false): CatalogEntry {
  return { key: `bundled:${id}`, kind: 'bundled', id, label, classifier: false, random };
}

/** The hub checkpoint the page suggests for real maps. */
export const HUB_EXAMPLE = 'facebook/dinov2-with-registers-small';

/** The picker's last option: opens the folder picker (the picker keeps naming the model shown until one loads). */
export const LOCAL_ENTRY: CatalogEntry = {
  key: 'local',
  kind: 'local',
  id: 'local folder',
  label: 'Local folder (config.json + model.safetensors)…',
  classifier: false,
};

/** The local option's text once `folder` is loaded from it. */
export const localLabel = (folder: string): string => `${folder} (local)`;

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
