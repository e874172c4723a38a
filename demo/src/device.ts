// The page's WebGPU device: the library's requestDevice, with a banner that says what is missing
// when there is none and that the adapter is a software renderer when it is one.
import { requestDevice, WebGpuUnavailableError } from 'dinov2-webgpu';
import { showBanner, ui } from './dom.js';
import { escapeHtml } from './format.js';
import { ForwardTimer } from './gpu_timer.js';
import { noWebGpuBanner } from './messages.js';
import type { DemoState } from './state.js';

/** Fills state.device (and the forward timer); false, with the banner saying why, when there is none. */
export async function initDevice(state: DemoState): Promise<boolean> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    showBanner('error', noWebGpuBanner('missing'));
    return false;
  }
  try {
    state.device = await requestDevice();
  } catch (e) {
    // The library's message for a null adapter would repeat the banner's lead: say it once.
    showBanner(
      'error',
      e instanceof WebGpuUnavailableError
        ? noWebGpuBanner('no-adapter')
        : noWebGpuBanner('device-failed', (e as Error).message),
    );
    return false;
  }
  const { device, adapterInfo: info, isSoftware } = state.device;
  const name =
    [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ') || 'unnamed adapter';
  ui.adapter.textContent = `WebGPU: ${name}${isSoftware ? ' (software)' : ''}`;
  if (isSoftware)
    showBanner(
      'warning',
      `<strong>This WebGPU adapter is a software renderer (${escapeHtml(name)}).</strong> Everything works, on the CPU: the bundled tiny model takes seconds, the hub models minutes. ` +
        'Enable hardware acceleration (or run on a machine with a GPU) for real speed.',
    );
  device.addEventListener('uncapturederror', (e) =>
    console.error(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`),
  );
  void device.lost.then((l) => {
    if (l.reason !== 'destroyed')
      showBanner(
        'error',
        `<strong>The WebGPU device was lost</strong> (${escapeHtml(l.message)}). Reload the page.`,
      );
  });
  state.timer = ForwardTimer.create(device);
  const timestamps = device.features.has('timestamp-query');
  ui.profile.disabled = !timestamps;
  ui.kernelNote.textContent = timestamps
    ? 'GPU time from timestamp queries around the forward. Per-kernel times run one more forward with a pass per dispatch (the library’s KernelTimer).'
    : 'This adapter offers no timestamp-query: GPU times are wall-clock (submit to done), and per-kernel times are not available.';
  return true;
}
