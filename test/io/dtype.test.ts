import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../src/io/dtype.js';

const f16 = (...bits: number[]) => Array.from(f16ToF32(Uint16Array.from(bits)));
const bf16 = (...bits: number[]) => Array.from(bf16ToF32(Uint16Array.from(bits)));
const toF16 = (...xs: number[]) => Array.from(f32ToF16(Float32Array.from(xs)));
const toBf16 = (...xs: number[]) => Array.from(f32ToBf16(Float32Array.from(xs)));
/** The float32 whose bit pattern is `bits`. */
const fromBits = (bits: number) => new Float32Array(Uint32Array.of(bits).buffer)[0];
/** Float32Array over these bit patterns (not through JS numbers, which may quiet a signalling NaN). */
const f32Bits = (...bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
const bitsOf = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

/** binary16 by its definition, in float64 arithmetic (independent of the table in dtype.ts). */
function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return e === 0 ? sign * m * 2 ** -24 : sign * 2 ** (e - 15) * (1 + m / 1024);
}

describe('f16 -> f32', () => {
  it('decodes hand-computed values', () => {
    expect(f16(0x3c00, 0xbc00, 0x3800, 0x4248, 0x3555, 0x3bff, 0x7bff, 0xfbff)).toEqual([
      1, -1, 0.5, 3.140625, 0.333251953125, 0.99951171875, 65504, -65504,
    ]);
  });

  it('keeps the sign of zero', () => {
    const [pos, neg] = f16(0x0000, 0x8000);
    expect(Object.is(pos, 0)).toBe(true);
    expect(Object.is(neg, -0)).toBe(true);
  });

  it('decodes subnormals exactly', () => {
    expect(f16(0x0001, 0x8001, 0x0002, 0x0200, 0x03ff, 0x0400)).toEqual([
      2 ** -24,
      -(2 ** -24),
      2 ** -23,
      2 ** -15,
      1023 * 2 ** -24,
      2 ** -14,
    ]);
  });

  it('maps infinities to infinities and NaNs to NaNs with their payload', () => {
    expect(f16(0x7c00, 0xfc00)).toEqual([Infinity, -Infinity]);
    const nans = f16ToF32(Uint16Array.of(0x7e00, 0x7c01, 0xfe00, 0x7fff));
    expect(Array.from(nans).every(Number.isNaN)).toBe(true);
    expect(bitsOf(nans)).toEqual([0x7fc00000, 0x7f802000, 0xffc00000, 0x7fffe000]);
  });

  it('matches the binary16 definition on all 65536 bit patterns', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const out = f16ToF32(all);
    for (let h = 0; h < 65536; h++) {
      const want = f16Value(h);
      if (Number.isNaN(want)) expect(out[h]).toBeNaN();
      else if (out[h] !== want || Object.is(out[h], -0) !== Object.is(want, -0))
        expect([h, out[h]]).toEqual([h, want]);
    }
  });
});

describe('bf16 -> f32', () => {
  it('decodes hand-computed values', () => {
    expect(bf16(0x3f80, 0xbf80, 0x4049, 0x3e80, 0x7f7f)).toEqual([1, -1, 3.140625, 0.25, 255 * 2 ** 120]);
  });

  it('keeps signed zeros, subnormals, infinities and NaNs', () => {
    const [pos, neg, tiny, big, small, inf, ninf, nan] = bf16(
      0x0000,
      0x8000,
      0x0001,
      0x007f,
      0x0080,
      0x7f80,
      0xff80,
      0x7fc1,
    );
    expect(Object.is(pos, 0) && Object.is(neg, -0)).toBe(true);
    expect([tiny, big, small]).toEqual([2 ** -133, 127 * 2 ** -133, 2 ** -126]);
    expect([inf, ninf]).toEqual([Infinity, -Infinity]);
    expect(nan).toBeNaN();
    expect(bitsOf(bf16ToF32(Uint16Array.of(0x7fc1)))).toEqual([0x7fc10000]);
  });
});

/** The nearest f16, ties to the even bit pattern, found by search over every finite f16. */
const finiteF16 = Array.from({ length: 0x7c00 }, (_, h) => f16Value(h)); // ascending, 0 .. 65504
function nearestF16(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // 65520 is halfway from 65504 to 2^16: the tie goes to the even infinity
  let lo = 0;
  let hi = finiteF16.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (finiteF16[mid] <= a) lo = mid;
    else hi = mid;
  }
  const dl = a - finiteF16[lo];
  const dh = finiteF16[hi] - a;
  return sign | (dl < dh || (dl === dh && lo % 2 === 0) ? lo : hi);
}

