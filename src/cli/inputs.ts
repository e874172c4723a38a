// What `embed` reads: image files, folders (searched recursively for image extensions, in code-point
// order of their paths) and `--input-list` files (one path or URL per line), each row named by its
// identifier: the path as given (a folder's files as `folder/relative/path`). And `--shard K/N`: a
// deterministic contiguous share of the batches, so N processes split one job with no coordination.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './args.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

const isUrl = (s: string) => /^https?:\/\//i.test(s);

function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function walk(folder: string, out: string[]): void {
  const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) =>
    compareCodePoints(a.name, b.name),
  );
  for (const e of entries) {
    const path = join(folder, e.name);
    // Links to folders are not followed (no cycles); links to files are.
    if (e.isDirectory()) walk(path, out);
    else if (
      (e.isFile() || (e.isSymbolicLink() && statSync(path, { throwIfNoEntry: false })?.isFile())) &&
      IMAGE_EXTENSIONS.some((x) => e.name.toLowerCase().endsWith(x))
    )
      out.push(path);
  }
}

/** Every image of `args` (files, folders, URLs) then of the list file, in order; missing files are one error. */
export function listInputs(args: readonly string[], listFile?: string): string[] {
  const out: string[] = [];
  const missing: string[] = [];
  for (const arg of args) {
    if (isUrl(arg)) out.push(arg);
    else if (!existsSync(arg)) missing.push(arg);
    else if (statSync(arg).isDirectory()) {
      const found: string[] = [];
      walk(arg, found);
      if (found.length === 0)
        throw new UsageError(`${arg}: no images in this folder (looked for ${IMAGE_EXTENSIONS.join(' ')})`);
      out.push(...found);
    } else out.push(arg);
  }
  if (listFile !== undefined) {
    if (!existsSync(listFile)) throw new Error(`--input-list ${listFile}: no such file`);
    const lines = readFileSync(listFile, 'utf8').split('\n');
    for (const line of lines.map((l) => l.replace(/\r$/, ''))) {
      if (line.trim() === '') continue;
      if (!isUrl(line) && !existsSync(line)) missing.push(line);
      else out.push(line);
    }
  }
  if (missing.length)
    throw new Error(
      `${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}: no such file${missing.length > 1 ? 's' : ''}`,
    );
  const named = out.find((id) => /[\n\r]/.test(id));
  if (named !== undefined)
    throw new Error(`${JSON.stringify(named)}: a line break in a path cannot be listed`);
  if (out.length === 0) throw new UsageError('give at least one IMAGE, FOLDER or --input-list');
  return out;
}

export interface Shard {
  index: number;
  count: number;
}

/** "K/N" with 0 <= K < N. */
export function parseShard(text: string | undefined): Shard {
  if (text === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
    throw new UsageError(
      `--shard takes K/N with 0 <= K < N (as Kubernetes' and Slurm's indexes), got ${text}`,
    );
  return { index: Number(m[1]), count: Number(m[2]) };
}

/**
 * The batches (of `batchSize` consecutive inputs, counted from the first input of the whole job)
 * that shard K of N embeds: a contiguous range, so that merging the shards in order gives the rows
 * of one unsharded run, computed in the same batches (hence the same bytes).
 */
export function shardBatches(
  inputs: number,
  batchSize: number,
  shard: Shard,
): { first: number; end: number } {
  const batches = Math.ceil(inputs / batchSize);
  return {
    first: Math.floor((shard.index * batches) / shard.count),
    end: Math.floor(((shard.index + 1) * batches) / shard.count),
  };
}
