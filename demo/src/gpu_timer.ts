// GPU time of one forward with timestamp queries, without help from the engine: an empty compute
// pass with timestamp writes is submitted just before the forward's submit and another just after;
// the queue runs submits in order, so end-of-first to start-of-second brackets the forward's work.
// Per-kernel times are the library's KernelTimer (./profile.ts).

export class ForwardTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly readback: GPUBuffer;

  private constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ label: 'demo forward timer', type: 'timestamp', count: 4 });
    this.resolve = device.createBuffer({
      label: 'demo forward timer resolve',
      size: 32,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    this.readback = device.createBuffer({
      label: 'demo forward timer readback',
      size: 32,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** A timer when the device was created with the timestamp-query feature, else undefined. */
  static create(device: GPUDevice): ForwardTimer | undefined {
    return device.features.has('timestamp-query') ? new ForwardTimer(device) : undefined;
  }

  private mark(first: number): void {
    const encoder = this.device.createCommandEncoder({ label: `demo timer mark ${first}` });
    encoder
      .beginComputePass({
        label: 'demo timer',
        timestampWrites: {
          querySet: this.querySet,
          beginningOfPassWriteIndex: first,
          endOfPassWriteIndex: first + 1,
        },
      })
      .end();
    this.device.queue.submit([encoder.finish()]);
  }

  /** Runs `submitWork` (which must submit synchronously, as the library's forward does) between two marks. */
  async time<T>(
    submitWork: () => Promise<T>,
  ): Promise<{ result: T; gpuMs: () => Promise<number | undefined> }> {
    this.mark(0);
    const result = await submitWork();
    this.mark(2);
    return {
      result,
      gpuMs: async () => {
        if (this.readback.mapState !== 'unmapped') return undefined; // an earlier read is still pending
        const encoder = this.device.createCommandEncoder({ label: 'demo timer resolve' });
        encoder.resolveQuerySet(this.querySet, 0, 4, this.resolve, 0);
        encoder.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 32);
        this.device.queue.submit([encoder.finish()]);
        await this.readback.mapAsync(GPUMapMode.READ);
        const t = new BigUint64Array(this.readback.getMappedRange().slice(0));
        this.readback.unmap();
        const ns = Number(t[2] - t[1]);
        return t[2] > t[1] ? ns / 1e6 : undefined;
      },
    };
  }
}
