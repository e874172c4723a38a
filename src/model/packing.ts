// How a declared parameter's buffer is laid out (a Packing) and the CPU twin of that layout. The
// GPU packer (src/model/packer.ts, shaders/pack.wgsl) executes a Packing on bytes as they arrive;
// the declarations themselves are collected by a ParameterSet (src/model/parameters.ts).
import type { StorageType } from '../gpu/shaders.js';
import { bf16ToF32, f16ToF32 } from '../io/dtype.js';

/**
 * How a parameter's buffer is made from its checkpoint tensors, declared rather than computed, so
 * that the GPU packer (shaders/pack.wgsl) can execute it on bytes as they arrive.
 *   linear    the sources are consecutive row blocks of one [rows, cols] matrix (one block for a
 *             plain nn.Linear; query, key, value for the fused projection), stored transposed and
 *             padded as [cols, ceil(rows / 4) * 4] (linear.wgsl's wT); `glu` interleaves the two
 *             halves of the rows (SwiGLU's weights_in). cols = 1 is a bias: a padded vector.
 *             `split`: where the whole is larger than one binding, its rows (output features) are
 *             split into pieces that fit, each stored the same way in a buffer of its own.
 *   tensor    one tensor as it is, in float32.
 *   vector4   one vector padded with zeros to a multiple of 4 (read as vec4).
 *   constant  a value of our own (the zero bias of a linear layer without one); no sources.
 */
export type Packing =
  | { kind: 'linear'; rows: number; cols: number; glu?: boolean; storage?: StorageType; split?: boolean }
  | { kind: 'tensor' }
  | { kind: 'vector4' }
  | { kind: 'constant'; value: Float32Array };

/** The matrix view every GPU packing reduces to: sources are row blocks of [rows, cols], stored [cols, rows4]. */
export interface PackLayout {
  rows: number;
  cols: number;
  glu: boolean;
  /** How the packed values are stored: f32, or rounded to f16 once packed (src/model/precision.ts). */
  storage: StorageType;
  /** Whether the rows may be split into pieces that each fit one binding (a linear weight). */
  split: boolean;
}

/** Rows [row0, row0 + rows) of a split weight's matrix, stored [cols, ceil(rows / 4) * 4] in `buffer`. */
export interface WeightPiece {
  row0: number;
  rows: number;
  buffer: GPUBuffer;
}

/**
 * One checkpoint tensor of a parameter. `row0`: where a linear's row block starts in the matrix
 * when blocks may be absent (a fused projection whose parts have biases by flag: the absent
 * blocks stay zero); without it, the blocks follow each other from row 0.
 */
export interface ParameterSource {
  key: string;
  shape: number[];
  row0?: number;
}

export class Parameter {
  buffer: GPUBuffer | undefined;
  /** A weight larger than one binding, split along its rows when packed; `buffer` is then unset. */
  pieces: WeightPiece[] | undefined;
  /** For parameters the host computes with (position embeddings): kept here, not uploaded. */
  host: Float32Array | undefined;

  constructor(
    readonly label: string,
    readonly sources: ParameterSource[],
    readonly packing: Packing,
    readonly hostOnly: boolean,
  ) {}

  get gpu(): GPUBuffer {
    if (this.pieces)
      throw new Error(`${this.label} is split into ${this.pieces.length} pieces: bind gpuPieces`);
    if (!this.buffer) throw new Error(`${this.label} is not loaded`);
    return this.buffer;
  }

  /** Its buffers with the rows of the matrix each holds: the pieces of a split weight, or the whole. */
  get gpuPieces(): WeightPiece[] {
    return this.pieces ?? [{ row0: 0, rows: this.layout?.rows ?? 0, buffer: this.gpu }];
  }

