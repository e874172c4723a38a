// transformers.js' pipeline() for the two tasks these checkpoints serve:
//   const extract = await pipeline('image-feature-extraction', model, { pooling });
//   const embeddings = await extract(images);          // { data, dims: [B, D] }, one row per image
//   const classify = await pipeline('image-classification', model);
//   const top = await classify(image, { top_k: 5 });  // [{ label, score }] (an array of them per image for an array)
// `model` is anything from_pretrained takes; `images` one or an array of load_image's inputs.
import { type ImageInput, type LoadImageOptions, load_image } from './image/load_image.js';
import type { ImageProcessor } from './image/processors.js';
import type { PretrainedSource } from './io/hub.js';
import { AutoModel, type BaseModel, baseModelFrom, modelProcessor } from './model/auto.js';
import type { PretrainedOptions } from './model/from_pretrained.js';
import { Dinov2WithRegistersForImageClassification } from './model/modeling.js';
import { type Pooling, POOLINGS, poolEmbeddings, pooledSize } from './model/pooling.js';

export const PIPELINE_TASKS = ['image-feature-extraction', 'image-classification'] as const;
export type PipelineTask = (typeof PIPELINE_TASKS)[number];

export interface PipelineOptions extends PretrainedOptions, LoadImageOptions {
  /** Images per forward (default 8). */
  batch_size?: number;
}

export interface FeatureExtractionOptions extends PipelineOptions {
  /** 'cls' (default: the pooler output), 'mean' (of the patch tokens) or 'cls+patch-mean' (both, 2D). */
  pooling?: Pooling;
}

/** One row per image, [images, D] (2D for 'cls+patch-mean'), as transformers.js' Tensor holds it. */
export interface EmbeddingTensor {
  data: Float32Array;
  dims: [number, number];
  /** The rows as arrays of numbers. */
  tolist(): number[][];
}

export interface ClassificationResult {
  label: string;
  score: number;
}

export interface ClassifyOptions {
  /** Labels per image, most likely first (default 5, at most num_labels). */
  top_k?: number;
}

interface PipelineBase<M> {
  readonly task: PipelineTask;
  readonly model: M;
  readonly processor: ImageProcessor;
  /** Frees the model's GPU memory. */
  dispose(): void;
}

export interface ImageFeatureExtractionPipeline extends PipelineBase<BaseModel> {
  (images: ImageInput | readonly ImageInput[]): Promise<EmbeddingTensor>;
  readonly pooling: Pooling;
}

export interface ImageClassificationPipeline extends PipelineBase<Dinov2WithRegistersForImageClassification> {
  /** One image: its top_k labels. */
  (images: ImageInput, options?: ClassifyOptions): Promise<ClassificationResult[]>;
  /** An array of images: the top_k labels of each. */
  (images: readonly ImageInput[], options?: ClassifyOptions): Promise<ClassificationResult[][]>;
}

export class PipelineError extends Error {
  override name = 'PipelineError';
}

export function pipeline(
  task: 'image-feature-extraction',
  model: PretrainedSource,
  options?: FeatureExtractionOptions,
): Promise<ImageFeatureExtractionPipeline>;
export function pipeline(
  task: 'image-classification',
  model: PretrainedSource,
  options?: PipelineOptions,
): Promise<ImageClassificationPipeline>;
export async function pipeline(
  task: PipelineTask,
  model: PretrainedSource,
  options: FeatureExtractionOptions = {},
): Promise<ImageFeatureExtractionPipeline | ImageClassificationPipeline> {
  const batchSize = options.batch_size ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new PipelineError(`pipeline: batch_size must be a positive integer, got ${batchSize}`);
  if (task === 'image-feature-extraction') return featureExtraction(model, options, batchSize);
  if (task === 'image-classification') return classification(model, options, batchSize);
  throw new PipelineError(
    `pipeline: unknown task ${JSON.stringify(task)}; tasks: ${PIPELINE_TASKS.join(', ')}`,
  );
}

