// A map over the image: the model's input under a canvas of one pixel per patch, with a caption
// and the colour scale's range.
import type { Run } from './state.js';
import { cssGradient, type Range } from './views/colormap.js';

export interface FigureOptions {
  range?: Range;
  small?: boolean;
  /** Called with the click's position as fractions of the map's width and height. */
  onPick?: (fx: number, fy: number) => void;
}

export function figure(
  view: string,
  caption: string,
  run: Run,
  rgba: Uint8ClampedArray,
  { range, small = false, onPick }: FigureOptions = {},
): HTMLElement {
  const fig = document.createElement('figure');
  fig.className = small ? 'map small' : 'map';
  const frame = document.createElement('div');
  frame.className = 'frame';
  frame.style.backgroundImage = `url(${run.croppedUrl})`;
  frame.style.aspectRatio = `${run.cropped.width} / ${run.cropped.height}`;
  const canvas = document.createElement('canvas');
  canvas.width = run.layout.gridW;
  canvas.height = run.layout.gridH;
  canvas.dataset.view = view;
  canvas
    .getContext('2d', { willReadFrequently: true })!
    .putImageData(
      new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, run.layout.gridW, run.layout.gridH),
      0,
      0,
    );
  frame.append(canvas);
  if (onPick)
    frame.addEventListener('click', (e) => {
      const r = frame.getBoundingClientRect();
      onPick((e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
    });
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  if (range) {
    const legend = document.createElement('span');
    legend.className = 'legend';
    legend.innerHTML = `<span>${range.min.toPrecision(3)}</span><i style="background:${cssGradient()}"></i><span>${range.max.toPrecision(3)}</span>`;
    cap.append(legend);
  }
  fig.append(frame, cap);
  return fig;
}

/** The outline of one patch, for the similarity map. */
export function marker(run: Run, patch: number): HTMLElement {
  const m = document.createElement('div');
  m.className = 'marker';
  const { gridW, gridH } = run.layout;
  m.style.left = `${(100 * (patch % gridW)) / gridW}%`;
  m.style.top = `${(100 * Math.floor(patch / gridW)) / gridH}%`;
  m.style.width = `${100 / gridW}%`;
  m.style.height = `${100 / gridH}%`;
  return m;
}