  /** The GPU layout of this parameter, or undefined where the host packs it (a constant, host-only). */
  get layout(): PackLayout | undefined {
    return this.hostOnly ? undefined : packLayout(this.packing, this.sources);
  }
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function packLayout(packing: Packing, sources: { shape: number[] }[]): PackLayout | undefined {
  switch (packing.kind) {
    case 'linear':
      return {
        rows: packing.rows,
        cols: packing.cols,
        glu: packing.glu ?? false,
        storage: packing.storage ?? 'f32',
        split: packing.split ?? false,
      };
    case 'tensor':
    case 'vector4':
      return {
        rows: sources.reduce((n, s) => n + count(s.shape), 0),
        cols: 1,
        glu: false,
        storage: 'f32',
        split: false,
      };
    case 'constant':
      return undefined;
  }
}

/** Floats in the packed buffer: [cols, ceil(rows / 4) * 4]. */
export function packedLength(layout: PackLayout): number {
  return layout.cols * Math.ceil(layout.rows / 4) * 4;
}

/** Rows a piece of a split weight holds a multiple of: one vec4 column of wT, two with GLU (4 outputs of y, whole pairs). */
export function pieceUnit(layout: PackLayout): number {
  return layout.glu ? 8 : 4;
}

/**
 * How a linear weight is split so that every piece, [cols, rows4] at `elementBytes` each (rounded up
 * to 16 bytes as GpuMemory.create does), fits `limit` bytes: the whole when it fits, else pieces of
 * the most whole units that fit and a smaller last one. Undefined when not even one unit fits.
 */
export function splitRows(
  layout: PackLayout,
  limit: number,
  elementBytes = 4,
): { row0: number; rows: number }[] | undefined {
  const fit = Math.floor(limit / 16) * 16; // ceil(b / 16) * 16 <= limit  <=>  b <= fit
  if (packedLength(layout) * elementBytes <= fit) return [{ row0: 0, rows: layout.rows }];
  const unit = pieceUnit(layout);
  const per = Math.floor(fit / (layout.cols * unit * elementBytes)) * unit;
  if (per === 0) return undefined;
  const pieces: { row0: number; rows: number }[] = [];
  for (let row0 = 0; row0 < layout.rows; row0 += per)
    pieces.push({ row0, rows: Math.min(per, layout.rows - row0) });
  return pieces;
}

/** Pads a row-major [rows, cols] matrix transposed to [cols, ceil(rows / 4) * 4]: the layout linear.wgsl reads. */
export function transposePadded(w: Float32Array, rows: number, cols: number): Float32Array {
  const rows4 = Math.ceil(rows / 4) * 4;
  const out = new Float32Array(cols * rows4);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows4 + r] = w[r * cols + c];
  }
  return out;
}

function padTo4(v: Float32Array): Float32Array {
  const out = new Float32Array(Math.ceil(v.length / 4) * 4);
  out.set(v);
  return out;
}

/** Interleave the two halves of a SwiGLU projection's rows: (x1_0, x2_0, x1_1, x2_1, ...). */
function interleaveHalves(t: Float32Array, rows: number, cols: number): Float32Array {
  const half = rows / 2;
  const out = new Float32Array(t.length);
  for (let j = 0; j < half; j++) {
    out.set(t.subarray(j * cols, (j + 1) * cols), 2 * j * cols);
    out.set(t.subarray((half + j) * cols, (half + j + 1) * cols), (2 * j + 1) * cols);
  }
  return out;
}

function concat(ts: Float32Array[]): Float32Array {
  const out = new Float32Array(ts.reduce((n, t) => n + t.length, 0));
  let o = 0;
  for (const t of ts) {
    out.set(t, o);
    o += t.length;
  }
  return out;
}

/** Row blocks placed at their sources' row0 in a zeroed [rows, cols] matrix (absent blocks stay zero). */
function placeRows(
  tensors: Float32Array[],
  sources: ParameterSource[],
  rows: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(rows * cols);
  let row0 = 0;
  tensors.forEach((t, i) => {
    row0 = sources[i].row0 ?? row0;
    out.set(t, row0 * cols);
    row0 += t.length / cols;
  });
  return out;
}

/** The CPU twin of the GPU packer (shaders/pack.wgsl): what the packed buffer must hold; `sources` place a linear's row blocks. */
export function packOnCpu(
  packing: Packing,
  tensors: Float32Array[],
  sources?: ParameterSource[],
): Float32Array {
  switch (packing.kind) {
    case 'tensor':
      return tensors.length === 1 ? tensors[0] : concat(tensors);
    case 'vector4':
      return padTo4(concat(tensors));
    case 'constant':
      return packing.value;
    case 'linear': {
      const w = sources?.some((s) => s.row0 !== undefined)
        ? placeRows(tensors, sources, packing.rows, packing.cols)
        : concat(tensors);
      return transposePadded(
        packing.glu ? interleaveHalves(w, packing.rows, packing.cols) : w,
        packing.rows,
        packing.cols,
      );
    }
  }
}

/** Stored bytes of a float dtype widened to float32 on the host (exactly as SafetensorsFile.float32). */
export function bytesToFloat32(dtype: string, bytes: Uint8Array): Float32Array {
  const aligned = (size: number) => (bytes.byteOffset % size === 0 ? bytes : bytes.slice());
  switch (dtype) {
    case 'F32': {
      const b = aligned(4);
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    }
    case 'F16':
    case 'BF16': {
      const b = aligned(2);
      const halves = new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
      return dtype === 'F16' ? f16ToF32(halves) : bf16ToF32(halves);
    }
    case 'F64': {
      const b = aligned(8);
      return new Float32Array(new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8));
    }
    default:
      throw new Error(`dtype ${dtype} is not a float type (F64, F32, F16, BF16)`);
  }
}
