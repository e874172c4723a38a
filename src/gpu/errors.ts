// Typed failures of GPU work: a call that hits one rejects; it never hands back data.

export class GpuError extends Error {
  override name = 'GpuError';
}

/** The device ran out of memory for a buffer or the work of a call. */
export class GpuOutOfMemoryError extends GpuError {
  override name = 'GpuOutOfMemoryError';
}

/** WebGPU rejected a command of the call (a bug, or a limit the checks did not foresee). */
export class GpuValidationError extends GpuError {
  override name = 'GpuValidationError';
}

/** The device was lost (destroyed, driver reset, GPU removed); `reload` brings a model back on a new one. */
export class DeviceLostError extends GpuError {
  override name = 'DeviceLostError';
  constructor(
    message: string,
    readonly reason: string = 'unknown',
  ) {
    super(message);
  }
}

/** Tracks whether a device was lost, from its `lost` promise. */
export class DeviceWatch {
  lost: { reason: string; message: string } | undefined;

  constructor(readonly device: GPUDevice) {
    device.lost.then((info) => {
      this.lost = { reason: info.reason ?? 'unknown', message: info.message ?? '' };
    });
  }

  check(what: string): void {
    if (this.lost) {
      throw new DeviceLostError(
        `${what}: the GPU device was lost (${this.lost.reason}${this.lost.message ? `: ${this.lost.message}` : ''})`,
        this.lost.reason,
      );
    }
  }
}

const watches = new WeakMap<GPUDevice, DeviceWatch>();

export function watchDevice(device: GPUDevice): DeviceWatch {
  let watch = watches.get(device);
  if (!watch) {
    watch = new DeviceWatch(device);
    watches.set(device, watch);
  }
  return watch;
}

/** Open error scopes around work recorded synchronously; `close()` resolves to the first error, typed. */
export function openErrorScopes(device: GPUDevice): { close(what: string): Promise<GpuError | undefined> } {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let closed: Promise<GpuError | undefined> | undefined;
  return {
    close(what: string) {
      closed ??= pop(device, what);
      return closed;
    },
  };
}

async function pop(device: GPUDevice, what: string): Promise<GpuError | undefined> {
  const validation = device.popErrorScope();
  const oom = device.popErrorScope();
  const [v, o] = await Promise.all([validation.catch(() => null), oom.catch(() => null)]);
  if (o) return new GpuOutOfMemoryError(`${what}: out of GPU memory (${o.message})`);
  if (v) return new GpuValidationError(`${what}: ${v.message}`);
  return undefined;
}
