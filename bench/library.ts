// The library as Node users get it: the built Node entry dist/node.js (rebuilt first when the sources
// changed), or the one $DINOV2_BENCH_LIBRARY names (the device package carries its own copy).
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DeviceInfo } from '../src/gpu/device.js';
import type { Lib } from './measure.js';

// A variable, not a literal, so the device package's bundler leaves it (and puppeteer) out.
const BROWSER_HELPERS = '../tools/chromium.js';

export async function loadLibrary(log: (line: string) => void): Promise<{ lib: Lib; path: string }> {
  let path = process.env.DINOV2_BENCH_LIBRARY;
  if (path) path = resolve(path);
  else {
    const helpers = (await import(BROWSER_HELPERS)) as typeof import('../tools/chromium.js');
    const build = helpers.ensureBuilt();
    if (build.built) log(`built dist/ (${(build.ms / 1000).toFixed(1)} s)`);
    path = join(helpers.REPO_ROOT, 'dist/node.js');
  }
  return { lib: (await import(pathToFileURL(path).href)) as Lib, path };
}

/** Flags for Dawn's create(): exact timestamps (Dawn quantizes them to 65536 ns by default). */
export const DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization'];

let dawnInstance: GPU | undefined;

/**
 * A device on Dawn for the benchmark: the library's own adapter search first (so SwiftShader is
 * found the same way when the machine has no GPU), then a Dawn instance with DAWN_FLAGS.
 */
export async function nodeDevice(lib: Lib): Promise<DeviceInfo> {
  await lib.navigatorGpu(); // sets VK_ICD_FILENAMES to SwiftShader when no hardware adapter exists
  const webgpu = (await import('webgpu')) as { create(flags: string[]): GPU };
  // Held for the life of the process: once the GPU object is collected, Dawn's instance goes and
  // every device on it stops (seen as a hang, or "terminate called ... Invalid argument").
  dawnInstance ??= webgpu.create(DAWN_FLAGS);
  const adapter = await dawnInstance.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter)
    throw new Error(
      'Dawn found no WebGPU adapter (install a Vulkan driver, or set VK_ICD_FILENAMES / VK_DRIVER_FILES)',
    );
  return lib.requestDevice({ adapter });
}
