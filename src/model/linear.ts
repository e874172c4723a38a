import type { Recorder } from '../gpu/recorder.js';
import type { StorageType } from '../gpu/shaders.js';
import type { LayerNorm } from './layernorm.js';
import type { Parameter } from './packing.js';
import type { ParameterSet } from './parameters.js';

/**
 * Tiles of linear.wgsl, largest first: a TILE_M x TILE_N block of the output per workgroup (threads
 * of 4 x 4 outputs), K staged TILE_K deep.
 */
export const LINEAR_TILES = [
  { TILE_M: 64, TILE_N: 64, TILE_K: 16 },
  { TILE_M: 32, TILE_N: 64, TILE_K: 16 },
  { TILE_M: 32, TILE_N: 32, TILE_K: 16 },
] as const;

/** Workgroups that keep a large GPU busy (about two per streaming multiprocessor of an H100). */
const WORKGROUPS_TO_FILL = 256;

/** The largest tile that still gives enough workgroups; batch-1 shapes get smaller tiles. */
export function chooseTile(rows: number, outFeatures: number): (typeof LINEAR_TILES)[number] {
  const count = (t: (typeof LINEAR_TILES)[number]) =>
    Math.ceil(rows / t.TILE_M) * Math.ceil(outFeatures / t.TILE_N);
  return LINEAR_TILES.find((t) => count(t) >= WORKGROUPS_TO_FILL) ?? LINEAR_TILES[LINEAR_TILES.length - 1];
}

export interface Epilogue {
  /** Layer-norm x first (fused prologue): the pre-norm of the sub-layer this projection opens. */
  norm?: LayerNorm;
  /** Activation code (activations.ts). */
  act?: number;
  /** Layer-scale lambda: y = y + lambda * (x·wᵀ + b), in place on the residual stream. */
  residualScale?: Parameter;
  /** SwiGLU: the weight was declared with `glu: true`; y gets N / 2 columns. */
  glu?: boolean;
  /** Storage of x and y when not f32 (the half-precision activations of a block, src/model/precision.ts). */
  types?: { X?: StorageType; Y?: StorageType };
}

/** nn.Linear(inFeatures, outFeatures): `key.weight` [out, in] and `key.bias` [out]. */
export class Linear {
  readonly weight: Parameter;
  readonly bias: Parameter;
  /** Storage of the packed weight (f32, or f16 with dtype 'fp16'); the bias stays f32. */
  readonly storage: StorageType;

  constructor(
    params: ParameterSet,
    keys: string | string[],
    readonly outFeatures: number,
    readonly inFeatures: number,
    options: {
      /** Whether each key has a bias: one flag for all, or one per key (absent ones are zero). */
      bias?: boolean | boolean[];
      glu?: boolean;
      weightShape?: number[];
      storage?: StorageType;
    } = {},
  ) {
    this.storage = options.storage ?? 'f32';
    // Several keys make one fused projection (query, key, value -> one [in, 3 out] matrix).
    const list = Array.isArray(keys) ? keys : [keys];
    const each = outFeatures / list.length;
    const bias = options.bias ?? true;
    const flags = list.map((_, i) => (Array.isArray(bias) ? bias[i] : bias));
    const glu = options.glu ?? false;
    const full = list.map((k) => params.prefix + k);
    // Packed on the GPU as it streams in (src/model/packer.ts): the row blocks concatenated,
    // SwiGLU's halves interleaved, stored transposed [in, ceil(out / 4) * 4]; a bias is cols = 1.
    // A weight larger than one binding is split along `out` into pieces that fit (one dispatch each).
    this.weight = params.declare(
      `${full.join('+')}.weight`,
      full.map((k) => ({ key: `${k}.weight`, shape: options.weightShape ?? [each, inFeatures] })),
      { kind: 'linear', rows: outFeatures, cols: inFeatures, glu, storage: this.storage, split: true },
    );
    // The biases that exist, each at its block's rows; a block without one stays zero.
    const biased = full.flatMap((k, i) =>
      flags[i] ? [{ key: `${k}.bias`, shape: [each], row0: i * each }] : [],
    );
    const named = full.map((k, i) => (flags[i] ? k : `${k} (no bias)`)).join('+');
    this.bias = biased.length
      ? params.declare(`${named}.bias`, biased, { kind: 'linear', rows: outFeatures, cols: 1, glu })
      : params.constant(`${full.join('+')}.bias (none)`, new Float32Array(Math.ceil(outFeatures / 4) * 4));
  }

  /** Buffers the weight is held in: 1, or more where it was larger than one binding of the device it was loaded on. */
  get pieces(): number {
    return this.weight.pieces?.length ?? 1;
  }

  /** y[rows, out] = epilogue(x[rows, in] · wᵀ + b): one dispatch per piece of the weight, each writing its columns of y. */
  forward(rec: Recorder, x: GPUBuffer, rows: number, y: GPUBuffer, epilogue: Epilogue = {}): void {
    const pieces = this.weight.gpuPieces;
    for (const piece of pieces) {
      const tile = chooseTile(rows, piece.rows);
      rec.dispatch(
        'linear',
        'main',
        {
          N: piece.rows,
          ...(pieces.length > 1 ? { N0: piece.row0, N_ALL: this.outFeatures } : {}),
          K: this.inFeatures,
          ...tile,
          ACT: epilogue.act ?? 0,
          RESIDUAL: epilogue.residualScale ? 1 : 0,
          GLU: epilogue.glu ? 1 : 0,
          NORM: epilogue.norm ? 1 : 0,
          EPS: epilogue.norm?.eps ?? 0,
        },
        {
          x,
          wT: piece.buffer,
          bias: this.bias.gpu,
          // Unused bindings (no layer-scale, no norm) still need a buffer: the bias serves.
          gamma: (epilogue.residualScale ?? this.bias).gpu,
          norm_weight: (epilogue.norm?.weight ?? this.bias).gpu,
          norm_bias: (epilogue.norm?.bias ?? this.bias).gpu,
          y,
          shape: rec.shape({ rows }),
        },
        [Math.ceil(piece.rows / tile.TILE_N), Math.ceil(rows / tile.TILE_M)],
        { X: epilogue.types?.X ?? 'f32', Y: epilogue.types?.Y ?? 'f32', W: this.storage },
      );
    }
  }
}
