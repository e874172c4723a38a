// Checkpoint tensors into the layouts the other kernels read, on the GPU, so the loader only ever
// moves raw bytes (src/model/parameters.ts streams them into `src` chunk by chunk).
//
// src  one source tensor's bytes as stored in the safetensors file, read as u32 words (the
//      buffer is padded with zeros to a multiple of 4 bytes): F32, F16, BF16 or F64, little-endian.
// dst  the packed parameter, as f32 bit patterns. The tensor is a row block [rows, cols] of a
//      [OUT_ROWS, cols] matrix starting at row row0 (query, key and value are the three blocks of
//      one fused projection); it is stored transposed and padded, [cols, out_rows4] with
//      out_rows4 = ceil(OUT_ROWS / 4) * 4, the layout linear.wgsl reads as vec4 columns. A vector
//      is the case cols = 1: copied as it is, its tail left at zero (buffers start zeroed).
// GLU  SwiGLU's weights_in: the two halves of the rows are interleaved, row j -> 2j and
//      row half + j -> 2j + 1, so that one thread of linear.wgsl owns both halves of a pair.
// Pieces: a weight larger than one binding is split along its (packed) rows; dst then holds rows
//      [piece_row0, piece_row0 + piece_rows) as [cols, out_rows4] with out_rows4 its rows padded
//      to 4, and elements landing outside it are left to the other pieces' dispatches.
//
// Every conversion is done on the bits, so it is exact and never flushes subnormals:
//   F16  -> f32: exact (the same table as src/io/dtype.ts f16ToF32).
//   BF16 -> f32: the top half of the float32.
//   F64  -> f32: rounded to nearest, ties to even, like `new Float32Array(float64Array)`.
// The sizes of one tensor are a uniform (`part`), so a pipeline is compiled once per dtype, not once
// per tensor shape. One thread per source element; element i = workgroup_id.y * (num_workgroups.x *
// THREADS) + global x, so tensors of more workgroups than one grid dimension holds dispatch.

override DTYPE: u32; // 0 F32, 1 F16, 2 BF16, 3 F64
override THREADS: u32; // PACK_THREADS (src/model/packer.ts)

struct Part {
  rows: u32,       // rows of this tensor (or of this chunk of its stored bytes)
  cols: u32,
  row0: u32,       // its first row in the whole matrix
  out_rows4: u32,  // rows of dst, padded to 4: the stride of a column of dst
  glu_half: u32,   // rows of the whole / 2 for SwiGLU's interleave; 0 leaves the rows in order
  piece_row0: u32, // the first packed row dst holds (0 unless the weight is split)
  piece_rows: u32, // the packed rows dst holds
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> part: Part;

fn f16_bits_to_f32_bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0x1fu) { return sign | 0x7f800000u | (m << 13u); } // inf, NaN with its payload
  if (e != 0u) { return sign | ((e + 112u) << 23u) | (m << 13u); }
  if (m == 0u) { return sign; }
  // Subnormal: m * 2^-24, normalised by moving the leading one into the implicit bit.
  let shift = countLeadingZeros(m) - 21u; // 1..10
  return sign | ((113u - shift) << 23u) | (((m << shift) & 0x3ffu) << 13u);
}

// Bit k (0..52) of the 53-bit significand hi21:lo.
fn bit53(hi: u32, lo: u32, k: u32) -> u32 {
  if (k >= 32u) { return (hi >> (k - 32u)) & 1u; }
  return (lo >> k) & 1u;
}

// Whether any of bits 0..k-1 of hi21:lo is set.
fn sticky53(hi: u32, lo: u32, k: u32) -> bool {
  if (k >= 32u) { return lo != 0u || (hi & ((1u << (k - 32u)) - 1u)) != 0u; }
  if (k == 0u) { return false; }
  return (lo & ((1u << k) - 1u)) != 0u;
}

fn f64_bits_to_f32_bits(lo: u32, hi: u32) -> u32 {
  let sign = hi & 0x80000000u;
  let e = (hi >> 20u) & 0x7ffu;
  let mhi = hi & 0xfffffu;
  if (e == 0x7ffu) {
    if ((mhi | lo) != 0u) { return sign | 0x7fc00000u | (mhi << 3u) | (lo >> 29u); } // NaN stays NaN
    return sign | 0x7f800000u;
  }
  if (e == 0u) { return sign; } // zero, or a float64 subnormal: far below half the least f32 subnormal
  let E = i32(e) - 1023 + 127; // f32 biased exponent
  if (E >= 255) { return sign | 0x7f800000u; }
  if (E >= 1) {
    // Normal: the top 23 of the 52 mantissa bits, the 29 below decide the rounding; a carry out
    // of the mantissa bumps the exponent, up to infinity.
    let q = (u32(E) << 23u) | (mhi << 3u) | (lo >> 29u);
    let rem = lo & 0x1fffffffu;
    let up = rem > 0x10000000u || (rem == 0x10000000u && (q & 1u) == 1u);
    return sign | (q + select(0u, 1u, up));
  }
  // Subnormal result: the 53-bit significand (implicit one included) in units of 2^-149 is
  // sig >> s with s = 926 - e >= 30; past s = 54 even the rounding bit is gone.
  let s = 926u - e;
  if (s > 54u) { return sign; }
  let hi21 = mhi | 0x100000u;
  var q: u32;
  if (s >= 32u) { q = hi21 >> (s - 32u); } else { q = (hi21 << (32u - s)) | (lo >> s); }
  let round = bit53(hi21, lo, s - 1u);
  let up = round == 1u && (sticky53(hi21, lo, s - 1u) || (q & 1u) == 1u);
  return sign | (q + select(0u, 1u, up)); // a carry to 0x800000 is the least normal, as it should be
}

