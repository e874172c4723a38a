// What the page says when WebGPU is missing and when a model's maps mean nothing: pure, so the
// tests read the same sentences the page shows.
import { escapeHtml } from './format.js';

/** How to get WebGPU in Chromium on Linux, where it is off by default. */
export const LINUX_HINT =
  'On Linux, Chrome needs <code>--enable-unsafe-webgpu</code> (and <code>--enable-features=Vulkan</code> on some drivers).';

/**
 * The banner when the page gets no device: `missing` is navigator.gpu absent, `no-adapter` its
 * requestAdapter() answering null, `device-failed` requestDevice() failing (with the browser's words).
 */
export function noWebGpuBanner(kind: 'missing' | 'no-adapter' | 'device-failed', detail = ''): string {
  const lead = {
    missing:
      '<strong>WebGPU is not available in this browser.</strong> Use a recent Chrome, Edge or Safari (Technology Preview), or Firefox Nightly, on a machine with a supported GPU.',
    'no-adapter':
      '<strong>No WebGPU adapter.</strong> The browser has WebGPU but gave no adapter: the GPU may be blocklisted, or hardware acceleration is off.',
    'device-failed': `<strong>The WebGPU adapter gave no device</strong> (${escapeHtml(detail)}).`,
  }[kind];
  return `${lead} ${LINUX_HINT}`;
}

/**
 * The note shown while a bundled model with random weights is in use: what its maps are, and how
 * to get a real checkpoint (from the hub when the browser is online, from a folder otherwise).
 */
export function randomModelNote(model: string, online: boolean, hubExample: string): string {
  const how = online
    ? `pick ${hubExample} (or another hub model) above, or open a downloaded checkpoint folder with “Open folder…”`
    : `open a downloaded checkpoint folder (config.json + model.safetensors) with “Open folder…”; the hub models need the network`;
  return `${model} has random weights, bundled so that the page works offline: its maps are noise by design. For real maps, ${how}.`;
}

/** The note when a hub model could not be loaded: why, and what still works. */
export function loadFailedNote(model: string, reason: string, shown: string | undefined): string {
  const still = shown ? ` The maps still show ${shown}.` : '';
  return `Could not load ${model}: ${reason.replace(/\.$/, '')}.${still} Offline, open a downloaded checkpoint folder with “Open folder…”, or use a bundled model.`;
}
