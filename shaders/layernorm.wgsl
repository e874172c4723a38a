// nn.LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * weight + bias,
// var the biased variance. Two passes over the row (mean first, then the mean of squared
// deviations), never the cancellation-prone E[x²] - mean²; the row is re-read from memory (cached)
// rather than held in registers, so any D works with any THREADS (a power of two).
// One workgroup per row; the row index runs over workgroup_id.x + workgroup_id.y * num_workgroups.x
// so that batches of more rows than one grid dimension holds dispatch (rowsGrid, src/gpu/recorder.ts).

override D: u32;
override EPS: f32;
override THREADS: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> shape: Shape;

var<workgroup> partial: array<f32, THREADS>;

fn workgroup_sum(v: f32, li: u32) -> f32 {
  partial[li] = v;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) { partial[li] += partial[li + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(THREADS)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let row = wg.x + wg.y * groups.x;
  if (row >= shape.rows) { return; }
  let base = row * D;
  // Sums are taken of x - x[0]: a row far from zero (high-norm tokens) keeps its precision.
  let shift = x[base];
  var sum = 0.0;
  for (var d = li; d < D; d += THREADS) { sum += x[base + d] - shift; }
  let mean = workgroup_sum(sum, li) / f32(D);
  var sq = 0.0;
  for (var d = li; d < D; d += THREADS) { let c = (x[base + d] - shift) - mean; sq += c * c; }
  let rstd = inverseSqrt(workgroup_sum(sq, li) / f32(D) + EPS);
  for (var d = li; d < D; d += THREADS) { y[base + d] = ((x[base + d] - shift) - mean) * rstd * weight[d] + bias[d]; }
}