/** The images in batches of `size`, each loaded and preprocessed into one pixel_values. */
async function* batches(
  processor: ImageProcessor,
  images: readonly ImageInput[],
  size: number,
  options: LoadImageOptions,
) {
  for (let i = 0; i < images.length; i += size) {
    const chunk = images.slice(i, i + size);
    const loaded = [];
    for (const image of chunk) loaded.push(await load_image(image, options));
    yield (await processor(loaded)).pixel_values;
  }
}

function listOf(images: ImageInput | readonly ImageInput[]): readonly ImageInput[] {
  const list = Array.isArray(images) ? (images as readonly ImageInput[]) : [images as ImageInput];
  if (list.length === 0) throw new PipelineError('pipeline: no images');
  return list;
}

async function featureExtraction(
  source: PretrainedSource,
  options: FeatureExtractionOptions,
  batchSize: number,
): Promise<ImageFeatureExtractionPipeline> {
  const pooling = options.pooling ?? 'cls';
  if (!POOLINGS.includes(pooling))
    throw new PipelineError(`pipeline: pooling must be one of ${POOLINGS.join(', ')}, got ${pooling}`);
  const model = await baseModelFrom(source, options);
  const processor = modelProcessor(model);
  const prefix = 1 + model.config.num_register_tokens;
  const width = pooledSize(pooling, model.config.hidden_size);
  const load = { auto_orient: options.auto_orient };
  const extract = async (images: ImageInput | readonly ImageInput[]): Promise<EmbeddingTensor> => {
    const list = listOf(images);
    const data = new Float32Array(list.length * width);
    let row = 0;
    for await (const pixel_values of batches(processor, list, batchSize, load)) {
      const out = await model.forward(pixel_values);
      try {
        const hidden = await out.last_hidden_state.read();
        data.set(poolEmbeddings(hidden, out.last_hidden_state.dims, prefix, pooling), row * width);
      } finally {
        out.last_hidden_state.dispose();
        out.pooler_output.dispose();
      }
      row += pixel_values.dims[0];
    }
    return {
      data,
      dims: [list.length, width],
      tolist: () =>
        Array.from({ length: list.length }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width))),
    };
  };
  return Object.assign(extract, {
    task: 'image-feature-extraction' as const,
    model,
    processor,
    pooling,
    dispose: () => model.dispose(),
  });
}

async function classification(
  source: PretrainedSource,
  options: PipelineOptions,
  batchSize: number,
): Promise<ImageClassificationPipeline> {
  const loaded = await AutoModel.from_pretrained(source, options);
  if (!(loaded instanceof Dinov2WithRegistersForImageClassification)) {
    loaded.dispose();
    throw new PipelineError(
      `pipeline('image-classification'): ${loaded.source ?? String(source)} has no classification head (config.json architectures: ${loaded.config.architectures.join(', ') || 'none'}); use 'image-feature-extraction'`,
    );
  }
  const model = loaded;
  const processor = modelProcessor(model);
  const load = { auto_orient: options.auto_orient };
  async function classify(images: ImageInput, options?: ClassifyOptions): Promise<ClassificationResult[]>;
  async function classify(
    images: readonly ImageInput[],
    options?: ClassifyOptions,
  ): Promise<ClassificationResult[][]>;
  async function classify(
    images: ImageInput | readonly ImageInput[],
    { top_k = 5 }: ClassifyOptions = {},
  ): Promise<ClassificationResult[] | ClassificationResult[][]> {
    if (!Number.isInteger(top_k) || top_k < 1)
      throw new PipelineError(`classify: top_k must be a positive integer, got ${top_k}`);
    const k = Math.min(top_k, model.config.num_labels);
    const results: ClassificationResult[][] = [];
    for await (const pixel_values of batches(processor, listOf(images), batchSize, load)) {
      const { logits } = await model.forward(pixel_values);
      try {
        for (const top of await model.topK(logits, k))
          results.push(top.map(({ label, score }) => ({ label, score })));
      } finally {
        logits.dispose();
      }
    }
    return Array.isArray(images) ? results : results[0];
  }
  return Object.assign(classify, {
    task: 'image-classification' as const,
    model,
    processor,
    dispose: () => model.dispose(),
  });
}
