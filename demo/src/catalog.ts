// The checkpoints the model picker offers, and which plain DINOv2 checkpoint is the twin of which
// with-registers one (same size, same training, without the register tokens). DINOv3 was released
// with registers only: its checkpoints have no twin.

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
  /** Gated on the hub (the DINOv3 checkpoints): a token of an account with access is needed. */
  gated?: boolean;
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

/** The published DINOv3 ViTs (patch 16, 4 registers; float32 safetensors), smallest first. */
export const DINOV3_SIZES = [
  { name: 'vits16', params: '21M', download: '≈ 86 MB' },
  { name: 'vits16plus', params: '29M', download: '≈ 115 MB' },
  { name: 'vitb16', params: '86M', download: '≈ 345 MB' },
  { name: 'vitl16', params: '300M', download: '≈ 1.2 GB' },
  { name: 'vith16plus', params: '840M', download: '≈ 3.4 GB' },
  { name: 'vit7b16', params: '6.7B', download: '≈ 27 GB' },
] as const;

/** facebook/dinov3-{size}-pretrain-lvd1689m: gated on the hub (each needs a token with access). */
export function dinov3HubEntries(): CatalogEntry[] {
  return DINOV3_SIZES.map(({ name, params, download }) => {
    const id = `facebook/dinov3-${name}-pretrain-lvd1689m`;
    return {
      key: `hub:${id}`,
      kind: 'hub',
      id,
      classifier: false,
      gated: true,
      label: `${id} (${params}, ${download}, gated)`,
    };
  });
}

export function bundledEntry(id: string, label: string, random = false): CatalogEntry {
  return { key: `bundled:${id}`, kind: 'bundled', id, label, classifier: false, random };
}

/** The hub checkpoint the page suggests for real maps. */
export const HUB_EXAMPLE = 'facebook/dinov2-with-registers-small';
/** The same for a DINOv3 model shown (gated: the page says a token is needed). */
export const HUB_EXAMPLE_DINOV3 = 'facebook/dinov3-vits16-pretrain-lvd1689m';

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
