// Half-width float formats as bit patterns (Uint16Array) and their exact widening to float32.
//   f16  (IEEE binary16): 1 sign, 5 exponent (bias 15), 10 mantissa bits.
//   bf16 (bfloat16):      1 sign, 8 exponent (bias 127), 7 mantissa bits: the top half of a float32.
// Narrowing rounds to nearest, ties to even, like torch's `.half()` and `.bfloat16()`.

let f16Table: Uint32Array | undefined;

/** float32 bit pattern of every f16 bit pattern (256 KiB, built on first use). */
function f16Bits(): Uint32Array {
  if (f16Table) return f16Table;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      table[h] = sign | 0x7f800000 | (mant << 13); // inf, or NaN keeping its payload
    } else if (exp !== 0) {
      table[h] = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant === 0) {
      table[h] = sign; // signed zero
    } else {
      // Subnormal: mant * 2^-24, normalized by shifting the leading one into the implicit bit.
      const shift = Math.clz32(mant) - 21; // 1..10
      table[h] = sign | ((113 - shift) << 23) | (((mant << shift) & 0x3ff) << 13);
    }
  }
  return (f16Table = table);
}

export function f16ToF32(bits: Uint16Array): Float32Array {
  const table = f16Bits();
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return new Float32Array(out.buffer);
}

export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** `q + (remainder rounds up)`: round to nearest with `half` the halfway remainder, ties to even. */
function roundHalfEven(q: number, remainder: number, half: number): number {
  return remainder > half || (remainder === half && (q & 1) === 1) ? q + 1 : q;
}

export function f32ToF16(x: Float32Array): Uint16Array {
  const src = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    const mant = b & 0x7fffff;
    const e = exp - 112; // f16 biased exponent
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // NaN stays NaN (quiet)
    } else if (e >= 0x1f) {
      out[i] = sign | 0x7c00; // too large: infinity
    } else if (e > 0) {
      // Normal; a carry out of the mantissa bumps the exponent, up to infinity at 0x7c00.
      out[i] = sign | roundHalfEven((e << 10) | (mant >>> 13), mant & 0x1fff, 0x1000);
    } else {
      // Subnormal or zero: value = m * 2^(exp-150), counted in units of 2^-24 -> m >> (14 - e).
      const shift = 14 - e;
      if (shift > 24) {
        out[i] = sign; // below half the smallest subnormal
      } else {
        const m = mant | 0x800000;
        out[i] = sign | roundHalfEven(m >>> shift, m & ((1 << shift) - 1), 1 << (shift - 1));
      }
    }
  }
  return out;
}

export function f32ToBf16(x: Float32Array): Uint16Array {
  const src = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if ((b & 0x7fffffff) > 0x7f800000) {
      out[i] = (b >>> 16) | 0x40; // NaN stays NaN (quiet) even if its payload was in the low half
    } else {
      out[i] = roundHalfEven(b >>> 16, b & 0xffff, 0x8000); // overflow carries into infinity
    }
  }
  return out;
}
