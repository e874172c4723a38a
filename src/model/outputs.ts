// The outputs of one forward: made as the call records, handed to the caller as GpuTensors that
// wait for the call's work, and all freed if the call fails.
import { GpuLimitError, type GpuMemory, storageLimit } from '../gpu/buffers.js';
import type { GpuError } from '../gpu/errors.js';
import { GpuTensor } from '../gpu/tensor.js';
import type { ProbsChunk } from './attention.js';

export class CallOutputs {
  private readonly owned: GPUBuffer[] = [];
  private settle!: (error: GpuError | undefined) => void;
  /** Resolves to the error of the call's work (undefined when it succeeded). */
  private readonly produced = new Promise<GpuError | undefined>((resolve) => {
    this.settle = resolve;
  });

  constructor(private readonly memory: GpuMemory) {}

  private create(name: string, floats: number): GPUBuffer {
    const buffer = this.memory.create(name, floats * 4);
    this.owned.push(buffer);
    return buffer;
  }

  /** A float32 output of `dims`, in one buffer. */
  tensor(name: string, dims: number[]): GpuTensor {
    const floats = dims.reduce((a, b) => a * b, 1);
    return new GpuTensor(this.memory, this.create(name, floats), dims, name, this.produced);
  }

  /**
   * An attention map [B, heads, T, T]: one buffer, or several holding whole (batch, head) blocks
   * each when the map is larger than one binding (or buffer) may be. Returns the tensor and the
   * chunks attention.probs writes.
   */
  attentionMap(name: string, batch: number, heads: number, tokens: number): [GpuTensor, ProbsChunk[]] {
    const block = tokens * tokens;
    const perChunk = Math.floor(storageLimit(this.memory.device.limits).bytes / (block * 4));
    if (perChunk < 1) {
      throw new GpuLimitError(
        `${name}: one head's ${tokens}x${tokens} attention map (${block * 4} bytes) exceeds this device's binding limit`,
      );
    }
    const total = batch * heads;
    const chunks: ProbsChunk[] = [];
    for (let first = 0; first < total; first += perChunk) {
      const blocks = Math.min(perChunk, total - first);
      const buffer = this.create(`${name}[${first}..${first + blocks})`, blocks * block);
      chunks.push({ buffer, firstBlock: first, blocks });
    }
    const segments = chunks.map((c) => ({ buffer: c.buffer, length: c.blocks * block }));
    return [
      new GpuTensor(this.memory, segments, [batch, heads, tokens, tokens], name, this.produced),
      chunks,
    ];
  }

  /** The call's work was submitted: its error, if any, reaches every output's read(). */
  submitted(error: GpuError | undefined): void {
    this.settle(error);
  }

  /** After a failure: frees every output. */
  release(): void {
    for (const buffer of this.owned) this.memory.destroy(buffer);
  }
}
