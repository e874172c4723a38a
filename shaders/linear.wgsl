// y = epilogue(x · wT + bias): every nn.Linear of the model, and the patch embedding after im2col.
//
// x  [rows, K] row-major, as the activations are laid out.
// wT [K, N4] vec4: the checkpoint's weight [N, K] transposed at load, N padded to N4 = ceil(N / 4) with
//    zeros, so a thread loads four output columns at once and owns four adjacent columns.
// Tiling: a workgroup computes a TILE_M x TILE_N block of y; each thread a 4 x 4 block (four rows,
// one vec4 of columns). x and wT are staged through workgroup memory TILE_K deep.
//
// Prologue (override NORM): x is layer-normed on the fly (the pre-norm of the next sub-layer),
//   x̂[r, k] = ((x[r, k] - s_r) - m_r) * rstd_r * norm_weight[k] + norm_bias[k]
// with s_r = x[r, 0] a shift and m_r, rstd_r from two passes over the shifted row, as
// layernorm.wgsl computes them. Each workgroup finds the statistics of its TILE_M rows itself.
//
// Epilogues (override constants):
//   ACT       activation of (acc + bias), see activations below (0 = none)
//   RESIDUAL  y = y + gamma * v: layer-scale and the residual add, in place on the residual stream
//   GLU       gated: the weight's columns are interleaved at load (x1_j, x2_j), so adjacent pairs
//             give act(x1) * x2 (ACT on the gate only) and y has N / 2 columns: silu for
//             transformers' Dinov2WithRegistersSwiGLUFFN, hidden_act for DINOv3's gated MLP
// activations.wgsl is appended to this file when the module is built (src/gpu/shaders.ts).
//
// Split weights: a wT larger than one binding is stored as pieces of whole vec4 columns
// (src/model/packer.ts), one dispatch each. N is then the piece's columns and N0 its first column in
// the whole (a multiple of 4, of 8 with GLU); bias and gamma are indexed from N0 / 4, and y's rows
// are N_ALL wide (N_ALL / 2 with GLU). Unsplit: N0 = 0, N_ALL = N.
//
// Storage: x, wT and y hold X, W4 and Y elements, aliases that src/gpu/shaders.ts defines per
// variant (f32, or f16 for the half-precision path); every load converts to f32 and every store
// goes through to_Y, so the arithmetic is f32 in all variants.

override N: u32;
override N0: u32 = 0u;
override N_ALL: u32 = N;
override K: u32;
override TILE_M: u32;
override TILE_N: u32;
override TILE_K: u32;
override ACT: u32 = 0u;
override RESIDUAL: bool = false;
override GLU: bool = false;
override NORM: bool = false;
override EPS: f32 = 1e-6;

override N4: u32 = (N + 3u) / 4u;
override THREADS_X: u32 = TILE_N / 4u;
override THREADS_Y: u32 = TILE_M / 4u;
override THREADS: u32 = (TILE_M / 4u) * (TILE_N / 4u);

@group(0) @binding(0) var<storage, read> x: array<X>;
@group(0) @binding(1) var<storage, read> wT: array<W4>;
@group(0) @binding(2) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> gamma: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<Y>;
@group(0) @binding(5) var<storage, read> norm_weight: array<f32>;
@group(0) @binding(6) var<storage, read> norm_bias: array<f32>;
@group(0) @binding(7) var<uniform> shape: Shape;

// x tile stored k-major as vec4 of four rows: a thread reads its four rows in one load.
var<workgroup> x_tile: array<vec4<f32>, TILE_K * TILE_M / 4u>;
var<workgroup> w_tile: array<vec4<f32>, TILE_K * TILE_N / 4u>;
// Layernorm prologue: per-row shift, mean and 1/std, and a reduction scratch.
var<workgroup> row_shift: array<f32, TILE_M>;
var<workgroup> row_mean: array<f32, TILE_M>;
var<workgroup> row_rstd: array<f32, TILE_M>;
var<workgroup> partial: array<f32, THREADS>;

