// `dinov2-webgpu classify`: the top-k labels of a classification checkpoint for each image.
import { loadImageNode } from '../image/decode_node.js';
import { AutoModel, processorFor } from '../model/auto.js';
import { Dinov2WithRegistersForImageClassification } from '../model/modeling.js';
import { parseArgs, required, UsageError } from './args.js';
import { checkImagesExist, hubOptions, MODEL_FLAGS, MODEL_USAGE, MODEL_VALUED } from './model_source.js';
import { Progress } from './progress.js';

export const CLASSIFY_USAGE = `dinov2-webgpu classify IMAGE... ${MODEL_USAGE} [--top-k K] [--json] [--auto-orient]`;

export async function classify(
  argv: string[],
  log: (line: string) => void,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<void> {
  const args = parseArgs(argv, [...MODEL_VALUED, 'top-k'], [...MODEL_FLAGS, 'json', 'auto-orient']);
  const images = args.positional;
  if (images.length === 0) throw new UsageError('give at least one IMAGE');
  const modelId = required(args, 'model');
  const k = Number(args.values.get('top-k') ?? 5);
  if (!Number.isInteger(k) || k < 1) throw new UsageError('--top-k must be a positive integer');

  checkImagesExist(images);
  const progress = new Progress();
  const model = await AutoModel.from_pretrained(modelId, hubOptions(args, progress));
  progress.end();
  try {
    if (!(model instanceof Dinov2WithRegistersForImageClassification)) {
      throw new Error(
        `${modelId} has no classification head (config.json architectures: ${model.config.architectures.join(', ') || 'none'}); use embed`,
      );
    }
    const processor = processorFor(model.preprocessorConfig, `${model.source}/preprocessor_config.json`);
    const results: { image: string; top: { label: string; index: number; score: number }[] }[] = [];
    for (const image of images) {
      const img = await loadImageNode(image, { autoOrient: args.flags.has('auto-orient') }).catch(
        (e: Error) => {
          throw new Error(`${image}: ${e.message}`);
        },
      );
      const { pixel_values, dims } = processor.preprocess(img);
      const { logits } = await model.forward({ data: pixel_values, dims: [...dims] });
      const [top] = await model.topK(logits, Math.min(k, model.config.num_labels));
      logits.dispose();
      results.push({ image, top });
    }
    if (args.flags.has('json')) print(JSON.stringify(results, null, 2));
    else {
      for (const r of results) {
        print(r.image);
        for (const t of r.top) print(`  ${t.score.toFixed(4)}  ${t.label} (${t.index})`);
      }
    }
    log(`classified ${images.length} image${images.length === 1 ? '' : 's'} with ${model.source}`);
  } finally {
    model.dispose();
  }
}
