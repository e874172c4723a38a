import { expect } from 'vitest';

/** The project's tolerance: max |out - ref| / max |ref| per tensor. */
export const TOLERANCE = 1e-4;

/** max |out - ref| / max |ref|; NaN (or a size mismatch) gives Infinity. */
export function relativeError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) return Infinity;
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const diff = Math.abs(out[i] - ref[i]);
    if (!(diff <= maxDiff)) maxDiff = Number.isNaN(diff) ? Infinity : diff;
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

/** Fails with the first mismatching indices when the relative error exceeds `tolerance`. */
export function expectClose(
  out: ArrayLike<number>,
  ref: ArrayLike<number>,
  name: string,
  tolerance = TOLERANCE,
): number {
  expect(out.length, `${name}: length`).toBe(ref.length);
  const err = relativeError(out, ref);
  if (!(err <= tolerance)) {
    let maxRef = 0;
    for (let i = 0; i < ref.length; i++) maxRef = Math.max(maxRef, Math.abs(ref[i]));
    const bad: string[] = [];
    for (let i = 0; i < ref.length && bad.length < 5; i++) {
      const diff = Math.abs(out[i] - ref[i]);
      if (!(diff <= tolerance * (maxRef || 1))) bad.push(`[${i}] got ${out[i]}, want ${ref[i]}`);
    }
    expect.fail(
      `${name}: relative error ${err.toExponential(3)} > ${tolerance}; first mismatches: ${bad.join('; ')}`,
    );
  }
  return err;
}
