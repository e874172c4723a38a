// `dinov2-webgpu embed`: one vector per image, in batches, written as .npy (+ .ids.txt), JSON or
// safetensors. Work is done in batches of `--batch-size` consecutive inputs counted from the first
// input of the job, and saved as it goes in parts (OUTPUT.parts/, each part a whole number of
// batches, written atomically), so that `--resume` recomputes exactly the missing batches and
// `--shard K/N` runs exactly the batches of one unsharded run: the same bytes either way.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';
import { type BaseModel, baseModelFrom, modelProcessor } from '../model/auto.js';
import { poolEmbeddings, pooledSize, type Pooling, POOLINGS } from '../model/pooling.js';
import {
  type CommandSpec,
  nonNegativeInteger,
  type ParsedArgs,
  positiveInteger,
  required,
  UsageError,
} from './args.js';
import { Preparer } from './prepare.js';
import {
  type Embeddings,
  encodeEmbeddings,
  FORMATS,
  type Format,
  idsPath,
  idsText,
  STREAMING,
} from './embeddings_file.js';
import { listInputs, parseShard, shardBatches } from './inputs.js';
import { imageOptions, hubOptions, MODEL_OPTIONS, IMAGE_OPTIONS } from './model_source.js';
import { checkOutputPath, onInterrupt, outputFormat, writeFileAtomic, writeStdout } from './output.js';
import { Progress } from './progress.js';

export { float32Text, npy } from './embeddings_file.js';

export const EMBED_COMMAND: CommandSpec = {
  name: 'embed',
  summary:
    'Writes one vector per image (files, folders searched recursively, or a list of paths and URLs) with the identifier of each row; bulk jobs split into shards and resume after an interruption.',
  positional: 'IMAGE|FOLDER...',
  options: [
    ...MODEL_OPTIONS,
    {
      name: 'output',
      value: 'FILE',
      required: true,
      help: 'where the vectors go; .npy writes the identifiers to FILE.ids.txt beside it; - is standard output (npy, json)',
    },
    {
      name: 'format',
      value: 'npy|json|safetensors',
      default: 'the extension, else npy',
      help: 'output format',
    },
    {
      name: 'pooling',
      value: 'cls|mean|cls+patch-mean',
      default: 'cls',
      help: 'the pooler output, the mean of the patch tokens, or both (the classifier input)',
    },
    { name: 'batch-size', value: 'N', default: '8', help: 'images per forward' },
    { name: 'input-list', value: 'FILE', help: 'also embed the paths or URLs in FILE, one per line' },
    {
      name: 'shard',
      value: 'K/N',
      help: 'embed only share K (0 <= K < N) of the batches; merge the N outputs with `dinov2-webgpu merge`',
    },
    { name: 'resume', help: 'continue an interrupted run from what it saved in FILE.parts/' },
    {
      name: 'part-size',
      value: 'ROWS',
      default: '1024',
      help: 'save progress to FILE.parts/ every ROWS rows',
    },
    {
      name: 'skip-bad',
      help: 'skip images that cannot be read (each reported by name) instead of stopping at the first',
    },
    ...IMAGE_OPTIONS,
    {
      name: 'workers',
      value: 'N',
      default: 'CPUs - 1, at most 4',
      help: 'threads that decode and preprocess ahead of the GPU (0: the main thread)',
    },
    { name: 'profile', help: 'print the time spent per stage (decode, preprocess, upload, forward, write)' },
  ],
  example:
    'dinov2-webgpu embed photos/ --model facebook/dinov2-with-registers-small --pooling cls --output photos.npy',
};

/** What a run saves in OUTPUT.parts/manifest.json: a resumed run must be the same job. */
interface Job {
  model: string;
  pooling: Pooling;
  batchSize: number;
  shard: string;
  inputs: number;
  /** sha256 of the identifiers, one per line. */
  inputsSha256: string;
}

interface Part {
  first: number;
  end: number;
  file: string;
}

const PART_NAME = /^batches-(\d+)-(\d+)\.safetensors$/;

function partsOf(folder: string): Part[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .map((f) => ({ f, m: PART_NAME.exec(f) }))
    .filter((x) => x.m)
    .map((x) => ({ first: Number(x.m![1]), end: Number(x.m![2]), file: join(folder, x.f) }))
    .sort((a, b) => a.first - b.first);
}

