// The shown run's last_hidden_state as a file: .npy (numpy) or .json (tokens by role).
import { read } from './forward.js';
import type { Run } from './state.js';
import { embeddingsJson } from './views/embeddings.js';
import { toNpy } from './views/npy.js';

function download(bytes: BlobPart, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const safe = (s: string) => s.replace(/[^\w.-]+/g, '_');
const fileStem = (r: Run) => `${safe(r.modelName)}-${safe(r.source.name.replace(/\.[^.]*$/, ''))}`;

export async function downloadEmbeddings(r: Run, kind: 'npy' | 'json'): Promise<void> {
  const t = r.out.last_hidden_state;
  const data = await read(r, t);
  if (kind === 'npy')
    download(
      toNpy(data, t.dims) as Uint8Array<ArrayBuffer>,
      `${fileStem(r)}-last_hidden_state.npy`,
      'application/octet-stream',
    );
  else
    download(
      JSON.stringify(embeddingsJson(r.modelName, r.source.name, data, t.dims, r.layout)),
      `${fileStem(r)}-embeddings.json`,
      'application/json',
    );
}
