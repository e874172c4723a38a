// WebGPU in Node: Dawn's `webgpu` package (an optional dependency, imported on first use).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importOptional } from '../platform.js';

// Where Debian's chromium package keeps its SwiftShader Vulkan driver.
const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib64/chromium/vk_swiftshader_icd.json',
];

let nodeGpu: Promise<GPU> | undefined;

/** Dawn's navigator.gpu, made once per process. */
export function nodeNavigatorGpu(): Promise<GPU> {
  nodeGpu ??= createNodeGpu();
  return nodeGpu;
}

/** Dawn in Node; falls back to SwiftShader (when no hardware adapter exists) by pointing the Vulkan loader at it. */
async function createNodeGpu(): Promise<GPU> {
  if (!process.env.XDG_RUNTIME_DIR) {
    // Vulkan's window-system code complains on every device without one; give it a private folder.
    process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'dinov2-webgpu-xdg-'));
  }
  const webgpu = await importOptional('webgpu', () => import('webgpu'), 'WebGPU (Dawn)');
  Object.assign(globalThis, webgpu.globals);
  const flags: string[] = [];
  let gpu: GPU = webgpu.create(flags);
  if (await gpu.requestAdapter()) return gpu;
  if (!process.env.VK_ICD_FILENAMES) {
    const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
    if (icd) {
      process.env.VK_ICD_FILENAMES = icd;
      gpu = webgpu.create(flags);
    }
  }
  return gpu;
}
