// pipeline() against what the command line's embed and classify compute in process: the image
// processor, the model's forward, then poolEmbeddings (every pooling) or topK, on the same images.
// The pipelines run in batches of 2 over 3 images; the reference runs all 3 in one forward.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadImageNode } from '../../src/image/decode_node.js';
import { DINOv3ViTImageProcessor } from '../../src/image/dinov3_processor.js';
import type { ModelConfig } from '../../src/io/model_config.js';
import { AutoModel, baseModelFrom, processorFor } from '../../src/model/auto.js';
import { DINOv3ViTModel } from '../../src/model/modeling_dinov3.js';
import { Dinov2WithRegistersForImageClassification } from '../../src/model/modeling.js';
import { POOLINGS, poolEmbeddings, pooledSize } from '../../src/model/pooling.js';
import { PipelineError, pipeline } from '../../src/pipelines.js';
import { REPO_ROOT } from '../../tools/chromium.js';
import { relativeError } from '../helpers/compare.js';

const TINY = join(REPO_ROOT, 'weights/tiny-dinov2-with-registers');
const CLASSIFIER = join(REPO_ROOT, 'test/fixtures/golden/tiny-classifier');
/** A DINOv3 checkpoint without preprocessor_config.json: DINOv3's processor, its defaults. */
const TINY_V3 = join(REPO_ROOT, 'test/fixtures/golden-dinov3/tiny-v3-mlp');
const IMAGES = ['img0-640x480.png', 'img1-300x500.png', 'img5-257x333.png'].map((f) =>
  join(REPO_ROOT, 'test/fixtures/preprocess', f),
);

/** pixel_values [3, 3, H, W] of IMAGES, one image at a time through the processor. */
async function pixelValues(preprocessorConfig: unknown, config?: ModelConfig) {
  const processor = processorFor(preprocessorConfig, 'test', config);
  const one = [];
  for (const image of IMAGES)
    one.push(processor.preprocess(await loadImageNode(image, { autoOrient: true })));
  const size = one[0].pixel_values.length;
  const data = new Float32Array(IMAGES.length * size);
  one.forEach((p, i) => data.set(p.pixel_values, i * size));
  return { data, dims: [IMAGES.length, ...one[0].dims.slice(1)] };
}

describe('pipeline', () => {
  it.each([
    ['DINOv2', TINY],
    ['DINOv3', TINY_V3],
  ])("'image-feature-extraction' gives processor + forward + poolEmbeddings, for every pooling (%s)", async (family, dir) => {
    const model = await baseModelFrom(dir);
    const out = await model.forward(await pixelValues(model.preprocessorConfig, model.config));
    const hidden = await out.last_hidden_state.read();
    const prefix = 1 + model.config.num_register_tokens;
    const hiddenSize = model.config.hidden_size;
    model.dispose();
    for (const pooling of POOLINGS) {
      const extract = await pipeline('image-feature-extraction', dir, { pooling, batch_size: 2 });
      try {
        expect(extract.task).toBe('image-feature-extraction');
        expect(extract.model instanceof DINOv3ViTModel).toBe(family === 'DINOv3');
        expect(extract.processor instanceof DINOv3ViTImageProcessor).toBe(family === 'DINOv3');
        expect(extract.pooling).toBe(pooling);
        const reference = poolEmbeddings(hidden, out.last_hidden_state.dims, prefix, pooling);
        const width = pooledSize(pooling, hiddenSize);
        const got = await extract(IMAGES);
        expect(got.dims).toEqual([IMAGES.length, width]);
        for (let i = 0; i < IMAGES.length; i++) {
          const row = (a: Float32Array) => a.subarray(i * width, (i + 1) * width);
          expect(relativeError(row(got.data), row(reference)), `${pooling}, image ${i}`).toBeLessThanOrEqual(
            1e-6,
          );
          expect(got.tolist()[i]).toEqual(Array.from(row(got.data)));
        }
        // One image (not in an array) is a batch of one.
        const single = await extract(IMAGES[1]);
        expect(single.dims).toEqual([1, width]);
        expect(relativeError(single.data, reference.subarray(width, 2 * width))).toBeLessThanOrEqual(1e-6);
      } finally {
        extract.dispose();
      }
    }
  });

  it("'image-classification' gives processor + forward + topK", async () => {
    const model = await AutoModel.from_pretrained(CLASSIFIER);
    expect(model).toBeInstanceOf(Dinov2WithRegistersForImageClassification);
    const classifier = model as Dinov2WithRegistersForImageClassification;
    const { logits } = await classifier.forward(await pixelValues(model.preprocessorConfig));
    const reference = await classifier.topK(logits, 3);
    const all = await classifier.topK(logits, 1000);
    classifier.dispose();

    const classify = await pipeline('image-classification', CLASSIFIER, { batch_size: 2 });
    try {
      const got = await classify(IMAGES, { top_k: 3 });
      expect(got).toHaveLength(IMAGES.length);
      for (let i = 0; i < IMAGES.length; i++) {
        expect(got[i].map((r) => r.label)).toEqual(reference[i].map((r) => r.label));
        for (let k = 0; k < 3; k++)
          expect(Math.abs(got[i][k].score - reference[i][k].score)).toBeLessThanOrEqual(1e-6);
        expect(Object.keys(got[i][0]).sort()).toEqual(['label', 'score']);
      }
      // One image: its list, not a list of lists; top_k defaults to 5, at most num_labels.
      const one = await classify(IMAGES[0]);
      expect(one.map((r) => r.label)).toEqual(all[0].slice(0, 5).map((r) => r.label));
      expect(await classify(IMAGES[0], { top_k: 1000 })).toHaveLength(all[0].length);
    } finally {
      classify.dispose();
    }
  });

  it('refuses what it cannot do, naming it', async () => {
    await expect(pipeline('image-classification', TINY)).rejects.toThrow(
      /has no classification head \(config\.json architectures: Dinov2WithRegistersModel\)/,
    );
    await expect(pipeline('depth-estimation' as 'image-classification', TINY)).rejects.toBeInstanceOf(
      PipelineError,
    );
    await expect(pipeline('image-feature-extraction', TINY, { pooling: 'max' as 'cls' })).rejects.toThrow(
      /pooling must be one of cls, mean, cls\+patch-mean, got max/,
    );
  });
});
