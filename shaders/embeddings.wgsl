// Dinov2WithRegistersEmbeddings (and Dinov2Embeddings), DINOv3ViTEmbeddings:
//   patches = Conv2d(C, D, kernel = stride = PATCH)(pixel_values)   (im2col here, then linear.wgsl)
//   patches = where(bool_masked_pos, mask_token, patches)
//   tokens  = [cls + pos[0], registers..., patches + pos[1:]]       (registers get no position)
// DINOv3 (POSITIONS false) adds no position embedding: its positions enter as RoPE in attention.wgsl.
// Sizes that are not multiples of PATCH are floored, as the convolution does.

override CHANNELS: u32;
override PATCH: u32;
override D: u32;
override REGISTERS: u32;
override POSITIONS: bool = true;
override THREADS: u32;
override COLS: u32 = CHANNELS * PATCH * PATCH;

@group(0) @binding(9) var<uniform> shape: Shape;

@group(0) @binding(0) var<storage, read> pixel_values: array<f32>;
@group(0) @binding(1) var<storage, read_write> columns: array<f32>;

// columns [batch * patches, CHANNELS * PATCH * PATCH], each row one patch flattened (c, ky, kx) as
// the conv weight [D, C, PATCH, PATCH] is. Dispatched over (ceil(COLS / THREADS), batch * patches).
@compute @workgroup_size(THREADS)
fn im2col(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  let col = gid.x;
  let patch_row = wg.y + wg.z * groups.y; // rows spill into z (rowsGrid in src/gpu/recorder.ts)
  if (col >= COLS || patch_row >= shape.batch * shape.patches) { return; }
  let b = patch_row / shape.patches;
  let p = patch_row % shape.patches;
  let c = col / (PATCH * PATCH);
  let ky = (col / PATCH) % PATCH;
  let kx = col % PATCH;
  let yy = (p / shape.grid_w) * PATCH + ky;
  let xx = (p % shape.grid_w) * PATCH + kx;
  columns[patch_row * COLS + col] = pixel_values[((b * CHANNELS + c) * shape.height + yy) * shape.width + xx];
}

@group(0) @binding(2) var<storage, read> patches: array<f32>;
@group(0) @binding(3) var<storage, read> cls_token: array<f32>;
@group(0) @binding(4) var<storage, read> register_tokens: array<f32>;
@group(0) @binding(5) var<storage, read> mask_token: array<f32>;
// 1 where the patch is masked, [batch * patches]
@group(0) @binding(6) var<storage, read> bool_masked_pos: array<u32>;
// [1 + patches, D], already resampled to this grid on the host
@group(0) @binding(7) var<storage, read> position_embeddings: array<f32>;
@group(0) @binding(8) var<storage, read_write> hidden: array<f32>;

// hidden [batch * tokens, D]; dispatched over (ceil(D / THREADS), batch * tokens).
@compute @workgroup_size(THREADS)
fn assemble_tokens(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  let d = gid.x;
  let token_row = wg.y + wg.z * groups.y;
  if (d >= D || token_row >= shape.batch * shape.tokens) { return; }
  let b = token_row / shape.tokens;
  let t = token_row % shape.tokens;
  var v: f32;
  if (t == 0u) {
    v = cls_token[d];
    if (POSITIONS) { v += position_embeddings[d]; }
  } else if (t <= REGISTERS) {
    v = register_tokens[(t - 1u) * D + d];
  } else {
    let p = t - 1u - REGISTERS;
    if (bool_masked_pos[b * shape.patches + p] != 0u) {
      v = mask_token[d];
    } else {
      v = patches[(b * shape.patches + p) * D + d];
    }
    if (POSITIONS) { v += position_embeddings[(1u + p) * D + d]; }
  }
  hidden[token_row * D + d] = v;
}