// THREADS / TILE_M threads share a row: each sums a strided part, the first adds the parts up.
fn row_sum(v: f32, li: u32) -> f32 {
  let per_row = THREADS / TILE_M;
  partial[li] = v;
  workgroupBarrier();
  var total = 0.0;
  let first = (li / per_row) * per_row;
  for (var i = 0u; i < per_row; i++) { total += partial[first + i]; }
  workgroupBarrier();
  return total;
}

fn norm_statistics(row0: u32, li: u32) {
  let per_row = THREADS / TILE_M;
  let r = li / per_row;
  let part = li % per_row;
  let row = min(row0 + r, shape.rows - 1u);
  let base = row * K;
  let shift = f32(x[base]);
  var s = 0.0;
  for (var k = part; k < K; k += per_row) { s += f32(x[base + k]) - shift; }
  let mean = row_sum(s, li) / f32(K);
  var q = 0.0;
  for (var k = part; k < K; k += per_row) { let c = (f32(x[base + k]) - shift) - mean; q += c * c; }
  let variance = row_sum(q, li) / f32(K);
  if (part == 0u) {
    row_shift[r] = shift;
    row_mean[r] = mean;
    row_rstd[r] = inverseSqrt(variance + EPS);
  }
  workgroupBarrier();
}

@compute @workgroup_size(THREADS_X, THREADS_Y)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * TILE_M;
  let col4_0 = wg.x * THREADS_X;
  var acc: array<vec4<f32>, 4>;
  if (NORM) { norm_statistics(row0, li); }
  for (var k0 = 0u; k0 < K; k0 += TILE_K) {
    // Consecutive threads read consecutive k of one row of x: coalesced.
    for (var i = li; i < TILE_M * TILE_K; i += THREADS) {
      let r = i / TILE_K;
      let k = i % TILE_K;
      var v = 0.0;
      if (row0 + r < shape.rows && k0 + k < K) {
        v = f32(x[(row0 + r) * K + k0 + k]);
        if (NORM) { v = ((v - row_shift[r]) - row_mean[r]) * row_rstd[r] * norm_weight[k0 + k] + norm_bias[k0 + k]; }
      }
      x_tile[k * (TILE_M / 4u) + r / 4u][r % 4u] = v;
    }
    for (var i = li; i < TILE_K * THREADS_X; i += THREADS) {
      let k = i / THREADS_X;
      let c4 = i % THREADS_X;
      var v = vec4<f32>(0.0);
      if (k0 + k < K && col4_0 + c4 < N4) { v = vec4<f32>(wT[(k0 + k) * N4 + col4_0 + c4]); }
      w_tile[i] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      let a = x_tile[k * (TILE_M / 4u) + lid.y];
      let b = w_tile[k * THREADS_X + lid.x];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }

  let col4 = col4_0 + lid.x;
  if (col4 >= N4) { return; }
  let col = col4 * 4u;
  let b = bias[N0 / 4u + col4];
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y * 4u + i;
    if (row >= shape.rows) { return; }
    let pre = acc[i] + b;
    if (GLU) {
      let gate = activate(vec4<f32>(pre.x, pre.z, 0.0, 0.0));
      let out = vec2<f32>(gate.x * pre.y, gate.y * pre.w);
      let base = row * (N_ALL / 2u) + (N0 + col) / 2u;
      y[base] = to_Y(out.x);
      if (col + 2u < N) { y[base + 1u] = to_Y(out.y); }
    } else {
      let v = activate(pre);
      let g = gamma[N0 / 4u + col4];
      for (var j = 0u; j < 4u; j++) {
        if (col + j < N) {
          let idx = row * N_ALL + N0 + col + j;
          if (RESIDUAL) { y[idx] = to_Y(f32(y[idx]) + g[j] * v[j]); } else { y[idx] = to_Y(v[j]); }
        }
      }
    }
  }
}
