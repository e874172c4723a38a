// WebGPU in Node: Dawn's `webgpu` package (an optional dependency, imported on first use).
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importOptional } from '../optional_dependency.js';

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
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  // With no GPU device node no hardware driver can give an adapter, and Mesa's CPU driver
  // (lavapipe) lacks what Dawn requires: Dawn would print a warning for it, then skip it. Go to
  // SwiftShader directly (unless drivers are chosen by the user, or DINOV2_WEBGPU_DEBUG=1 asks to
  // see every driver tried).
  const chosen = process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES;
  if (icd && !chosen && process.platform === 'linux' && process.env.DINOV2_WEBGPU_DEBUG !== '1') {
    const nodes = ['/dev/dri', '/dev'].flatMap((d) => {
      try {
        return readdirSync(d).filter((f) => /^(renderD\d+|nvidia\d+|dxg|kfd)$/.test(f));
      } catch {
        return [];
      }
    });
    if (nodes.length === 0) process.env.VK_ICD_FILENAMES = icd;
  }
  let gpu: GPU = webgpu.create(flags);
  if (await gpu.requestAdapter()) return gpu;
  if (!process.env.VK_ICD_FILENAMES) {
    if (icd) {
      process.env.VK_ICD_FILENAMES = icd;
      gpu = webgpu.create(flags);
    }
  }
  return gpu;
}
