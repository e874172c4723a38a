// What one forward puts on the GPU, checked against the device's limits before any GPU work, so
// that an input too large for the device is refused naming the tensor that would not fit, instead
// of failing halfway through recording. Sizes follow src/model/modeling.ts and embeddings.ts; the
// test (test/reliability/inputs.test.ts) checks them against the buffers a real forward creates.
import { GpuLimitError, storageLimit } from '../gpu/buffers.js';
import { isDinov3, mlpFeatures, type ModelConfig } from '../io/model_config.js';

/** The sizes of one call (modeling.ts's per-call `Prepared` has them all). */
export interface CallShape {
  batch: number;
  height: number;
  width: number;
  /** gridH * gridW: floor(height / patch) * floor(width / patch). */
  patches: number;
  /** 1 (cls) + registers + patches. */
  tokens: number;
}

/** The optional outputs of the call, which add buffers. */
export interface CallOutputs {
  output_attentions?: boolean;
  classifier?: boolean;
  /** Bytes per element of qkv, context and the MLP hidden layer: 4, or 2 with dtype 'fp16'. */
  blockBytes?: number;
}

export type BufferLimits = Pick<GPUSupportedLimits, 'maxBufferSize' | 'maxStorageBufferBindingSize'>;

export interface PlannedBuffer {
  name: string;
  /** float32 (or u32; f16 for the block activations with dtype 'fp16') elements. */
  dims: number[];
  /** As GpuMemory.create sizes it: 4 bytes an element (or blockBytes), rounded up to 16, never empty. */
  bytes: number;
}

/** One scratch buffer of the encoder: its name (the workspace's key), dims and bytes per element. */
export interface ScratchBuffer {
  name: string;
  dims: number[];
  elementBytes: number;
}

/**
 * The encoder's scratch buffers for a call of `batch` images of `tokens` tokens: the residual
 * stream, and what every layer shares (qkv, context and the MLP hidden layer in the block storage,
 * `blockBytes` an element). The one list the forward (encoder.ts), the budget below and the tests use.
 */
export function encoderScratch(
  config: ModelConfig,
  shape: { batch: number; tokens: number },
  blockBytes = 4,
): {
  hidden: ScratchBuffer;
  qkv: ScratchBuffer;
  context: ScratchBuffer;
  stats: ScratchBuffer;
  mlpHidden: ScratchBuffer;
} {
  const rows = shape.batch * shape.tokens;
  const d = config.hidden_size;
  const at = (name: string, dims: number[], elementBytes = 4) => ({ name, dims, elementBytes });
  return {
    hidden: at('hidden', [rows, d]),
    qkv: at('qkv', [rows, 3 * d], blockBytes),
    context: at('context', [rows, d], blockBytes),
    // Per (image, head, query): the softmax's (max, sum).
    stats: at('attention stats', [shape.batch, config.num_attention_heads, shape.tokens, 2]),
    mlpHidden: at('mlp hidden', [rows, mlpFeatures(config)], blockBytes),
  };
}

/** Bytes of a scratch buffer as its dims say (GpuMemory.create rounds up). */
export function scratchBytes(s: ScratchBuffer): number {
  return s.dims.reduce((a, b) => a * b, 1) * s.elementBytes;
}

/**
 * Every size of buffer one forward creates (each size once: `hidden` stands for every [B*T, D]
 * buffer: the residual stream, hidden_states.i, last_hidden_state, feature maps).
 */
export function forwardBuffers(
  config: ModelConfig,
  shape: CallShape,
  outputs: CallOutputs = {},
): PlannedBuffer[] {
  const { batch: b, height, width, patches, tokens: t } = shape;
  const d = config.hidden_size;
  const c = config.num_channels;
  const p = config.patch_size;
  const scratch = Object.values(encoderScratch(config, shape, outputs.blockBytes));
  const planned: [string, number[], number?][] = [
    ['pixel_values', [b, c, height, width]],
    ['bool_masked_pos', [b, patches]],
    ['embeddings im2col', [b * patches, c * p * p]],
    ['embeddings.patch_embeddings', [b * patches, d]],
    isDinov3(config)
      ? [`rope_embeddings`, [patches, d / config.num_attention_heads / 2, 2]]
      : ['embeddings.position_embeddings', [1 + patches, d]],
    ...scratch.map((s): [string, number[], number] => [s.name, s.dims, s.elementBytes]),
    ['pooler_output', [b, d]],
  ];
  // Attention maps are split across buffers of whole (image, head) blocks: one block must fit.
  if (outputs.output_attentions) planned.push(['attentions (one head of one image)', [t, t]]);
  if (outputs.classifier)
    planned.push(
      ['classifier input', [b, 2 * d]],
      ['logits', [b, 'num_labels' in config ? config.num_labels : 0]],
    );
  return planned.map(([name, dims, bytes = 4]) => ({
    name,
    dims,
    bytes: Math.max(16, Math.ceil((bytes * dims.reduce((x, y) => x * y, 1)) / 16) * 16),
  }));
}

/**
 * Throws a GpuLimitError naming the largest buffer of the call that exceeds the device's
 * maxStorageBufferBindingSize or maxBufferSize (every buffer of a forward is bound as storage).
 */
export function checkForwardFits(
  config: ModelConfig,
  shape: CallShape,
  outputs: CallOutputs,
  limits: BufferLimits,
): void {
  const limit = storageLimit(limits);
  const over = forwardBuffers(config, shape, outputs)
    .filter((x) => x.bytes > limit.bytes)
    .sort((x, y) => y.bytes - x.bytes);
  if (!over.length) return;
  const [worst, ...others] = over;
  const image = `${shape.batch} image${shape.batch === 1 ? '' : 's'} of ${shape.height}x${shape.width}`;
  const remedy = worst.name.startsWith('attentions')
    ? 'leave output_attentions off, or pass a smaller image'
    : 'pass fewer images per call, or smaller ones';
  const also = others.length ? ` (also too large: ${others.map((x) => x.name).join(', ')})` : '';
  throw new GpuLimitError(
    `${worst.name} [${worst.dims.join(', ')}] needs ${worst.bytes} bytes for ${image}, more than this device's ${limit.name} (${limit.bytes}): ${remedy}${also}`,
  );
}
