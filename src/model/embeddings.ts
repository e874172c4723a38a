import type { GpuMemory } from '../gpu/buffers.js';
import { type Recorder, rowsGrid } from '../gpu/recorder.js';
import { isDinov3, type ModelConfig } from '../io/model_config.js';
import { GridTables } from '../gpu/lru.js';
import { Linear } from './linear.js';
import type { Parameter } from './packing.js';
import type { ParameterSet } from './parameters.js';
import { positionEmbeddingsFor } from './position_embeddings.js';

/** embeddings.wgsl's workgroup size (its THREADS override). */
export const EMBEDDINGS_THREADS = 256;

export interface ImageShape {
  batch: number;
  height: number;
  width: number;
}

/**
 * `embeddings`: Dinov2WithRegistersEmbeddings (plain Dinov2Embeddings when there are no registers)
 * or DINOv3ViTEmbeddings. The patch convolution runs as im2col + linear. DINOv2's position
 * embeddings are resampled on the host in float64 once per patch grid and kept on the GPU; DINOv3
 * has none (its positions enter as RoPE in the attention), and its checkpoint keys differ: the
 * convolution is `patch_embeddings` (no `.projection`), mask_token is [1, 1, D] and
 * register_tokens is present even when empty.
 */
export class Embeddings {
  readonly cls: Parameter;
  readonly mask: Parameter | undefined;
  readonly registers: Parameter | undefined;
  readonly positions: Parameter | undefined;
  readonly projection: Linear;
  readonly patch: number;
  readonly channels: number;
  readonly hidden: number;
  readonly registerCount: number;
  private readonly antialias: boolean;
  /** Position tables per patch grid. */
  private readonly positionTables = new GridTables();

  constructor(params: ParameterSet, key: string, config: ModelConfig) {
    const d = config.hidden_size;
    const p = config.patch_size;
    const c = config.num_channels;
    this.patch = p;
    this.channels = c;
    this.hidden = d;
    this.registerCount = config.num_register_tokens;
    // transformers interpolates with antialias in the with-registers model only.
    this.antialias = config.model_type === 'dinov2_with_registers';
    this.cls = params.tensor(`${key}.cls_token`, [1, 1, d]);
    if (isDinov3(config)) {
      this.mask = params.tensor(`${key}.mask_token`, [1, 1, d]);
      this.registers = params.tensor(`${key}.register_tokens`, [1, config.num_register_tokens, d]);
      this.positions = undefined;
      this.projection = new Linear(params, `${key}.patch_embeddings`, d, c * p * p, {
        weightShape: [d, c, p, p],
      });
      return;
    }
    const gridPositions = Math.floor(config.image_size / p) ** 2;
    this.mask = config.use_mask_token ? params.tensor(`${key}.mask_token`, [1, d]) : undefined;
    this.registers =
      config.model_type === 'dinov2_with_registers'
        ? params.tensor(`${key}.register_tokens`, [1, config.num_register_tokens, d])
        : undefined;
    this.positions = params.tensor(`${key}.position_embeddings`, [1, gridPositions + 1, d], true);
    this.projection = new Linear(params, `${key}.patch_embeddings.projection`, d, c * p * p, {
      weightShape: [d, c, p, p],
    });
  }

  grid(shape: ImageShape): { gridH: number; gridW: number; patches: number; tokens: number } {
    const gridH = Math.floor(shape.height / this.patch);
    const gridW = Math.floor(shape.width / this.patch);
    return { gridH, gridW, patches: gridH * gridW, tokens: 1 + this.registerCount + gridH * gridW };
  }

  private positionBuffer(memory: GpuMemory, shape: ImageShape): GPUBuffer {
    const { gridH, gridW } = this.grid(shape);
    // transformers skips interpolation only for the checkpoint's patch count and height == width.
    const key = `${gridH}x${gridW}:${shape.height === shape.width}`;
    return this.positionTables.get(memory, 'embeddings.position_embeddings', key, () => {
      const host = this.positions?.host;
      if (!host) throw new Error('embeddings.position_embeddings is not loaded');
      return positionEmbeddingsFor(host, this.hidden, this.patch, shape.height, shape.width, this.antialias);
    });
  }

  /** hidden [B * T, D] = the embeddings output (hidden_states[0]). */
  forward(
    rec: Recorder,
    pixels: GPUBuffer,
    shape: ImageShape,
    boolMaskedPos: GPUBuffer,
    hidden: GPUBuffer,
  ): void {
    const { patches, tokens } = this.grid(shape);
    const constants = {
      CHANNELS: this.channels,
      PATCH: this.patch,
      D: this.hidden,
      REGISTERS: this.registerCount,
      POSITIONS: this.positions ? 1 : 0,
      THREADS: EMBEDDINGS_THREADS,
    };
    const cols = this.channels * this.patch * this.patch;
    const patchRows = shape.batch * patches;
    const columns = rec.scratchBuffer('embeddings im2col', patchRows * cols * 4);
    const uniform = rec.shape({ rows: shape.batch * tokens });
    rec.dispatch('embeddings', 'im2col', constants, { pixel_values: pixels, columns, shape: uniform }, [
      Math.ceil(cols / EMBEDDINGS_THREADS),
      ...rowsGrid(patchRows),
    ]);
    const projected = rec.scratchBuffer('embeddings.patch_embeddings', patchRows * this.hidden * 4);
    this.projection.forward(rec, columns, patchRows, projected);
    const rows = shape.batch * tokens;
    rec.dispatch(
      'embeddings',
      'assemble_tokens',
      constants,
      {
        patches: projected,
        cls_token: this.cls.gpu,
        // Stand-ins where there is nothing to read (no registers, no mask token, no positions).
        register_tokens: this.registerCount ? this.registers!.gpu : this.cls.gpu,
        mask_token: this.mask?.gpu ?? this.cls.gpu,
        bool_masked_pos: boolMaskedPos,
        position_embeddings: this.positions ? this.positionBuffer(rec.memory, shape) : this.cls.gpu,
        hidden,
        shape: uniform,
      },
      [Math.ceil(this.hidden / EMBEDDINGS_THREADS), ...rowsGrid(rows)],
    );
  }

  /** Frees the cached position tables. */
  release(): void {
    this.positionTables.clear();
  }
}
