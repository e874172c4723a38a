// `dinov2-webgpu infer`: transformers' forward on pixel_values from a safetensors file, every output
// written under its transformers name.
import { existsSync } from 'node:fs';
import type { GpuTensor } from '../gpu/tensor.js';
import { readSafetensorsFile } from '../io/local_checkpoint.js';
import { type WritableTensor, writeSafetensors } from '../io/safetensors.js';
import { AutoModel } from '../model/auto.js';
import { InputError } from '../model/inputs.js';
import { type CommandSpec, integerList, type ParsedArgs, required } from './args.js';
import { hubOptions, MODEL_OPTIONS } from './model_source.js';
import { checkOutputPath, outputFormat, writeFileAtomic } from './output.js';
import { Progress } from './progress.js';

export const INFER_COMMAND: CommandSpec = {
  name: 'infer',
  summary:
    'Runs the model on pixel_values [B, 3, H, W] (and bool_masked_pos when present) from a safetensors file and writes every output under its transformers name.',
  positional: '',
  options: [
    ...MODEL_OPTIONS,
    {
      name: 'input',
      value: 'IN.safetensors',
      required: true,
      help: 'pixel_values (F32), as `preprocess` writes it',
    },
    { name: 'output', value: 'OUT.safetensors', required: true, help: 'where the outputs go' },
    { name: 'output-attentions', help: 'also write attentions.{i} [B, heads, T, T]' },
    { name: 'output-hidden-states', help: 'also write hidden_states.{i}' },
    { name: 'out-indices', value: 'i,j', help: 'stages whose feature maps a backbone returns' },
  ],
  example:
    'dinov2-webgpu infer --model facebook/dinov2-with-registers-small --input cat.safetensors --output out.safetensors',
};

/**
 * Runs the checkpoint (a folder or a hub id) on `pixel_values` [B, 3, H, W] (and `bool_masked_pos`
 * [B, patches] when present) and writes every output under its transformers name.
 */
export async function infer(args: ParsedArgs, log: (line: string) => void): Promise<void> {
  const modelId = required(args, 'model');
  const inputPath = required(args, 'input');
  const outputPath = required(args, 'output');
  const outIndices = args.values.has('out-indices')
    ? integerList(args.values.get('out-indices')!, 'out-indices')
    : undefined;
  outputFormat(outputPath, undefined, ['safetensors'], 'safetensors', []);
  if (!existsSync(inputPath)) throw new Error(`${inputPath}: no such file`);
  checkOutputPath(outputPath, [inputPath]);

  const input = await readSafetensorsFile(inputPath).catch((e: Error) => {
    // A file that is not safetensors at all: say so, not which header field failed first.
    if (/header length|not valid JSON|header is not|shorter than/i.test(e.message))
      throw new InputError(
        `${inputPath}: not a safetensors file (${e.message.replace(`${inputPath}: `, '')})`,
      );
    throw e;
  });
  if (!input.has('pixel_values')) throw new InputError(`${inputPath} has no tensor named pixel_values`);
  const pixel_values = { data: input.float32('pixel_values'), dims: input.info('pixel_values').shape };
  let bool_masked_pos: { data: Uint8Array; dims: readonly number[] } | undefined;
  if (input.has('bool_masked_pos')) {
    const info = input.info('bool_masked_pos');
    if (info.dtype !== 'BOOL' && info.dtype !== 'U8')
      throw new InputError(`${inputPath}: bool_masked_pos must be BOOL or U8, not ${info.dtype}`);
    bool_masked_pos = { data: input.bytes('bool_masked_pos'), dims: info.shape };
  }

  const progress = new Progress();
  const model = await AutoModel.from_pretrained(modelId, hubOptions(args, progress));
  progress.end();
  try {
    log(
      `${model.constructor.name} (${model.config.num_hidden_layers} layers, hidden ${model.config.hidden_size}) on pixel_values [${pixel_values.dims.join(', ')}]`,
    );
    const t0 = performance.now();
    const out = await model.forwardAll(pixel_values, {
      bool_masked_pos,
      output_attentions: args.flags.has('output-attentions'),
      output_hidden_states: args.flags.has('output-hidden-states'),
      out_indices: outIndices,
    });
    const tensors: Record<string, WritableTensor> = {};
    const add = async (name: string, t: GpuTensor | undefined) => {
      if (t) tensors[name] = { dtype: 'F32', shape: t.dims, data: await t.read() };
    };
    await add('last_hidden_state', out.last_hidden_state);
    await add('pooler_output', out.pooler_output);
    for (const [i, t] of (out.hidden_states ?? []).entries()) await add(`hidden_states.${i}`, t);
    for (const [i, t] of (out.attentions ?? []).entries()) await add(`attentions.${i}`, t);
    await add('logits', out.logits);
    for (const [j, t] of out.feature_maps.entries()) await add(`feature_maps.${j}`, t);
    const ms = performance.now() - t0;
    await writeFileAtomic(outputPath, writeSafetensors(tensors, { producer: 'dinov2-webgpu infer' }));
    log(
      `wrote ${Object.keys(tensors).length} tensors to ${outputPath} (forward and readback ${ms.toFixed(0)} ms, ${model.lastStats.dispatches} dispatches, ${model.deviceInfo.adapterInfo.description || model.deviceInfo.adapterInfo.vendor})`,
    );
  } finally {
    model.dispose();
  }
}
