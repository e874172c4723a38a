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
export function randomModelNote(model: string, online: boolean, hubExample: string, gated = false): string {
  const pick = gated
    ? `give a Hugging Face token with access to the gated ${hubExample} above and pick it (or another hub model)`
    : `pick ${hubExample} (or another hub model) above`;
  const how = online
    ? `${pick}, or open a downloaded checkpoint folder with “Open folder…”`
    : `open a downloaded checkpoint folder (config.json + model.safetensors) with “Open folder…”; the hub models need the network`;
  return `${model} has random weights, bundled so that the page works offline: its maps are noise by design. For real maps, ${how}.`;
}

/** The note when a hub model could not be loaded: why, and what still works. */
export function loadFailedNote(model: string, reason: string, shown: string | undefined): string {
  const still = shown ? ` The maps still show ${shown}.` : '';
  return `Could not load ${model}: ${reason.replace(/\.$/, '')}.${still} Offline, open a downloaded checkpoint folder with “Open folder…”, or use a bundled model.`;
}

/**
 * The note when the hub refused a model (HTTP 401 or 403): it is gated (or private), and what the
 * token must be. `hadToken`: a token was sent. The hub answers 401 without a token (or with one it
 * does not accept) and 403 to a valid token whose account has no access to the model.
 */
export function accessNote(
  model: string,
  status: number,
  hadToken: boolean,
  gated: boolean,
  shown: string | undefined,
): string {
  const what = gated ? 'is gated on the Hugging Face hub' : 'is private or gated on the Hugging Face hub';
  const page = `huggingface.co/${model}`;
  const why =
    status === 403 && hadToken
      ? `it ${what}, and the token given has no access to it (HTTP 403). Request access on ${page} with that token’s account (access is granted per model), or give a token of an account that has it in “Hugging Face token”, then pick the model again`
      : hadToken
        ? `it ${what}, and the hub did not accept the token given (HTTP ${status}). Check the token (huggingface.co/settings/tokens); its account needs access to the model, requested on ${page}`
        : `it ${what}: a token with access is needed (HTTP ${status}). Request access on ${page}, create a read token (huggingface.co/settings/tokens), paste it in “Hugging Face token” above, and pick the model again`;
  const still = shown ? ` The maps still show ${shown}.` : '';
  return `Could not load ${model}: ${why}.${still}`;
}