function readPart(part: Part): {
  ids: string[];
  skipped: [string, string][];
  data: Float32Array;
  dim: number;
} {
  const file = SafetensorsFile.parse(new Uint8Array(readFileSync(part.file)), part.file);
  const [, dim] = file.info('embeddings').shape;
  return {
    ids: JSON.parse(file.header.metadata.ids),
    skipped: JSON.parse(file.header.metadata.skipped),
    data: file.float32('embeddings'),
    dim,
  };
}

/** Seconds as m:ss or h:mm:ss. */
function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return hms[0]
    ? `${hms[0]}:${String(hms[1]).padStart(2, '0')}:${String(hms[2]).padStart(2, '0')}`
    : `${hms[1]}:${String(hms[2]).padStart(2, '0')}`;
}

type Prepared = { id: string; pixels: Float32Array; dims: number[] } | { id: string; error: string };

const STAGES = ['decode', 'preprocess', 'upload', 'forward', 'write'] as const;

export async function embed(args: ParsedArgs, log: (line: string) => void): Promise<void> {
  const model = required(args, 'model');
  const output = required(args, 'output');
  const pooling = (args.values.get('pooling') ?? 'cls') as Pooling;
  if (!POOLINGS.includes(pooling))
    throw new UsageError(`--pooling must be one of ${POOLINGS.join(', ')}, got ${pooling}`);
  const format: Format = outputFormat(output, args.values.get('format'), FORMATS, 'npy', STREAMING);
  const batchSize = positiveInteger(args, 'batch-size', 8);
  const partSize = positiveInteger(args, 'part-size', 1024);
  const shard = parseShard(args.values.get('shard'));
  const skipBad = args.flags.has('skip-bad');
  const resume = args.flags.has('resume');
  const workers = nonNegativeInteger(args, 'workers', Math.max(1, Math.min(4, availableParallelism() - 1)));
  const toStdout = output === '-';
  if (toStdout && resume)
    throw new UsageError('--resume needs an --output file (its parts are kept beside it)');
  if (args.positional.length === 0 && !args.values.has('input-list'))
    throw new UsageError('give at least one IMAGE, FOLDER or --input-list');

  // Everything that can be checked is checked before the model is loaded.
  const inputs = listInputs(args.positional, args.values.get('input-list'));
  const local = inputs.filter((i) => !/^https?:\/\//i.test(i));
  if (!toStdout) {
    checkOutputPath(output, local);
    if (format === 'npy') checkOutputPath(idsPath(output), local, '--output (identifiers)');
  }
  const job: Job = {
    model,
    pooling,
    batchSize,
    shard: `${shard.index}/${shard.count}`,
    inputs: inputs.length,
    inputsSha256: createHash('sha256')
      .update(inputs.map((i) => `${i}\n`).join(''))
      .digest('hex'),
  };
  const partsDir = toStdout ? mkdtempSync(join(tmpdir(), 'dinov2-webgpu-embed-')) : `${output}.parts`;
  if (toStdout) onInterrupt(() => rmSync(partsDir, { recursive: true, force: true }));
  const manifestPath = join(partsDir, 'manifest.json');
  // A folder with no part in it (a run killed before its first part) holds nothing to resume.
  if (!toStdout && existsSync(partsDir) && partsOf(partsDir).length === 0)
    rmSync(partsDir, { recursive: true, force: true });
  if (!toStdout && existsSync(partsDir)) {
    if (!resume)
      throw new UsageError(
        `${partsDir} holds the saved parts of an interrupted run: add --resume to continue it, or delete it to start over`,
      );
    const saved = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : undefined;
    const differs = saved && Object.keys(job).filter((k) => saved[k] !== job[k as keyof Job]);
    if (!saved || differs.length)
      throw new UsageError(
        `--resume: ${partsDir} was saved by a different job (${saved ? `different ${differs.join(', ')}` : 'no manifest.json'}); delete it to start over`,
      );
  }
  const { first, end } = shardBatches(inputs.length, batchSize, shard);
  const done = new Set<number>();
  for (const p of partsOf(partsDir)) for (let b = p.first; b < p.end; b++) done.add(b);
  const todo: number[] = [];
  for (let b = first; b < end; b++) if (!done.has(b)) todo.push(b);
  const shardImages = Math.min(end * batchSize, inputs.length) - first * batchSize;
  const todoImages = todo.reduce((n, b) => n + Math.min(batchSize, inputs.length - b * batchSize), 0);

  const progress = new Progress();
  const time: Record<(typeof STAGES)[number], number> = {
    decode: 0,
    preprocess: 0,
    upload: 0,
    forward: 0,
    write: 0,
  };
  let m: BaseModel | undefined;
  let closePreparer = async () => {};
  try {
    m = await baseModelFrom(model, hubOptions(args, progress));
    const t0 = performance.now();
    progress.end();
    const processor = modelProcessor(m);
    const prefix = 1 + m.config.num_register_tokens;
    const width = pooledSize(pooling, m.config.hidden_size);
    mkdirSync(partsDir, { recursive: true });
    if (!existsSync(manifestPath))
      await writeFileAtomic(manifestPath, new TextEncoder().encode(`${JSON.stringify(job)}\n`));
    const plural = (n: number) => `${n} image${n === 1 ? '' : 's'}`;
    log(
      `${plural(shardImages)}${shard.count > 1 ? ` (shard ${job.shard} of ${plural(inputs.length)})` : ''}${todoImages < shardImages ? `, ${plural(todoImages)} left to do` : ''}, ${pooling} pooling (${width} floats each), batches of up to ${batchSize}, model ${m.source}`,
    );

    const preparer = new Preparer(processor, imageOptions(args), workers);
    closePreparer = () => preparer.close();
    const prepare = async (id: string): Promise<Prepared> => {
      const r = await preparer.prepare(id);
      time.decode += r.decodeMs;
      time.preprocess += r.preprocessMs;
      return r;
    };
    const prepareBatch = (b: number) =>
      Promise.all(inputs.slice(b * batchSize, Math.min((b + 1) * batchSize, inputs.length)).map(prepare));

    // Decoding and preprocessing of the next batches run while the GPU works on this one.
    const AHEAD = 2;
    const pending = new Map<number, Promise<Prepared[]>>();
    let part: { first: number; ids: string[]; skipped: [string, string][]; rows: Float32Array[] } | undefined;
    let imagesDone = 0;
    const started = performance.now();
    const flush = async (endBatch: number) => {
      if (!part || part.first >= endBatch) return;
      const a = performance.now();
      const data = new Float32Array(part.ids.length * width);
      let at = 0;
      for (const r of part.rows) {
        data.set(r, at);
        at += r.length;
      }
      await writeFileAtomic(
        join(
          partsDir,
          `batches-${String(part.first).padStart(9, '0')}-${String(endBatch).padStart(9, '0')}.safetensors`,
        ),
        writeSafetensors(
          { embeddings: { dtype: 'F32', shape: [part.ids.length, width], data } },
          { ids: JSON.stringify(part.ids), skipped: JSON.stringify(part.skipped) },
        ),
      );
      time.write += performance.now() - a;
      part = undefined;
    };

    for (let i = 0; i < todo.length; i++) {
      const b = todo[i];
      for (let j = i; j < Math.min(todo.length, i + 1 + AHEAD); j++)
        if (!pending.has(todo[j])) pending.set(todo[j], prepareBatch(todo[j]));
      const items = await pending.get(b)!;
      pending.delete(b);
      // A part holds consecutive batches only.
      if (part && i > 0 && todo[i - 1] !== b - 1) await flush(todo[i - 1] + 1);
      part ??= { first: b, ids: [], skipped: [], rows: [] };
      const bad = items.filter((x): x is { id: string; error: string } => 'error' in x);
      for (const x of bad) {
        if (!skipBad) {
          await flush(b);
          const kept = !toStdout && partsOf(partsDir).length > 0;
          throw new Error(
            `${x.error} (stopped; ${kept ? `what was done is kept in ${partsDir}: rerun with --resume to continue, ` : ''}add --skip-bad to skip unreadable images)`,
          );
        }
        log(`skipped ${x.error}`);
        part.skipped.push([x.id, x.error]);
      }
      const good = items.filter(
        (x): x is { id: string; pixels: Float32Array; dims: number[] } => 'pixels' in x,
      );
      // One forward per run of images of one size (the processor's crop gives one size, unless it is off).
      for (let s = 0; s < good.length; ) {
        let e = s + 1;
        while (e < good.length && good[e].dims[2] === good[s].dims[2] && good[e].dims[3] === good[s].dims[3])
          e++;
        const [, c, h, w] = good[s].dims;
        const data = new Float32Array((e - s) * c * h * w);
        for (let k = s; k < e; k++) data.set(good[k].pixels, (k - s) * c * h * w);
        const a = performance.now();
        const out = await m.forward({ data, dims: [e - s, c, h, w] });
        const f = performance.now();
        time.upload += f - a;
        const hidden = await out.last_hidden_state.read();
        time.forward += performance.now() - f;
        part.rows.push(poolEmbeddings(hidden, out.last_hidden_state.dims, prefix, pooling));
        out.last_hidden_state.dispose();
        out.pooler_output.dispose();
        for (let k = s; k < e; k++) part.ids.push(good[k].id);
        s = e;
      }
      imagesDone += items.length;
      const seconds = (performance.now() - started) / 1000;
      const rate = imagesDone / seconds;
      progress.update(
        'embedding',
        imagesDone,
        todoImages,
        false,
        `${rate.toFixed(rate < 10 ? 2 : 1)} images/s, ETA ${clock((todoImages - imagesDone) / rate)}`,
      );
      if (part.ids.length >= partSize) await flush(b + 1);
    }
    if (todo.length) await flush(todo[todo.length - 1] + 1);
    progress.end();

    // The whole shard is in parts: the output, then the parts go.
    const a = performance.now();
    const parts = partsOf(partsDir);
    const all = { ids: [] as string[], skipped: [] as [string, string][], data: [] as Float32Array[] };
    let next = first;
    for (const p of parts) {
      if (p.first !== next) throw new Error(`${partsDir}: batches ${next} to ${p.first - 1} are missing`);
      const r = readPart(p);
      if (r.dim !== width && r.ids.length)
        throw new Error(`${p.file}: rows of ${r.dim} floats, expected ${width}`);
      all.ids.push(...r.ids);
      all.skipped.push(...r.skipped);
      all.data.push(r.data);
      next = p.end;
    }
    if (next !== end) throw new Error(`${partsDir}: batches ${next} to ${end - 1} are missing`);
    const data = new Float32Array(all.ids.length * width);
    let at = 0;
    for (const d of all.data) {
      data.set(d, at);
      at += d.length;
    }
    const result: Embeddings = { model, pooling, dim: width, ids: all.ids, data };
    const bytes = encodeEmbeddings(format, result);
    if (toStdout) await writeStdout([bytes]);
    else {
      if (format === 'npy') await writeFileAtomic(idsPath(output), idsText(all.ids));
      await writeFileAtomic(output, bytes);
    }
    rmSync(partsDir, { recursive: true, force: true });
    time.write += performance.now() - a;
    if (all.skipped.length)
      log(
        `skipped ${plural(all.skipped.length)} that could not be read: ${all.skipped.map(([id]) => id).join(', ')}`,
      );
    log(
      `wrote ${all.ids.length} x ${width} float32 (${pooling}) to ${toStdout ? 'standard output' : output} (${format}${format === 'npy' && !toStdout ? `; identifiers in ${idsPath(output)}` : ''})`,
    );
    if (args.flags.has('profile')) {
      const wall = (performance.now() - t0) / 1000;
      log(
        `profile: ${todoImages} images in ${wall.toFixed(2)} s after loading (${(todoImages / wall).toFixed(2)} images/s); time per stage, summed over images (stages overlap): ${STAGES.map((s) => `${s} ${(time[s] / 1000).toFixed(2)} s`).join(', ')}`,
      );
    }
  } catch (e) {
    // A run that saved nothing leaves nothing to resume.
    if (!toStdout && partsOf(partsDir).length === 0) rmSync(partsDir, { recursive: true, force: true });
    throw e;
  } finally {
    await closePreparer();
    m?.dispose();
    if (toStdout) rmSync(partsDir, { recursive: true, force: true });
  }
}
