// Decoding and preprocessing for `embed`, ahead of the GPU: a pool of worker threads
// (prepare_worker.ts, built next to the CLI as dist/prepare_worker.js), or the main thread when
// there are no workers (`--workers 0`, or the CLI run from its sources).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type LoadImageNodeOptions, loadImageNode } from '../image/decode_node.js';
import type { ImageProcessor } from '../image/processors.js';
import { imageError } from './model_source.js';

export interface PrepareRequest {
  seq: number;
  id: string;
  load: LoadImageNodeOptions;
}

export type PrepareResult = (
  | { id: string; pixels: Float32Array; dims: number[] }
  | { id: string; error: string }
) & { decodeMs: number; preprocessMs: number };

export class Preparer {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, (r: PrepareResult) => void>();
  private seq = 0;
  private failure: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly processor: ImageProcessor,
    private readonly load: LoadImageNodeOptions,
    workers: number,
  ) {
    const url = new URL('./prepare_worker.js', import.meta.url);
    if (url.protocol !== 'file:' || !existsSync(fileURLToPath(url))) return;
    for (let i = 0; i < workers; i++) {
      const w = new Worker(url);
      w.on('message', ({ seq, result }: { seq: number; result: PrepareResult }) => {
        this.waiting.get(seq)?.(result);
        this.waiting.delete(seq);
      });
      w.on('error', (e) => {
        this.failure = e;
        for (const [seq, done] of this.waiting)
          done({ id: `#${seq}`, error: `worker failed: ${e.message}`, decodeMs: 0, preprocessMs: 0 });
        this.waiting.clear();
      });
      this.workers.push(w);
    }
  }

  /** How many threads decode and preprocess (0: the main thread). */
  get threads(): number {
    return this.workers.length;
  }

  prepare(id: string): Promise<PrepareResult> {
    if (this.failure) throw this.failure;
    if (this.workers.length === 0) {
      // One image at a time here too, so that the times measured are the work's, not a queue's.
      const result = this.queue.then(() => this.here(id));
      this.queue = result;
      return result;
    }
    const seq = this.seq++;
    return new Promise((done) => {
      this.waiting.set(seq, done);
      this.workers[seq % this.workers.length].postMessage({
        seq,
        id,
        load: this.load,
        // The worker makes the same processor from this (imageProcessorFromConfig).
        config: { ...this.processor.config, image_processor_type: this.processor.image_processor_type },
      });
    });
  }

  private async here(id: string): Promise<PrepareResult> {
    const a = performance.now();
    try {
      const img = await loadImageNode(id, this.load);
      const b = performance.now();
      const { pixel_values, dims } = this.processor.preprocess(img);
      return {
        id,
        pixels: pixel_values,
        dims: [...dims],
        decodeMs: b - a,
        preprocessMs: performance.now() - b,
      };
    } catch (e) {
      return { id, error: imageError(id, e), decodeMs: performance.now() - a, preprocessMs: 0 };
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
