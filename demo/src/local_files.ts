// Files the user picked or dropped: whether they hold a checkpoint, and the folder's name.

/** The file's name without the folder a directory picker prefixes. */
const baseName = (f: File) => f.name.split('/').pop()!;

/** Whether the files hold a checkpoint: config.json and model.safetensors (or a shard index). */
export function looksLikeCheckpoint(files: File[]): boolean {
  const names = new Set(files.map(baseName));
  return (
    names.has('config.json') && (names.has('model.safetensors') || names.has('model.safetensors.index.json'))
  );
}

/** A picked folder's name (files picked one by one, or dropped, carry none: `fallback`). */
export function folderName(files: File[], fallback = 'picked files'): string {
  return files[0]?.webkitRelativePath?.split('/')[0] || fallback;
}
