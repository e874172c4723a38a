// Per-kernel times: the library's KernelTimer gives every dispatch its own timestamped pass while it
// is attached, around one extra forward of the shown model on the shown image.
import { type KernelTime, KernelTimer } from 'dinov2-webgpu';
import { ui } from './dom.js';
import { disposeRun, forwardOne } from './forward.js';
import type { DemoState, Run } from './state.js';
import { kernelRows } from './views/kernels.js';

/** Times every dispatch of one forward and fills the kernel table (a scheduler job: nothing else runs meanwhile). */
export async function profileKernels(state: DemoState): Promise<void> {
  const { device, current, source } = state;
  if (!device || !current || !source) return;
  const timer = KernelTimer.attach(device.device);
  let times: KernelTime[];
  let profiled: Run | undefined;
  try {
    profiled = await forwardOne(state, current, source);
    times = await timer.read();
  } finally {
    timer.detach();
    disposeRun(profiled);
  }
  const head = document.createElement('tr');
  head.innerHTML = '<th>kernel</th><td>calls</td><td>ms</td><td>share</td>';
  ui.kernels.replaceChildren(
    head,
    ...kernelRows(times).map((k) => {
      const tr = document.createElement('tr');
      tr.innerHTML = '<th></th><td></td><td></td><td></td>';
      tr.children[0].textContent = k.kernel;
      tr.children[1].textContent = String(k.calls);
      tr.children[2].textContent = k.ms.toFixed(2);
      tr.children[3].textContent = `${(100 * k.share).toFixed(0)}%`;
      return tr;
    }),
  );
  ui.kernels.dataset.dispatches = String(times.length);
  if (timer.dropped)
    ui.kernelNote.textContent = `${timer.dropped} dispatches went untimed (more than the query set holds).`;
}