describe('f32 -> f16 (round to nearest even)', () => {
  it('rounds halfway cases to the even mantissa', () => {
    const ulp = 2 ** -10;
    expect(toF16(1 + ulp / 2, 1 + (3 * ulp) / 2, 1 + ulp / 2 + 2 ** -20, 1 + ulp / 2 - 2 ** -20)).toEqual([
      0x3c00, 0x3c02, 0x3c01, 0x3c00,
    ]);
    expect(toF16(-(1 + ulp / 2), -(1 + (3 * ulp) / 2))).toEqual([0xbc00, 0xbc02]);
  });

  it('overflows to infinity from 65520 on', () => {
    expect(toF16(65504, 65519.99, 65520, 65536, 1e10, -65520, -1e10)).toEqual([
      0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x7c00, 0xfc00, 0xfc00,
    ]);
  });

  it('rounds into and within the subnormal range', () => {
    expect(
      toF16(
        2 ** -24,
        2 ** -25,
        fromBits(0x33000001),
        3 * 2 ** -25,
        2 ** -26,
        1023 * 2 ** -24,
        1023.5 * 2 ** -24,
        2 ** -14,
        1e-40,
      ),
    ).toEqual([0x0001, 0x0000, 0x0001, 0x0002, 0x0000, 0x03ff, 0x0400, 0x0400, 0x0000]);
    expect(toF16(-(2 ** -24), -1e-30, -0)).toEqual([0x8001, 0x8000, 0x8000]);
  });

  it('keeps infinities and NaNs (a NaN never becomes infinity)', () => {
    expect(toF16(Infinity, -Infinity)).toEqual([0x7c00, 0xfc00]);
    const nans = f32ToF16(f32Bits(0x7fc00000, 0x7f800001, 0xff800001, 0x7f801fff));
    expect(Array.from(nans)).toEqual([0x7e00, 0x7e00, 0xfe00, 0x7e00]);
  });

  it('inverts f16ToF32 on every non-NaN f16', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = f32ToF16(f16ToF32(all));
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) expect(f16Value(back[h])).toBeNaN();
      else if (back[h] !== h) expect(back[h]).toBe(h);
    }
  });

  it('agrees with a nearest-value search on random float32 bit patterns around the f16 range', () => {
    let seed = 12345;
    const random = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed;
    };
    const bits = new Uint32Array(200_000);
    for (let i = 0; i < bits.length; i++) {
      const exp = 127 - 27 + (random() % 46); // 2^-27 .. 2^18: below subnormals to past overflow
      bits[i] = (random() & 0x80000000) | (exp << 23) | (random() & 0x7fffff);
    }
    const x = new Float32Array(bits.buffer);
    const got = f32ToF16(x);
    for (let i = 0; i < x.length; i++) {
      const want = nearestF16(x[i]);
      if (got[i] !== want) expect([x[i], got[i]]).toEqual([x[i], want]);
    }
  });
});

/** The nearest bf16, ties to even, from the two bf16 values around x. */
function nearestBf16(x: number): number {
  const b = new Uint32Array(Float32Array.of(x).buffer)[0];
  const down = b >>> 16;
  const lo = Math.abs(fromBits(down << 16));
  const hi = Math.abs(fromBits(((down + 1) << 16) >>> 0)); // may be infinity
  const a = Math.abs(x);
  const dl = a - lo;
  const dh = hi === Infinity ? (a >= 2 ** 128 - 2 ** 119 ? -1 : Infinity) : hi - a; // 2^128 - 2^119: halfway to "2^128"
  return dl < dh || (dl === dh && down % 2 === 0) ? down : down + 1;
}

describe('f32 -> bf16 (round to nearest even)', () => {
  it('rounds halfway cases to the even mantissa', () => {
    const ulp = 2 ** -7;
    expect(toBf16(1, 1 + ulp / 2, 1 + (3 * ulp) / 2, 1 + ulp / 2 + 2 ** -23, -(1 + ulp / 2))).toEqual([
      0x3f80, 0x3f80, 0x3f82, 0x3f81, 0xbf80,
    ]);
  });

  it('keeps zeros, subnormals, infinities, and overflows to infinity', () => {
    expect(toBf16(0, -0, 2 ** -133, 1e-40, fromBits(0x7f7fffff), Infinity, -Infinity)).toEqual([
      0x0000, 0x8000, 0x0001, 0x0001, 0x7f80, 0x7f80, 0xff80,
    ]);
  });

  it('keeps NaNs whose payload lies only in the dropped half', () => {
    const nans = f32ToBf16(f32Bits(0x7f800001, 0xff800001, 0x7fc00000, 0x7f80ffff));
    expect(Array.from(nans)).toEqual([0x7fc0, 0xffc0, 0x7fc0, 0x7fc0]);
  });

  it('agrees with the nearest of the two neighbours on random float32 values', () => {
    let seed = 99;
    const random = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed;
    };
    const bits = Uint32Array.from({ length: 100_000 }, () => {
      const b = random();
      return (b & 0x7f800000) === 0x7f800000 ? b & 0xbfffffff : b; // finite values only
    });
    const x = new Float32Array(bits.buffer);
    const got = f32ToBf16(x);
    for (let i = 0; i < x.length; i++) {
      const want = nearestBf16(x[i]);
      if (got[i] !== want) expect([x[i], got[i]]).toEqual([x[i], want]);
    }
  });
});
