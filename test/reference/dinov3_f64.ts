// DINOv3 ViT in float64 on the CPU, written as plainly as transformers' modeling_dinov3_vit.py,
// for tests and for making fixtures. Shares the linear and layernorm of the DINOv2 reference; the
// RoPE is its own, written the way DINOv3ViTRopePositionEmbedding and apply_rotary_pos_emb are
// (full-length angle vectors, q·cos + rotate_half(q)·sin), not the engine's src/model/rope.ts
// (which dinov3_reference.test.ts checks against this one).
//
//   embeddings   patch conv -> bool_masked_pos -> mask_token -> [cls, registers, patches]
//                (no position embedding: position enters through RoPE on q and k of the patches)
//   layer N      h += lambda1 * o_proj(attention(rope(q), rope(k), v));  h += lambda2 * mlp(norm2(h))
//   norm         last_hidden_state; pooler_output = last_hidden_state[:, 0]
//   backbone     DINOv3ViTBackbone (transformers v5): stages [embeddings, layer 1 .. layer L]; stage
//                idx is normed with `norm` when idx == L (always) or apply_layernorm, then the cls and
//                register tokens are dropped; [B, D, h, w] with reshape_hidden_states, else [B, h·w, D]
import { activationF64 } from './activations_f64.js';
import type { Tensor64, WeightSource } from './dinov2_f64.js';
import { attention64, im2col64, layerNorm64, linear64, patchTokensToMap64 } from './ops_f64.js';
import type { HiddenAct } from '../../src/io/config.js';

/** The config.json fields of DINOv3ViTConfig the forward reads. */
export interface Dinov3ReferenceConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_register_tokens: number;
  num_channels: number;
  patch_size: number;
  hidden_act: HiddenAct;
  layer_norm_eps: number;
  rope_theta: number;
  query_bias: boolean;
  key_bias: boolean;
  value_bias: boolean;
  proj_bias: boolean;
  mlp_bias: boolean;
  use_gated_mlp: boolean;
  /** Backbone only (transformers v5's DINOv3ViTBackbone); default true. */
  apply_layernorm?: boolean;
  /** Backbone only; default true. */
  reshape_hidden_states?: boolean;
}

export interface Dinov3ReferenceInputs {
  pixelValues: ArrayLike<number>; // [B, C, H, W]
  batch: number;
  height: number;
  width: number;
  boolMaskedPos?: ArrayLike<number | boolean>; // [B, h·w]
  /** Backbone stages (0 = embeddings output, i = layer i's output) to return as feature maps, in this order. */
  outIndices?: number[];
}

export interface Dinov3ReferenceOutputs {
  last_hidden_state: Tensor64; // [B, T, D], T = 1 + R + h·w
  pooler_output: Tensor64; // [B, D]
  hidden_states: Tensor64[]; // L + 1; [L] is the last layer's output before the final norm
  attentions: Tensor64[]; // L of [B, heads, T, T]
  /** One per outIndices entry: [B, D, h, w], or [B, h·w, D] without reshape_hidden_states. */
  feature_maps: Tensor64[];
}

/**
 * DINOv3ViTRopePositionEmbedding for an h x w patch grid, as transformers writes it:
 *   inv_freq = 1 / θ^(arange(0, 1, 4/d))                                  (d/4,)
 *   coords   = 2·(meshgrid(arange(0.5, h)/h, arange(0.5, w)/w, 'ij')) − 1  (h·w, 2), row-major
 *   angles   = 2π · coords[:, :, None] · inv_freq  -> flatten(1, 2) -> tile(2)   (h·w, d)
 * returned as cos and sin, each [h·w, d].
 */
export function ropeCosSin64(
  gridH: number,
  gridW: number,
  headDim: number,
  theta: number,
): { cos: Float64Array; sin: Float64Array } {
  if (!(Number.isInteger(headDim) && headDim > 0 && headDim % 4 === 0))
    throw new Error(`DINOv3's RoPE needs a head size that is a multiple of 4, got ${headDim}`);
  const invFreq: number[] = [];
  for (let k = 0; k < headDim / 4; k++) invFreq.push(1 / theta ** ((4 * k) / headDim));
  const n = gridH * gridW;
  const cos = new Float64Array(n * headDim);
  const sin = new Float64Array(n * headDim);
  for (let i = 0; i < gridH; i++) {
    for (let j = 0; j < gridW; j++) {
      const coords = [2 * ((i + 0.5) / gridH) - 1, 2 * ((j + 0.5) / gridW) - 1];
      const angles: number[] = [];
      for (const c of coords) for (const f of invFreq) angles.push(2 * Math.PI * c * f);
      const tiled = [...angles, ...angles];
      const row = (i * gridW + j) * headDim;
      for (let m = 0; m < headDim; m++) {
        cos[row + m] = Math.cos(tiled[m]);
        sin[row + m] = Math.sin(tiled[m]);
      }
    }
  }
  return { cos, sin };
}

