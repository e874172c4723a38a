// DINOv3's 2D rotary position embedding (transformers' DINOv3ViTRopePositionEmbedding), computed
// once per patch grid on the host in float64, like DINOv2's resampled position embeddings.
//
// For an h x w patch grid (patch n = i·w + j, row-major) and head size d (a multiple of 4):
//   y_i = 2(i + 0.5)/h − 1,  x_j = 2(j + 0.5)/w − 1     (each axis normalised by its own length)
//   f_k = θ^(−4k/d), k = 0 .. d/4 − 1                    (θ = rope_theta)
//   a_m = 2π·y·f_m for m < d/4;  a_m = 2π·x·f_(m−d/4) for d/4 ≤ m < d/2;  a_m = a_(m−d/2) for m ≥ d/2
// and, per head, for q and k of the patch tokens only (cls and registers are not rotated):
//   q'_m = q_m cos a_m − q_(m+d/2) sin a_m,  q'_(m+d/2) = q_(m+d/2) cos a_m + q_m sin a_m   (m < d/2)
// i.e. q·cos a + rotate_half(q)·sin a. The training-time coordinate augmentations
// (pos_embed_shift / jitter / rescale) do not apply at inference.
import type { GpuMemory } from '../gpu/buffers.js';
import { GridTables } from '../gpu/lru.js';

export interface RopeTables {
  /** (h·w, d/2): cos a_m for m < d/2 (the second half of a repeats the first). */
  cos: Float64Array;
  /** (h·w, d/2). */
  sin: Float64Array;
  half: number; // d/2
}

export function ropeTables64(gridH: number, gridW: number, headDim: number, theta: number): RopeTables {
  if (!Number.isInteger(headDim) || headDim % 4 !== 0 || headDim <= 0)
    throw new Error(`RoPE needs a head size that is a positive multiple of 4, got ${headDim}`);
  const quarter = headDim / 4;
  const half = headDim / 2;
  const freq = Float64Array.from({ length: quarter }, (_, k) => theta ** ((-4 * k) / headDim));
  const patches = gridH * gridW;
  const cos = new Float64Array(patches * half);
  const sin = new Float64Array(patches * half);
  for (let i = 0; i < gridH; i++) {
    const y = (2 * (i + 0.5)) / gridH - 1;
    for (let j = 0; j < gridW; j++) {
      const x = (2 * (j + 0.5)) / gridW - 1;
      const o = (i * gridW + j) * half;
      for (let k = 0; k < quarter; k++) {
        const ay = 2 * Math.PI * y * freq[k];
        const ax = 2 * Math.PI * x * freq[k];
        cos[o + k] = Math.cos(ay);
        sin[o + k] = Math.sin(ay);
        cos[o + quarter + k] = Math.cos(ax);
        sin[o + quarter + k] = Math.sin(ax);
      }
    }
  }
  return { cos, sin, half };
}

/** Rotates one head vector v (length d, at offset) of patch n in place: v·cos a + rotate_half(v)·sin a. */
export function applyRope64(v: Float64Array, offset: number, tables: RopeTables, patch: number): void {
  const { cos, sin, half } = tables;
  const t = patch * half;
  for (let m = 0; m < half; m++) {
    const a = v[offset + m];
    const b = v[offset + m + half];
    v[offset + m] = a * cos[t + m] - b * sin[t + m];
    v[offset + m + half] = b * cos[t + m] + a * sin[t + m];
  }
}

/**
 * `rope_embeddings` (DINOv3ViTRopePositionEmbedding; nothing in the checkpoint): the (cos, sin)
 * table of each patch grid, [h·w, d/2] as vec2<f32> (attention.wgsl's `rope`), computed in float64
 * on the host once per grid and kept on the GPU (GridTables).
 */
export class RopeEmbedding {
  private readonly tables = new GridTables();

  constructor(
    readonly headDim: number,
    readonly theta: number,
  ) {}

  /** The table for a gridH x gridW patch grid. */
  table(memory: GpuMemory, gridH: number, gridW: number): GPUBuffer {
    return this.tables.get(memory, 'rope_embeddings', `${gridH}x${gridW}`, () => {
      const { cos, sin } = ropeTables64(gridH, gridW, this.headDim, this.theta);
      const interleaved = new Float32Array(2 * cos.length);
      for (let i = 0; i < cos.length; i++) {
        interleaved[2 * i] = cos[i];
        interleaved[2 * i + 1] = sin[i];
      }
      return interleaved;
    });
  }

  /** Frees the cached tables. */
  release(): void {
    this.tables.clear();
  }
}
