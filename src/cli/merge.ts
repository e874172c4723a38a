// `dinov2-webgpu merge`: the outputs of `embed --shard K/N` (K = 0..N-1), concatenated in the order
// given, as one file: the rows, identifiers and bytes of one unsharded run.
import { extname } from 'node:path';
import { type CommandSpec, type ParsedArgs, required, UsageError } from './args.js';
import {
  type Embeddings,
  encodeEmbeddings,
  FORMATS,
  type Format,
  idsPath,
  idsText,
  readEmbeddings,
  STREAMING,
} from './embeddings_file.js';
import { checkFilesExist } from './model_source.js';
import { checkOutputPath, outputFormat, writeFileAtomic, writeStdout } from './output.js';

export const MERGE_COMMAND: CommandSpec = {
  name: 'merge',
  summary:
    'Concatenates the outputs of `embed --shard K/N` (in the order given: shard 0 first) into the file one unsharded run writes.',
  positional: 'PART...',
  options: [
    {
      name: 'output',
      value: 'FILE',
      required: true,
      help: "the merged file, in the parts' format (.npy gets FILE.ids.txt beside it); - is standard output (npy, json)",
    },
  ],
  example: 'dinov2-webgpu merge emb-0.npy emb-1.npy emb-2.npy --output emb.npy',
};

export async function merge(args: ParsedArgs, log: (line: string) => void): Promise<void> {
  const parts = args.positional;
  if (parts.length === 0) throw new UsageError('give the PART files to merge');
  const output = required(args, 'output');
  const format = extname(parts[0]).slice(1).toLowerCase() as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`${parts[0]}: not a .npy, .json or .safetensors file`);
  const other = parts.find((p) => extname(p).slice(1).toLowerCase() !== format);
  if (other) throw new UsageError(`${other}: the parts must all be .${format}`);
  if (outputFormat(output, undefined, [format], format, STREAMING) !== format)
    throw new UsageError(`--output ${output}: the merged file is .${format}`);
  checkFilesExist(parts);
  if (output !== '-') {
    checkOutputPath(output, parts);
    if (format === 'npy') checkOutputPath(idsPath(output), parts.map(idsPath), '--output (identifiers)');
  }
  const read = parts.map((p) => readEmbeddings(format, p));
  const first = read[0];
  read.forEach((r, i) => {
    for (const key of ['dim', 'model', 'pooling'] as const)
      if (r[key] !== first[key])
        throw new Error(`${parts[i]}: ${key} ${r[key]} differs from ${parts[0]}'s (${first[key]})`);
  });
  const data = new Float32Array(read.reduce((n, r) => n + r.data.length, 0));
  let at = 0;
  for (const r of read) {
    data.set(r.data, at);
    at += r.data.length;
  }
  const merged: Embeddings = { ...first, ids: read.flatMap((r) => r.ids), data };
  const bytes = encodeEmbeddings(format, merged);
  if (output === '-') await writeStdout([bytes]);
  else {
    if (format === 'npy') await writeFileAtomic(idsPath(output), idsText(merged.ids));
    await writeFileAtomic(output, bytes);
  }
  log(
    `merged ${parts.length} file${parts.length === 1 ? '' : 's'}, ${merged.ids.length} rows of ${merged.dim} floats, into ${output === '-' ? 'standard output' : output}`,
  );
}
