import { writeFile } from 'node:fs/promises';
import type { GpuTensor } from '../gpu/tensor.js';
import { readLocalCheckpoint, readSafetensorsFile } from '../io/local_checkpoint.js';
import { type WritableTensor, writeSafetensors } from '../io/safetensors.js';
import { modelClassFor } from '../model/auto.js';
import { InputError } from '../model/inputs.js';
import { parseDtype } from '../model/precision.js';
import { integerList, parseArgs, required } from './args.js';

export const INFER_USAGE =
  'dinov2-webgpu infer --model DIR --input IN.safetensors --output OUT.safetensors [--output-attentions] [--output-hidden-states] [--out-indices i,j] [--dtype fp32|fp16|fp16-emulated]';

/**
 * Runs the checkpoint in DIR on `pixel_values` [B, 3, H, W] (and `bool_masked_pos` [B, patches]
 * when present) and writes every output under its transformers name.
 */
export async function infer(argv: string[], log: (line: string) => void): Promise<void> {
  const args = parseArgs(
    argv,
    ['model', 'input', 'output', 'out-indices', 'dtype'],
    ['output-attentions', 'output-hidden-states'],
  );
  const dir = required(args, 'model');
  const inputPath = required(args, 'input');
  const outputPath = required(args, 'output');
  const dtype = parseDtype(args.values.get('dtype'));
  const outIndices = args.values.has('out-indices')
    ? integerList(args.values.get('out-indices')!, 'out-indices')
    : undefined;

  const input = await readSafetensorsFile(inputPath);
  if (!input.has('pixel_values')) throw new InputError(`${inputPath} has no tensor named pixel_values`);
  const pixel_values = { data: input.float32('pixel_values'), dims: input.info('pixel_values').shape };
  let bool_masked_pos: { data: Uint8Array; dims: readonly number[] } | undefined;
  if (input.has('bool_masked_pos')) {
    const info = input.info('bool_masked_pos');
    if (info.dtype !== 'BOOL' && info.dtype !== 'U8')
      throw new InputError(`${inputPath}: bool_masked_pos must be BOOL or U8, not ${info.dtype}`);
    bool_masked_pos = { data: input.bytes('bool_masked_pos'), dims: info.shape };
  }

  const checkpoint = await readLocalCheckpoint(dir);
  const cls = modelClassFor(checkpoint.config);
  log(
    `${cls.name} (${checkpoint.config.num_hidden_layers} layers, hidden ${checkpoint.config.hidden_size}) on pixel_values [${pixel_values.dims.join(', ')}]`,
  );
  const model = await cls.fromCheckpoint(checkpoint.config, checkpoint.source, {
    file: checkpoint.file,
    dtype,
  });
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
  await writeFile(outputPath, writeSafetensors(tensors, { producer: 'dinov2-webgpu infer' }));
  log(
    `wrote ${Object.keys(tensors).length} tensors to ${outputPath} (forward and readback ${ms.toFixed(0)} ms, ${model.lastStats.dispatches} dispatches, ${model.deviceInfo.adapterInfo.description || model.deviceInfo.adapterInfo.vendor})`,
  );
  model.dispose();
}
