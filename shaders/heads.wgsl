// What the task heads read from the encoder output.

override D: u32;
// Tokens before the patch tokens: cls and the registers.
override PREFIX: u32;
override THREADS: u32; // HEAD_THREADS (src/model/heads.ts)

@group(0) @binding(0) var<storage, read> hidden: array<f32>;
@group(0) @binding(1) var<storage, read_write> pooled: array<f32>;
@group(0) @binding(3) var<uniform> shape: Shape;

// Dinov2WithRegistersForImageClassification's linear input: cat([cls, mean of patch tokens]) -> [batch, 2D].
@compute @workgroup_size(THREADS)
fn cls_and_patch_mean(@builtin(global_invocation_id) gid: vec3<u32>) {
  let d = gid.x;
  let b = gid.y;
  if (d >= D) { return; }
  let base = b * shape.tokens * D;
  var sum = 0.0;
  for (var t = PREFIX; t < shape.tokens; t++) { sum += hidden[base + t * D + d]; }
  pooled[b * 2u * D + d] = hidden[base + d];
  pooled[b * 2u * D + D + d] = sum / f32(shape.tokens - PREFIX);
}

@group(0) @binding(2) var<storage, read_write> feature_map: array<f32>;

// Backbone feature map: patch tokens [batch, patches, D] -> [batch, D, grid_h, grid_w].
@compute @workgroup_size(THREADS)
fn patch_tokens_to_map(@builtin(global_invocation_id) gid: vec3<u32>) {
  let pixel = gid.x;
  let d = gid.y;
  let b = gid.z;
  if (pixel >= shape.patches) { return; }
  feature_map[(b * D + d) * shape.patches + pixel] = hidden[(b * shape.tokens + PREFIX + pixel) * D + d];
}
