import { type Recorder, rowsGrid } from '../gpu/recorder.js';
import type { Parameter } from './packing.js';
import type { ParameterSet } from './parameters.js';

/** nn.LayerNorm(dim, eps): `key.weight`, `key.bias`. */
export class LayerNorm {
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(
    params: ParameterSet,
    key: string,
    readonly dim: number,
    readonly eps: number,
  ) {
    this.weight = params.tensor(`${key}.weight`, [dim]);
    this.bias = params.tensor(`${key}.bias`, [dim]);
  }

  forward(rec: Recorder, x: GPUBuffer, rows: number, y: GPUBuffer): void {
    // A power of two, at most 256, with no idle threads for small rows.
    const threads = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(this.dim / 4))));
    rec.dispatch(
      'layernorm',
      'main',
      { D: this.dim, EPS: this.eps, THREADS: threads },
      { x, weight: this.weight.gpu, bias: this.bias.gpu, y, shape: rec.shape({ rows }) },
      rowsGrid(rows),
    );
  }
}
