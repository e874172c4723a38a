// `dinov2-webgpu embed`: one vector per image, in batches, written as .npy, JSON or safetensors.
import { rename, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { loadImageNode } from '../image/decode_node.js';
import { writeSafetensors } from '../io/safetensors.js';
import { processorFor } from '../model/auto.js';
import { Dinov2WithRegistersModel } from '../model/modeling.js';
import { poolEmbeddings, pooledSize, type Pooling, POOLINGS } from '../model/pooling.js';
import { parseArgs, required, UsageError } from './args.js';
import { checkImagesExist, hubOptions, MODEL_FLAGS, MODEL_USAGE, MODEL_VALUED } from './model_source.js';
import { Progress } from './progress.js';

export const EMBED_USAGE = `dinov2-webgpu embed IMAGES... ${MODEL_USAGE} [--pooling cls|mean|cls+patch-mean] [--format npy|json|safetensors] [--batch-size N] [--auto-orient] --output FILE`;

const FORMATS = ['npy', 'json', 'safetensors'] as const;
type Format = (typeof FORMATS)[number];

/** A .npy file (format 1.0) of float32 [rows, cols], little-endian, C order. */
export function npy(data: Float32Array, rows: number, cols: number): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const unpadded = 10 + header.length + 1;
  header += `${' '.repeat((64 - (unpadded % 64)) % 64)}\n`;
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** The shortest decimal that reads back as the same float32. */
export function float32Text(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`embedding value ${v} is not finite`);
  for (let p = 1; p <= 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}

export async function embed(argv: string[], log: (line: string) => void): Promise<void> {
  const args = parseArgs(
    argv,
    [...MODEL_VALUED, 'pooling', 'format', 'output', 'batch-size'],
    [...MODEL_FLAGS, 'auto-orient'],
  );
  const images = args.positional;
  if (images.length === 0) throw new UsageError('give at least one IMAGE');
  const model = required(args, 'model');
  const output = required(args, 'output');
  const pooling = (args.values.get('pooling') ?? 'cls') as Pooling;
  if (!POOLINGS.includes(pooling))
    throw new UsageError(`--pooling must be one of ${POOLINGS.join(', ')}, got ${pooling}`);
  const format = (args.values.get('format') ??
    FORMATS.find((f) => extname(output) === `.${f}`) ??
    'npy') as Format;
  if (!FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got ${format}`);
  const batchSize = Number(args.values.get('batch-size') ?? 8);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new UsageError(`--batch-size must be a positive integer`);

  checkImagesExist(images);
  const progress = new Progress();
  const m = await Dinov2WithRegistersModel.from_pretrained(model, hubOptions(args, progress));
  try {
    progress.end();
    const processor = processorFor(m.preprocessorConfig, `${m.source}/preprocessor_config.json`);
    const prefix = 1 + m.config.num_register_tokens;
    const width = pooledSize(pooling, m.config.hidden_size);
    const vectors = new Float32Array(images.length * width);
    log(
      `${images.length} images, ${pooling} pooling (${width} floats each), batches of up to ${batchSize}, model ${m.source}`,
    );

    // Images go to the GPU in batches of one size (the processor's crop gives one size, unless it is off).
    let done = 0;
    while (done < images.length) {
      const batch: { pixels: Float32Array; dims: number[] }[] = [];
      for (let i = done; i < images.length && batch.length < batchSize; i++) {
        const img = await loadImageNode(images[i], { autoOrient: args.flags.has('auto-orient') }).catch(
          (e: Error) => {
            throw new Error(`${images[i]}: ${e.message}`);
          },
        );
        const { pixel_values, dims } = processor.preprocess(img);
        if (batch.length && (dims[2] !== batch[0].dims[2] || dims[3] !== batch[0].dims[3])) break;
        batch.push({ pixels: pixel_values, dims: [...dims] });
      }
      const [, c, h, w] = batch[0].dims;
      const data = new Float32Array(batch.length * c * h * w);
      batch.forEach((b, j) => data.set(b.pixels, j * c * h * w));
      const out = await m.forward({ data, dims: [batch.length, c, h, w] });
      const hidden = await out.last_hidden_state.read();
      vectors.set(poolEmbeddings(hidden, out.last_hidden_state.dims, prefix, pooling), done * width);
      out.last_hidden_state.dispose();
      out.pooler_output.dispose();
      done += batch.length;
      progress.update('embedding', done, images.length, false);
    }
    progress.end();

    let bytes: Uint8Array;
    if (format === 'npy') bytes = npy(vectors, images.length, width);
    else if (format === 'safetensors') {
      bytes = writeSafetensors(
        { embeddings: { dtype: 'F32', shape: [images.length, width], data: vectors } },
        { producer: 'dinov2-webgpu embed', model, pooling, images: JSON.stringify(images) },
      );
    } else {
      const rows = images.map(
        (image, i) =>
          `    {"image": ${JSON.stringify(image)}, "embedding": [${Array.from(vectors.subarray(i * width, (i + 1) * width), float32Text).join(', ')}]}`,
      );
      bytes = new TextEncoder().encode(
        `{\n  "model": ${JSON.stringify(model)},\n  "pooling": ${JSON.stringify(pooling)},\n  "dim": ${width},\n  "embeddings": [\n${rows.join(',\n')}\n  ]\n}\n`,
      );
    }
    // Never a half-written output under its name.
    await writeFile(`${output}.partial`, bytes);
    await rename(`${output}.partial`, output);
    log(`wrote ${images.length} x ${width} float32 (${pooling}) to ${output} (${format})`);
  } finally {
    m.dispose();
  }
}
