// Files dropped on or pasted into the page: folders walked, so a dropped checkpoint folder arrives
// as its files (and its name).

export interface Dropped {
  files: File[];
  /** The name of the one folder dropped, if a single folder was. */
  folder?: string;
}

export async function droppedFiles(dt: DataTransfer): Promise<Dropped> {
  const entries = Array.from(dt.items)
    .map((i) => i.webkitGetAsEntry?.())
    .filter((e): e is FileSystemEntry => !!e);
  if (!entries.some((e) => e.isDirectory)) return { files: Array.from(dt.files) };
  const files: File[] = [];
  const walk = async (e: FileSystemEntry): Promise<void> => {
    if (e.isFile)
      files.push(await new Promise<File>((ok, fail) => (e as FileSystemFileEntry).file(ok, fail)));
    else if (e.isDirectory) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const e of entries) await walk(e);
  return { files, folder: entries.length === 1 ? entries[0].name : undefined };
}
