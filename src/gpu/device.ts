// One way to get a GPUDevice in the browser (navigator.gpu) and in Node (Dawn's `webgpu` package,
// through the Node platform: src/gpu/device_node.ts).
import { isNode, nodePlatform } from '../platform.js';

export interface DeviceOptions {
  /** Use this adapter instead of asking for one. */
  adapter?: GPUAdapter;
  powerPreference?: GPUPowerPreference;
  /** Request `shader-f16` when the adapter offers it (default true: models loaded with dtype 'fp16' need it). */
  f16?: boolean;
  /** Keep WebGPU's default limits instead of asking for the adapter's (to test what any device can do). */
  defaultLimits?: boolean;
}

/** What the adapter says of itself (GPUAdapterInfo, with isFallbackAdapter). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

export interface DeviceInfo {
  device: GPUDevice;
  adapterInfo: AdapterInfo;
  /** true for a CPU implementation (SwiftShader, llvmpipe, WARP): never mistake it for a GPU. */
  isSoftware: boolean;
}

/** Limits that large models need: weights of ViT-g exceed the 128 MiB default binding size. */
const LIMITS_TO_RAISE = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxStorageBuffersPerShaderStage',
] as const;

export async function navigatorGpu(): Promise<GPU> {
  const browserGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (browserGpu) return browserGpu;
  const node = nodePlatform();
  if (node) return node.navigatorGpu();
  throw new WebGpuUnavailableError(
    isNode()
      ? 'WebGPU is not available: this is the browser build of dinov2-webgpu; in Node import the package itself (its "node" export) or dist/node.js'
      : 'WebGPU is not available in this browser (navigator.gpu is missing).',
  );
}

export class WebGpuUnavailableError extends Error {
  override name = 'WebGpuUnavailableError';
}

export async function requestDevice(options: DeviceOptions = {}): Promise<DeviceInfo> {
  const adapter =
    options.adapter ??
    (await (await navigatorGpu()).requestAdapter({ powerPreference: options.powerPreference }));
  if (!adapter) {
    throw new WebGpuUnavailableError(
      isNode()
        ? 'No WebGPU adapter: install a Vulkan driver (on Debian: apt-get install chromium libvulkan1 for SwiftShader) or set VK_ICD_FILENAMES.'
        : 'No WebGPU adapter is available in this browser.',
    );
  }
  const requiredLimits: Record<string, number> = {};
  if (!options.defaultLimits) for (const name of LIMITS_TO_RAISE) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures: GPUFeatureName[] = [];
  if ((options.f16 ?? true) && adapter.features.has('shader-f16')) requiredFeatures.push('shader-f16');
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'dinov2-webgpu' });
  const info = adapter.info;
  const adapterInfo: AdapterInfo = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
  };
  const text = `${adapterInfo.vendor} ${adapterInfo.architecture} ${adapterInfo.description}`.toLowerCase();
  const isSoftware =
    adapterInfo.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|warp|software/.test(text);
  return { device, adapterInfo, isSoftware };
}

let shared: Promise<DeviceInfo> | undefined;

/** A device shared by every model that is not given one; a new one is requested once it is lost. */
export function defaultDevice(): Promise<DeviceInfo> {
  if (!shared) {
    const request = requestDevice();
    shared = request;
    request.then(
      (info) =>
        info.device.lost.then(() => {
          if (shared === request) shared = undefined;
        }),
      () => {
        if (shared === request) shared = undefined;
      },
    );
  }
  return shared;
}