fn element_bits(i: u32) -> u32 {
  switch DTYPE {
    case 1u: { return f16_bits_to_f32_bits((src[i / 2u] >> (16u * (i % 2u))) & 0xffffu); }
    case 2u: { return ((src[i / 2u] >> (16u * (i % 2u))) & 0xffffu) << 16u; }
    case 3u: { return f64_bits_to_f32_bits(src[2u * i], src[2u * i + 1u]); }
    default: { return src[i]; }
  }
}

@compute @workgroup_size(THREADS)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * THREADS + gid.x;
  if (i >= part.rows * part.cols) { return; }
  let c = i % part.cols;
  var r = part.row0 + i / part.cols;
  let half = part.glu_half;
  if (half != 0u) {
    if (r < half) { r = 2u * r; } else { r = 2u * (r - half) + 1u; }
  }
  if (r < part.piece_row0 || r >= part.piece_row0 + part.piece_rows) { return; }
  dst[c * part.out_rows4 + r - part.piece_row0] = element_bits(i);
}

// Half precision (dtype 'fp16', src/model/precision.ts): a packed f32 parameter, rounded to the
// nearest f16 (ties to even; overflow to infinity, NaN kept) on the bits, so every GPU gives the
// same weights.
//   to_half     wide (f32) -> narrow, two f16 per u32 word, element 2i in the low half: the
//               memory layout of array<vec4<f16>> that linear.wgsl reads.
//   round_half  in place, each f32 replaced by its f16 value ('fp16-emulated' keeps f32 storage).
// One thread per word of the output; the buffers' own lengths bound the work.
@group(0) @binding(3) var<storage, read> wide: array<u32>;
@group(0) @binding(4) var<storage, read_write> narrow: array<u32>;
@group(0) @binding(5) var<storage, read_write> values: array<u32>;

fn f32_bits_to_f16_bits(b: u32) -> u32 {
  let sign = (b >> 16u) & 0x8000u;
  let e = (b >> 23u) & 0xffu;
  let m = b & 0x7fffffu;
  if (e == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u | (m >> 13u), m != 0u); } // inf, NaN
  if (e >= 143u) { return sign | 0x7c00u; } // 2^16 and above
  if (e >= 113u) {
    // Normal: the top 10 of the 23 mantissa bits, the 13 below decide; a carry out of the
    // mantissa bumps the exponent, up to infinity.
    let q = ((e - 112u) << 10u) | (m >> 13u);
    let rem = m & 0x1fffu;
    let up = rem > 0x1000u || (rem == 0x1000u && (q & 1u) == 1u);
    return sign | (q + select(0u, 1u, up));
  }
  // Subnormal result in units of 2^-24: the 24-bit significand >> s with s = 126 - e (14..);
  // past s = 24 even the rounding bit is zero. f32 subnormals are far below 2^-25.
  if (e < 102u) { return sign; }
  let sig = m | 0x800000u;
  let s = 126u - e;
  let q = sig >> s;
  let round = (sig >> (s - 1u)) & 1u;
  let sticky = (sig & ((1u << (s - 1u)) - 1u)) != 0u;
  let up = round == 1u && (sticky || (q & 1u) == 1u);
  return sign | (q + select(0u, 1u, up)); // a carry to 0x400 is the least normal, as it should be
}

@compute @workgroup_size(THREADS)
fn to_half(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * THREADS + gid.x;
  if (i >= arrayLength(&narrow)) { return; }
  var lo = 0u;
  var hi = 0u;
  if (2u * i < arrayLength(&wide)) { lo = f32_bits_to_f16_bits(wide[2u * i]); }
  if (2u * i + 1u < arrayLength(&wide)) { hi = f32_bits_to_f16_bits(wide[2u * i + 1u]); }
  narrow[i] = lo | (hi << 16u);
}

@compute @workgroup_size(THREADS)
fn round_half(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * THREADS + gid.x;
  if (i >= arrayLength(&values)) { return; }
  values[i] = f16_bits_to_f32_bits(f32_bits_to_f16_bits(values[i]));
}
