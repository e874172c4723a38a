// The webcam: each frame is handed to `onFrame` (which runs the model on it), the next one grabbed
// when that is done, so the page runs as fast as the GPU allows.
import { load_image } from 'dinov2-webgpu';
import { reportError, ui } from './dom.js';
import type { DemoState, Source } from './state.js';

export async function toggleWebcam(state: DemoState, onFrame: (src: Source) => Promise<void>): Promise<void> {
  if (state.webcam) {
    for (const t of state.webcam.stream.getTracks()) t.stop();
    state.webcam = undefined;
    ui.webcam.textContent = 'Webcam';
    ui.video.hidden = true;
    return;
  }
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  } catch (e) {
    reportError('webcam', e);
    return;
  }
  const cam: NonNullable<DemoState['webcam']> = { stream };
  state.webcam = cam;
  ui.video.srcObject = stream;
  ui.video.hidden = false;
  await ui.video.play();
  ui.webcam.textContent = 'Stop webcam';
  let last = performance.now();
  while (state.webcam === cam) {
    if (ui.video.readyState >= 2 && state.current) {
      const bitmap = await createImageBitmap(ui.video);
      const t = performance.now();
      const rgb = await load_image(bitmap);
      bitmap.close();
      await onFrame({ name: 'webcam', rgb, decodeMs: performance.now() - t });
      const now = performance.now();
      cam.fps = 1000 / (now - last);
      last = now;
    }
    await new Promise((ok) => requestAnimationFrame(ok));
  }
}
