// Multi-head self-attention over every token (cls, registers, patches), no mask:
//   probs = softmax(q kᵀ / sqrt(HEAD_DIM)) * head_mask[h];   context = probs v
// head_mask multiplies the probabilities, as transformers documents it; it is one scalar per head,
// so it is applied to the context at the end.
//
// qkv     [batch * tokens, 3 * D]: query | key | value columns, head h at columns h * HEAD_DIM
// context [batch * tokens, D]
//
// `flash`: a workgroup owns QUERY_BLOCK = 4 * QUERY_GROUPS queries of one (batch, head) and streams
// the keys in blocks of KEY_BLOCK = 8 * KEY_GROUPS with the online softmax. Per query, over blocks:
//   m' = max(m, max_k s_k),   l' = l * exp(m - m') + sum_k exp(s_k - m'),
//   acc' = acc * exp(m - m') + sum_k exp(s_k - m') v_k,      context = acc / l at the end,
// so no [T, T] matrix exists. Each query's final (m, l) goes to `stats`, from which `probs`
// rebuilds the probabilities exactly when the caller asks for attentions.
//
// Thread (g, c) of QUERY_GROUPS x COLUMNS owns the four queries 4g .. 4g + 3 (the lanes of every
// vec4 below) in both products, register-blocked as linear.wgsl's tiles are:
//   q kᵀ   c < KEY_GROUPS: scores of keys 8c .. 8c + 7, a 4 x 8 block; per head dim one q vec4
//          (4 queries) and two k vec4 (8 keys) from tiles stored dimension-major, 8 vec4 FMAs.
//   p v    c < DIM_COLUMNS: output dims 4(c + DIM_COLUMNS u) .. + 3 for u < 4, a 4 x 16 block; per
//          key one p vec4 (4 queries) and four v vec4, 16 vec4 FMAs.
// The v tile pads the head dim with zeros to 16 * DIM_COLUMNS, so no dim needs a branch. Block row
// maxima are reduced across the KEY_GROUPS threads of a query group through `block_max`; each exp
// is computed once, by the thread that owns the score.
//
// RoPE (DINOv3, override ROPE): q and k of the patch tokens are rotated as they are read from qkv,
// after the projection's bias and before the scaling, so no pass over q and k is added. For token
// t >= ROPE_PREFIX (cls and registers come first and are not rotated), patch n = t - ROPE_PREFIX,
// half = HEAD_DIM / 2 and the table's (cos a, sin a) at rope[n * half + m], m < half:
//   q'_m = q_m cos a_m − q_(m+half) sin a_m,   q'_(m+half) = q_(m+half) cos a_m + q_m sin a_m
// (q·cos a + rotate_half(q)·sin a; src/model/rope.ts computes the table for the call's grid).
//
// Storage: qkv and context hold A elements, an alias src/gpu/shaders.ts defines per variant (f32, or
// f16 for the half-precision path); loads convert to f32, stores go through to_A. Scores, softmax
// statistics and probabilities are f32 in every variant.

override HEADS: u32;
override HEAD_DIM: u32;
override QUERY_GROUPS: u32;
override KEY_GROUPS: u32;
override DIM_COLUMNS: u32; // ceil(HEAD_DIM / 16)
override THREADS: u32;     // of `probs`
override COLUMNS: u32 = max(KEY_GROUPS, DIM_COLUMNS);
override FLASH_THREADS: u32 = QUERY_GROUPS * COLUMNS;
override QUERY_BLOCK: u32; // 4 * QUERY_GROUPS
// The workgroup arrays' sizes in vec4 (src/model/attention.ts sizes them against the device's limit).
override Q_TILE: u32;
override KV_TILE: u32;
override P_TILE: u32;
override MAX_TILE: u32;
override KEY_BLOCK: u32 = 8u * KEY_GROUPS;
override K_STRIDE: u32 = 2u * KEY_GROUPS; // vec4 per head dim of the k tile
override V_STRIDE: u32 = 4u * DIM_COLUMNS; // vec4 per key of the v tile
override ROPE: bool = false;
override ROPE_PREFIX: u32 = 0u;
override D: u32 = HEADS * HEAD_DIM;
override SCALE: f32 = inverseSqrt(f32(HEAD_DIM));

@group(0) @binding(0) var<storage, read> qkv: array<A>;
@group(0) @binding(1) var<storage, read> head_mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> context: array<A>;
@group(0) @binding(3) var<storage, read_write> stats: array<vec2<f32>>;
@group(0) @binding(5) var<uniform> shape: Shape;
// RoPE's (cos, sin) [patches, HEAD_DIM / 2] of this call's patch grid; unread without ROPE.
@group(0) @binding(6) var<storage, read> rope: array<vec2<f32>>;

