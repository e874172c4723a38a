// Scalar maps to opaque RGBA pixels: min-max normalised, quantised to 256 steps, coloured with
// viridis (perceptually uniform, readable in grey, and one-to-one, so a pixel can be read back
// into its step: the browser test does exactly that).

/** viridis as a degree-6 polynomial fit per channel (Matt Zucker's fit, CC0). */
const VIRIDIS_COEFFS: [number, number, number][] = [
  [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
  [0.1050930431085774, 1.404613529898575, 1.384590162594685],
  [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
  [-4.634230498983486, -5.799100973351585, -19.33244095627987],
  [6.228269936347081, 14.17993336680509, 56.69055260068105],
  [4.776384997670288, -13.74514537774601, -65.35303263337234],
  [-5.435455855934631, 4.645852612178535, 26.3124352495832],
];

export const STEPS = 256;

/** [256 * 3] bytes: the colour of step i at 3i..3i+2. */
export const VIRIDIS: Uint8Array = (() => {
  const lut = new Uint8Array(STEPS * 3);
  for (let i = 0; i < STEPS; i++) {
    const t = i / (STEPS - 1);
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = VIRIDIS_COEFFS.length - 1; k >= 0; k--) v = v * t + VIRIDIS_COEFFS[k][c];
      lut[i * 3 + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
  }
  return lut;
})();

export interface Range {
  min: number;
  max: number;
}

/** min and max of the finite values (0, 0 when there are none). */
export function valueRange(values: ArrayLike<number>): Range {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? { min, max } : { min: 0, max: 0 };
}

/** Step 0..255 of `v` in `range`; a flat range maps to 0, NaN to 0. */
export function step(v: number, range: Range): number {
  const span = range.max - range.min;
  if (!(span > 0) || !Number.isFinite(v)) return 0;
  const t = Math.min(1, Math.max(0, (v - range.min) / span));
  return Math.round(t * (STEPS - 1));
}

/** Opaque RGBA [n * 4] of the values, and the range used (their own min-max unless given). */
export function scalarToRgba(
  values: ArrayLike<number>,
  range: Range = valueRange(values),
): { rgba: Uint8ClampedArray; range: Range } {
  const rgba = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const s = step(values[i], range);
    rgba[i * 4] = VIRIDIS[s * 3];
    rgba[i * 4 + 1] = VIRIDIS[s * 3 + 1];
    rgba[i * 4 + 2] = VIRIDIS[s * 3 + 2];
    rgba[i * 4 + 3] = 255;
  }
  return { rgba, range };
}

/** The step whose colour is nearest to (r, g, b): the inverse of the colouring, for tests. */
export function nearestStep(r: number, g: number, b: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let i = 0; i < STEPS; i++) {
    const d = (VIRIDIS[i * 3] - r) ** 2 + (VIRIDIS[i * 3 + 1] - g) ** 2 + (VIRIDIS[i * 3 + 2] - b) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/** CSS linear-gradient stops of the colormap, for legends. */
export function cssGradient(stops = 9): string {
  const colors = Array.from({ length: stops }, (_, i) => {
    const s = Math.round((i / (stops - 1)) * (STEPS - 1));
    return `rgb(${VIRIDIS[s * 3]}, ${VIRIDIS[s * 3 + 1]}, ${VIRIDIS[s * 3 + 2]})`;
  });
  return `linear-gradient(to right, ${colors.join(', ')})`;
}
