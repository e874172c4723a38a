// `dinov2-webgpu classify`: the top-k labels of a classification checkpoint for each image.
import { loadImageNode } from '../image/decode_node.js';
import { AutoModel, modelProcessor } from '../model/auto.js';
import { Dinov2WithRegistersForImageClassification } from '../model/modeling.js';
import { type CommandSpec, type ParsedArgs, positiveInteger, required, UsageError } from './args.js';
import {
  imageOptions,
  checkFilesExist,
  hubOptions,
  imageError,
  MODEL_OPTIONS,
  IMAGE_OPTIONS,
} from './model_source.js';
import { Progress } from './progress.js';

export const CLASSIFY_COMMAND: CommandSpec = {
  name: 'classify',
  summary: "Prints the top-k labels of a classification checkpoint (config.json's id2label) for each image.",
  positional: 'IMAGE...',
  options: [
    ...MODEL_OPTIONS,
    { name: 'top-k', value: 'K', default: '5', help: 'labels per image' },
    { name: 'json', help: 'print JSON instead of text' },
    ...IMAGE_OPTIONS,
  ],
  example:
    'dinov2-webgpu classify cat.jpg --model facebook/dinov2-with-registers-small-imagenet1k-1-layer --top-k 3',
};

export async function classify(
  args: ParsedArgs,
  log: (line: string) => void,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<void> {
  const images = args.positional;
  if (images.length === 0) throw new UsageError('give at least one IMAGE');
  const modelId = required(args, 'model');
  const k = positiveInteger(args, 'top-k', 5);

  checkFilesExist(images);
  const progress = new Progress();
  const model = await AutoModel.from_pretrained(modelId, hubOptions(args, progress));
  progress.end();
  try {
    if (!(model instanceof Dinov2WithRegistersForImageClassification)) {
      throw new Error(
        `${modelId} has no classification head (config.json architectures: ${model.config.architectures.join(', ') || 'none'}); use embed`,
      );
    }
    const processor = modelProcessor(model);
    const results: { image: string; top: { label: string; index: number; score: number }[] }[] = [];
    for (const image of images) {
      const img = await loadImageNode(image, imageOptions(args)).catch((e: Error) => {
        throw new Error(imageError(image, e));
      });
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