// q_tile[d * QUERY_GROUPS + g]: dim d of queries 4g .. 4g + 3.
var<workgroup> q_tile: array<vec4<f32>, Q_TILE>; // HEAD_DIM * QUERY_GROUPS
// One tile for k, then v, of a block: k[d * K_STRIDE + j] = dim d of keys 4j .. 4j + 3;
// v[key * V_STRIDE + j] = dims 4j .. 4j + 3 of key.
var<workgroup> kv_tile: array<vec4<f32>, KV_TILE>; // KEY_BLOCK * V_STRIDE
// p_tile[key * QUERY_GROUPS + g]: exp(s - m') of key for queries 4g .. 4g + 3.
var<workgroup> p_tile: array<vec4<f32>, P_TILE>; // KEY_BLOCK * QUERY_GROUPS
var<workgroup> block_max: array<vec4<f32>, MAX_TILE>; // KEY_GROUPS * QUERY_GROUPS

const NEG_BIG = -3.0e38;

fn qkv_index(b: u32, token: u32, part: u32, h: u32, d: u32) -> u32 {
  return (b * shape.tokens + token) * 3u * D + part * D + h * HEAD_DIM + d;
}

// Dim d of token t's q or k (part 0 or 1), rotated by RoPE where it applies.
fn load_qk(b: u32, t: u32, part: u32, h: u32, d: u32) -> f32 {
  let v = f32(qkv[qkv_index(b, t, part, h, d)]);
  if (!ROPE || t < ROPE_PREFIX) { return v; }
  let half = HEAD_DIM / 2u;
  let m = d % half;
  let cs = rope[(t - ROPE_PREFIX) * half + m];
  if (d < half) { return v * cs.x - f32(qkv[qkv_index(b, t, part, h, d + half)]) * cs.y; }
  return v * cs.x + f32(qkv[qkv_index(b, t, part, h, m)]) * cs.y;
}

// Dim d of tokens t0 .. t0 + 3 (q or k: part 0 or 1). Tokens past the last repeat it: their keys
// are masked out, their queries never stored.
fn load_tokens4(b: u32, t0: u32, part: u32, h: u32, d: u32) -> vec4<f32> {
  let last = shape.tokens - 1u;
  return vec4<f32>(load_qk(b, min(t0, last), part, h, d), load_qk(b, min(t0 + 1u, last), part, h, d),
                   load_qk(b, min(t0 + 2u, last), part, h, d), load_qk(b, min(t0 + 3u, last), part, h, d));
}

// Dims d .. d + 3 of token t's value, zero past HEAD_DIM.
fn load_value4(b: u32, t: u32, h: u32, d: u32) -> vec4<f32> {
  let base = qkv_index(b, min(t, shape.tokens - 1u), 2u, h, 0u);
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (d + j < HEAD_DIM) { v[j] = f32(qkv[base + d + j]); }
  }
  return v;
}