/** apply_rotary_pos_emb on one head vector x (length d, at `offset`) of patch n: x·cos + rotate_half(x)·sin. */
function rotate64(
  x: Float64Array,
  offset: number,
  d: number,
  table: { cos: Float64Array; sin: Float64Array },
  n: number,
) {
  const v = x.slice(offset, offset + d);
  const half = d / 2;
  for (let m = 0; m < d; m++) {
    // rotate_half(v) = cat(-v[d/2:], v[:d/2])
    const rotated = m < half ? -v[m + half] : v[m - half];
    x[offset + m] = v[m] * table.cos[n * d + m] + rotated * table.sin[n * d + m];
  }
}

function checked(source: WeightSource, used: Set<string>, name: string, shape: number[]): Float64Array {
  if (!source.has(name)) throw new Error(`checkpoint lacks ${name}`);
  const actual = source.info(name).shape;
  if (JSON.stringify(actual) !== JSON.stringify(shape))
    throw new Error(`${name} has shape [${actual}], the config implies [${shape}]`);
  used.add(name);
  return source.float64(name);
}

export function dinov3ReferenceForward(
  config: Dinov3ReferenceConfig,
  source: WeightSource,
  inputs: Dinov3ReferenceInputs,
): Dinov3ReferenceOutputs {
  const used = new Set<string>();
  const get = (name: string, shape: number[]) => checked(source, used, name, shape);
  const D = config.hidden_size;
  const I = config.intermediate_size;
  const L = config.num_hidden_layers;
  const heads = config.num_attention_heads;
  const hd = D / heads;
  const p = config.patch_size;
  const C = config.num_channels;
  const R = config.num_register_tokens;
  const eps = config.layer_norm_eps;
  const { batch: B, height: H, width: W } = inputs;
  if (inputs.pixelValues.length !== B * C * H * W)
    throw new Error(
      `pixel_values has ${inputs.pixelValues.length} values, [${B}, ${C}, ${H}, ${W}] needs more`,
    );
  const gh = Math.floor(H / p);
  const gw = Math.floor(W / p);
  const N = gh * gw;
  const T = 1 + R + N;
  const rows = B * T;

  // ---- embeddings ----
  const cls = get('embeddings.cls_token', [1, 1, D]);
  const maskToken = get('embeddings.mask_token', [1, 1, D]);
  const registers = get('embeddings.register_tokens', [1, R, D]);
  const convW = get('embeddings.patch_embeddings.weight', [D, C, p, p]);
  const convB = get('embeddings.patch_embeddings.bias', [D]);
  // nn.Conv2d(C, D, kernel=p, stride=p) as patches times the weight [D, C·p·p].
  const patches = linear64(
    im2col64(inputs.pixelValues, { batch: B, channels: C, height: H, width: W }, p),
    B * N,
    convW,
    convB,
    C * p * p,
    D,
  );
  let h = new Float64Array(rows * D);
  for (let b = 0; b < B; b++) {
    const t0 = b * T;
    h.set(cls.subarray(0, D), t0 * D);
    h.set(registers.subarray(0, R * D), (t0 + 1) * D);
    for (let n = 0; n < N; n++) {
      const masked = inputs.boolMaskedPos !== undefined && Boolean(inputs.boolMaskedPos[b * N + n]);
      const from = masked ? maskToken.subarray(0, D) : patches.subarray((b * N + n) * D, (b * N + n + 1) * D);
      h.set(from, (t0 + 1 + R + n) * D);
    }
  }
  const hidden_states: Tensor64[] = [{ data: h, dims: [B, T, D] }];
  const attentions: Tensor64[] = [];
  const rope = ropeCosSin64(gh, gw, hd, config.rope_theta);
  const act = activationF64(config.hidden_act);

  // ---- layers ----
  for (let l = 0; l < L; l++) {
    const k = `layer.${l}.`;
    const n1 = layerNorm64(h, rows, D, get(`${k}norm1.weight`, [D]), get(`${k}norm1.bias`, [D]), eps);
    const proj = (name: string, bias: boolean) =>
      linear64(
        n1,
        rows,
        get(`${k}attention.${name}.weight`, [D, D]),
        bias ? get(`${k}attention.${name}.bias`, [D]) : undefined,
        D,
        D,
      );
    const q = proj('q_proj', config.query_bias);
    const kk = proj('k_proj', config.key_bias);
    const v = proj('v_proj', config.value_bias);
    for (let b = 0; b < B; b++) {
      for (let n = 0; n < N; n++) {
        const row = (b * T + 1 + R + n) * D;
        for (let hh = 0; hh < heads; hh++) {
          rotate64(q, row + hh * hd, hd, rope, n);
          rotate64(kk, row + hh * hd, hd, rope, n);
        }
      }
    }
    const { context, probs } = attention64(q, kk, v, { batch: B, tokens: T, heads, headDim: hd });
    attentions.push({ data: probs, dims: [B, heads, T, T] });
    const o = linear64(
      context,
      rows,
      get(`${k}attention.o_proj.weight`, [D, D]),
      config.proj_bias ? get(`${k}attention.o_proj.bias`, [D]) : undefined,
      D,
      D,
    );
    const lambda1 = get(`${k}layer_scale1.lambda1`, [D]);
    const h1 = new Float64Array(rows * D);
    for (let i = 0; i < rows * D; i++) h1[i] = o[i] * lambda1[i % D] + h[i];

    const n2 = layerNorm64(h1, rows, D, get(`${k}norm2.weight`, [D]), get(`${k}norm2.bias`, [D]), eps);
    const mlpLinear = (name: string, x: Float64Array, inF: number, outF: number) =>
      linear64(
        x,
        rows,
        get(`${k}mlp.${name}.weight`, [outF, inF]),
        config.mlp_bias ? get(`${k}mlp.${name}.bias`, [outF]) : undefined,
        inF,
        outF,
      );
    const up = mlpLinear('up_proj', n2, D, I);
    if (config.use_gated_mlp) {
      // down_proj(act(gate_proj(x)) * up_proj(x))
      const gate = mlpLinear('gate_proj', n2, D, I);
      for (let i = 0; i < up.length; i++) up[i] *= act(gate[i]);
    } else {
      for (let i = 0; i < up.length; i++) up[i] = act(up[i]);
    }
    const down = mlpLinear('down_proj', up, I, D);
    const lambda2 = get(`${k}layer_scale2.lambda1`, [D]);
    const h2 = new Float64Array(rows * D);
    for (let i = 0; i < rows * D; i++) h2[i] = down[i] * lambda2[i % D] + h1[i];
    h = h2;
    hidden_states.push({ data: h, dims: [B, T, D] });
  }

  // ---- final norm, pooler ----
  const normW = get('norm.weight', [D]);
  const normB = get('norm.bias', [D]);
  const last = layerNorm64(h, rows, D, normW, normB, eps);
  const pooled = new Float64Array(B * D);
  for (let b = 0; b < B; b++) pooled.set(last.subarray(b * T * D, b * T * D + D), b * D);

  // ---- backbone feature maps (DINOv3ViTBackbone) ----
  // The last stage is always normed (it is the model's own output); the others by apply_layernorm.
  // Unlike DINOv2's backbone, the prefix tokens are dropped with or without the reshape.
  const feature_maps: Tensor64[] = [];
  for (const stage of inputs.outIndices ?? []) {
    if (!(Number.isInteger(stage) && stage >= 0 && stage <= L))
      throw new Error(`out index ${stage} is not a stage 0..${L}`);
    const hs = hidden_states[stage].data;
    const normed =
      stage === L || (config.apply_layernorm ?? true) ? layerNorm64(hs, rows, D, normW, normB, eps) : hs;
    if (config.reshape_hidden_states ?? true) {
      feature_maps.push({ data: patchTokensToMap64(normed, B, T, 1 + R, D), dims: [B, D, gh, gw] });
    } else {
      const patchRows = new Float64Array(B * N * D);
      for (let b = 0; b < B; b++)
        patchRows.set(normed.subarray((b * T + 1 + R) * D, (b * T + T) * D), b * N * D);
      feature_maps.push({ data: patchRows, dims: [B, N, D] });
    }
  }

  const unused = source.names.filter((n) => !used.has(n));
  if (unused.length > 0) throw new Error(`checkpoint tensors the model never reads: ${unused.join(', ')}`);
  return {
    last_hidden_state: { data: last, dims: [B, T, D] },
    pooler_output: { data: pooled, dims: [B, D] },
    hidden_states,
    attentions,
    feature_maps,
  };
}

/** The outputs under their fixture names: last_hidden_state, pooler_output, hidden_states.i, attentions.i, feature_maps.j. */
export function dinov3NamedOutputs(out: Dinov3ReferenceOutputs): Map<string, Tensor64> {
  const named = new Map<string, Tensor64>();
  named.set('last_hidden_state', out.last_hidden_state);
  named.set('pooler_output', out.pooler_output);
  out.hidden_states.forEach((t, i) => named.set(`hidden_states.${i}`, t));
  out.attentions.forEach((t, i) => named.set(`attentions.${i}`, t));
  out.feature_maps.forEach((t, j) => named.set(`feature_maps.${j}`, t));
  return named;
}
