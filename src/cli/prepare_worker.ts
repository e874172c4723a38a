// A worker thread of `embed`: decodes an image and runs the image processor on it, so that the
// main thread only feeds the GPU. Built as dist/prepare_worker.js (vite.config.ts).
import { parentPort } from 'node:worker_threads';
import { loadImageNode } from '../image/decode_node.js';
import { type ImageProcessor, imageProcessorFromConfig } from '../image/processors.js';
import type { PrepareRequest, PrepareResult } from './prepare.js';
import { imageError } from './model_source.js';

let processor: ImageProcessor | undefined;
let configKey = '';

// One image at a time, so that the times measured are the work's, not a queue's.
let queue = Promise.resolve();
parentPort!.on('message', (q: PrepareRequest & { config: unknown }) => {
  queue = queue.then(() => handle(q));
});

async function handle(q: PrepareRequest & { config: unknown }): Promise<void> {
  const key = JSON.stringify(q.config);
  if (key !== configKey) {
    processor = imageProcessorFromConfig(q.config, 'the image processor of embed');
    configKey = key;
  }
  const a = performance.now();
  let result: PrepareResult;
  try {
    const img = await loadImageNode(q.id, q.load);
    const b = performance.now();
    const { pixel_values, dims } = processor!.preprocess(img);
    result = {
      id: q.id,
      pixels: pixel_values,
      dims: [...dims],
      decodeMs: b - a,
      preprocessMs: performance.now() - b,
    };
  } catch (e) {
    result = { id: q.id, error: imageError(q.id, e), decodeMs: performance.now() - a, preprocessMs: 0 };
  }
  parentPort!.postMessage(
    { seq: q.seq, result },
    'pixels' in result ? [result.pixels.buffer as ArrayBuffer] : [],
  );
}