@compute @workgroup_size(FLASH_THREADS)
fn flash(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let q0 = wg.x * QUERY_BLOCK;
  let h = wg.y;
  let b = wg.z;
  let g = li / COLUMNS;
  let c = li % COLUMNS;

  // Consecutive threads read consecutive dims of a row: coalesced.
  for (var i = li; i < HEAD_DIM * QUERY_GROUPS; i += FLASH_THREADS) {
    let d = i % HEAD_DIM;
    let j = i / HEAD_DIM;
    q_tile[d * QUERY_GROUPS + j] = load_tokens4(b, q0 + 4u * j, 0u, h, d);
  }

  // Lane i of each vec4 is query 4g + i: running max m and sum l; acc_u[i] holds its output dims
  // 4(c + DIM_COLUMNS u) .. + 3.
  var m = vec4<f32>(NEG_BIG);
  var l = vec4<f32>(0.0);
  var acc0 = array<vec4<f32>, 4>();
  var acc1 = array<vec4<f32>, 4>();
  var acc2 = array<vec4<f32>, 4>();
  var acc3 = array<vec4<f32>, 4>();
  for (var k0 = 0u; k0 < shape.tokens; k0 += KEY_BLOCK) {
    workgroupBarrier(); // the previous block's p v is done with kv_tile and p_tile
    for (var i = li; i < HEAD_DIM * K_STRIDE; i += FLASH_THREADS) {
      let d = i % HEAD_DIM;
      let j = i / HEAD_DIM;
      kv_tile[d * K_STRIDE + j] = load_tokens4(b, k0 + 4u * j, 1u, h, d);
    }
    workgroupBarrier();

    // s[j]: scores of the four queries with key k0 + 8c + j.
    var s = array<vec4<f32>, 8>();
    if (c < KEY_GROUPS) {
      for (var d = 0u; d < HEAD_DIM; d++) {
        let q = q_tile[d * QUERY_GROUPS + g];
        let k = kv_tile[d * K_STRIDE + 2u * c];
        let k4 = kv_tile[d * K_STRIDE + 2u * c + 1u];
        s[0] += q * k.x;
        s[1] += q * k.y;
        s[2] += q * k.z;
        s[3] += q * k.w;
        s[4] += q * k4.x;
        s[5] += q * k4.y;
        s[6] += q * k4.z;
        s[7] += q * k4.w;
      }
      var top = vec4<f32>(NEG_BIG);
      for (var j = 0u; j < 8u; j++) {
        s[j] = select(vec4<f32>(NEG_BIG), s[j] * SCALE, k0 + 8u * c + j < shape.tokens);
        top = max(top, s[j]);
      }
      block_max[c * QUERY_GROUPS + g] = top;
    }
    workgroupBarrier(); // block_max is complete, and k is no longer read

    var m_new = m;
    for (var j = 0u; j < KEY_GROUPS; j++) { m_new = max(m_new, block_max[j * QUERY_GROUPS + g]); }
    let alpha = exp(m - m_new);
    m = m_new;
    if (c < KEY_GROUPS) {
      for (var j = 0u; j < 8u; j++) { p_tile[(8u * c + j) * QUERY_GROUPS + g] = exp(s[j] - m_new); }
    }
    for (var i = li; i < KEY_BLOCK * V_STRIDE; i += FLASH_THREADS) {
      kv_tile[i] = load_value4(b, k0 + i / V_STRIDE, h, 4u * (i % V_STRIDE));
    }
    workgroupBarrier();

    if (c < DIM_COLUMNS) {
      l *= alpha;
      for (var i = 0u; i < 4u; i++) {
        acc0[i] *= alpha[i];
        acc1[i] *= alpha[i];
        acc2[i] *= alpha[i];
        acc3[i] *= alpha[i];
      }
      for (var r = 0u; r < KEY_BLOCK; r++) {
        let p = p_tile[r * QUERY_GROUPS + g];
        l += p;
        let row = r * V_STRIDE + c;
        let v0 = kv_tile[row];
        let v1 = kv_tile[row + DIM_COLUMNS];
        let v2 = kv_tile[row + 2u * DIM_COLUMNS];
        let v3 = kv_tile[row + 3u * DIM_COLUMNS];
        acc0[0] += p.x * v0; acc0[1] += p.y * v0; acc0[2] += p.z * v0; acc0[3] += p.w * v0;
        acc1[0] += p.x * v1; acc1[1] += p.y * v1; acc1[2] += p.z * v1; acc1[3] += p.w * v1;
        acc2[0] += p.x * v2; acc2[1] += p.y * v2; acc2[2] += p.z * v2; acc2[3] += p.w * v2;
        acc3[0] += p.x * v3; acc3[1] += p.y * v3; acc3[2] += p.z * v3; acc3[3] += p.w * v3;
      }
    }
  }

  if (c >= DIM_COLUMNS) { return; }
  let scale = head_mask[h] / l;
  for (var i = 0u; i < 4u; i++) {
    let q = q0 + 4u * g + i;
    if (q >= shape.tokens) { return; }
    let row = (b * shape.tokens + q) * D + h * HEAD_DIM;
    store4(row, 4u * c, acc0[i] * scale[i]);
    store4(row, 4u * (c + DIM_COLUMNS), acc1[i] * scale[i]);
    store4(row, 4u * (c + 2u * DIM_COLUMNS), acc2[i] * scale[i]);
    store4(row, 4u * (c + 3u * DIM_COLUMNS), acc3[i] * scale[i]);
    if (c == 0u) { stats[(b * HEADS + h) * shape.tokens + q] = vec2<f32>(m[i], l[i]); }
  }
}

// Context dims d .. d + 3 of one row, those below HEAD_DIM.
fn store4(row: u32, d: u32, v: vec4<f32>) {
  for (var j = 0u; j < 4u; j++) {
    if (d + j < HEAD_DIM) { context[row + d + j] = to_A(v[j]); }
  }
}

// attentions [batch, HEADS, tokens, tokens]: one invocation per probability, from the same scores
// and the (m, l) that `flash` ended with. Maps too large for one binding are written in chunks of
// whole (batch, head) blocks: this dispatch writes blocks BLOCK0 .. BLOCK0 + dispatch z.
override BLOCK0: u32 = 0u;
@group(0) @binding(4) var<storage, read_write> probs_out: array<f32>;

@compute @workgroup_size(THREADS)
fn probs(@builtin(global_invocation_id) gid: vec3<u32>) {
  let key = gid.x;
  let q = gid.y;
  let head_block = BLOCK0 + gid.z;
  let b = head_block / HEADS;
  let h = head_block % HEADS;
  if (key >= shape.tokens) { return; }
  var s = 0.0;
  for (var d = 0u; d < HEAD_DIM; d++) {
    s += load_qk(b, q, 0u, h, d) * load_qk(b, key, 1u, h, d);
  }
  let ml = stats[(b * HEADS + h) * shape.tokens + q];
  probs_out[(gid.z * shape.tokens + q) * shape.tokens + key] = exp(s * SCALE - ml.x) / ml.y * head_mask[h];
}
