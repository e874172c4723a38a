// Multi-head self-attention over every token (cls, registers, patches), no mask:
//   probs = softmax(q kᵀ / sqrt(HEAD_DIM)) * head_mask[h];   context = probs v
// head_mask multiplies the probabilities, as transformers documents it; it is one scalar per head,
// so it is applied to the context at the end.
//
// `flash` streams keys in blocks of KEY_BLOCK with the online softmax (running max m and sum l,
// rescaling the accumulator by exp(m_old - m_new)), so no [T, T] matrix exists. It writes each
// query row's final (m, l) to `stats`, from which `probs` rebuilds the probabilities exactly when
// the caller asks for attentions.
//
// qkv     [batch * tokens, 3 * D]: query | key | value columns, head h at columns h * HEAD_DIM
// context [batch * tokens, D]
// A workgroup handles QUERY_BLOCK queries of one (batch, head); a query row is owned by
// CHUNKS = ceil(HEAD_DIM / 4) threads, each accumulating four of its output dimensions.
//
// Storage: qkv and context hold A elements, an alias src/gpu/shaders.ts defines per variant (f32, or
// f16 for the half-precision path); loads convert to f32, stores go through to_A. Scores, softmax
// statistics and probabilities are f32 in every variant.

override HEADS: u32;
override HEAD_DIM: u32;
override THREADS: u32;
override KEY_BLOCK: u32;
override CHUNKS: u32 = (HEAD_DIM + 3u) / 4u;
override QUERY_BLOCK: u32 = THREADS / CHUNKS;
override D: u32 = HEADS * HEAD_DIM;
override SCALE: f32 = inverseSqrt(f32(HEAD_DIM));

@group(0) @binding(0) var<storage, read> qkv: array<A>;
@group(0) @binding(1) var<storage, read> head_mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> context: array<A>;
@group(0) @binding(3) var<storage, read_write> stats: array<vec2<f32>>;
@group(0) @binding(5) var<uniform> shape: Shape;

var<workgroup> q_tile: array<f32, QUERY_BLOCK * HEAD_DIM>;
var<workgroup> k_tile: array<f32, KEY_BLOCK * HEAD_DIM>;
var<workgroup> v_tile: array<f32, KEY_BLOCK * HEAD_DIM>;
var<workgroup> s_tile: array<f32, QUERY_BLOCK * KEY_BLOCK>;

const NEG_BIG = -3.0e38;

fn qkv_index(b: u32, token: u32, part: u32, h: u32, d: u32) -> u32 {
  return (b * shape.tokens + token) * 3u * D + part * D + h * HEAD_DIM + d;
}

@compute @workgroup_size(THREADS)
fn flash(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let q0 = wg.x * QUERY_BLOCK;
  let h = wg.y;
  let b = wg.z;
  let row = li / CHUNKS;
  let chunk = li % CHUNKS;

  for (var i = li; i < QUERY_BLOCK * HEAD_DIM; i += THREADS) {
    let t = q0 + i / HEAD_DIM;
    q_tile[i] = select(0.0, f32(qkv[qkv_index(b, t, 0u, h, i % HEAD_DIM)]), t < shape.tokens);
  }

  var m = NEG_BIG;
  var l = 0.0;
  var acc = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < shape.tokens; k0 += KEY_BLOCK) {
    workgroupBarrier();
    for (var i = li; i < KEY_BLOCK * HEAD_DIM; i += THREADS) {
      let t = k0 + i / HEAD_DIM;
      let d = i % HEAD_DIM;
      k_tile[i] = select(0.0, f32(qkv[qkv_index(b, t, 1u, h, d)]), t < shape.tokens);
      v_tile[i] = select(0.0, f32(qkv[qkv_index(b, t, 2u, h, d)]), t < shape.tokens);
    }
    workgroupBarrier();
    for (var i = li; i < QUERY_BLOCK * KEY_BLOCK; i += THREADS) {
      let r = i / KEY_BLOCK;
      let c = i % KEY_BLOCK;
      var s = 0.0;
      for (var d = 0u; d < HEAD_DIM; d++) { s += q_tile[r * HEAD_DIM + d] * k_tile[c * HEAD_DIM + d]; }
      s_tile[i] = select(NEG_BIG, s * SCALE, k0 + c < shape.tokens);
    }
    workgroupBarrier();
    if (row < QUERY_BLOCK) {
      var m_new = m;
      for (var c = 0u; c < KEY_BLOCK; c++) { m_new = max(m_new, s_tile[row * KEY_BLOCK + c]); }
      let alpha = exp(m - m_new);
      l *= alpha;
      acc *= alpha;
      for (var c = 0u; c < KEY_BLOCK; c++) {
        let p = exp(s_tile[row * KEY_BLOCK + c] - m_new);
        l += p;
        var v = vec4<f32>(0.0);
        for (var j = 0u; j < 4u; j++) {
          let d = chunk * 4u + j;
          if (d < HEAD_DIM) { v[j] = v_tile[c * HEAD_DIM + d]; }
        }
        acc += p * v;
      }
      m = m_new;
    }
  }

  let q = q0 + row;
  if (row >= QUERY_BLOCK || q >= shape.tokens) { return; }
  let out = acc * (head_mask[h] / l);
  for (var j = 0u; j < 4u; j++) {
    let d = chunk * 4u + j;
    if (d < HEAD_DIM) { context[(b * shape.tokens + q) * D + h * HEAD_DIM + d] = to_A(out[j]); }
  }
  if (chunk == 0u) { stats[(b * HEADS + h) * shape.tokens + q] = vec2<f32>(m, l); }
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
    s += f32(qkv[qkv_index(b, q, 0u, h, d)]) * f32(qkv[qkv_index(b, key, 1u, h, d)]);
  }
  let ml = stats[(b * HEADS + h) * shape.tokens + q];
  probs_out[(gid.z * shape.tokens + q) * shape.tokens + key] = exp(s * SCALE - ml.x) / ml.y * head_mask[h];
}
