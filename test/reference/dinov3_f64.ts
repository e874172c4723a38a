// DINOv3 ViT in float64 on the CPU, written as plainly as transformers' modeling_dinov3_vit.py,
// for tests and for making fixtures. Shares the linear and layernorm of the DINOv2 reference and
// the host RoPE tables of the engine (src/model/rope.ts, itself checked here against the golden set).
//
//   embeddings   patch conv -> bool_masked_pos -> mask_token -> [cls, registers, patches]
//                (no position embedding: position enters through RoPE on q and k of the patches)
//   layer N      h += lambda1 * o_proj(attention(rope(q), rope(k), v));  h += lambda2 * mlp(norm2(h))
//   norm         last_hidden_state; pooler_output = last_hidden_state[:, 0]
import { activationF64 } from './activations_f64.js';
import type { Tensor64, WeightSource } from './dinov2_f64.js';
import { attention64, im2col64, layerNorm64, linear64 } from './ops_f64.js';
import type { HiddenAct } from '../../src/io/config.js';
import { applyRope64, ropeTables64 } from '../../src/model/rope.js';

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
}

export interface Dinov3ReferenceInputs {
  pixelValues: ArrayLike<number>; // [B, C, H, W]
  batch: number;
  height: number;
  width: number;
  boolMaskedPos?: ArrayLike<number | boolean>; // [B, h·w]
}

export interface Dinov3ReferenceOutputs {
  last_hidden_state: Tensor64; // [B, T, D], T = 1 + R + h·w
  pooler_output: Tensor64; // [B, D]
  hidden_states: Tensor64[]; // L + 1; [L] is the last layer's output before the final norm
  attentions: Tensor64[]; // L of [B, heads, T, T]
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
  const rope = ropeTables64(gh, gw, hd, config.rope_theta);
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
          applyRope64(q, row + hh * hd, rope, n);
          applyRope64(kk, row + hh * hd, rope, n);
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
  const last = layerNorm64(h, rows, D, get('norm.weight', [D]), get('norm.bias', [D]), eps);
  const pooled = new Float64Array(B * D);
  for (let b = 0; b < B; b++) pooled.set(last.subarray(b * T * D, b * T * D + D), b * D);

  const unused = source.names.filter((n) => !used.has(n));
  if (unused.length > 0) throw new Error(`checkpoint tensors the model never reads: ${unused.join(', ')}`);
  return {
    last_hidden_state: { data: last, dims: [B, T, D] },
    pooler_output: { data: pooled, dims: [B, D] },
    hidden_states,
    attentions,
  };
}
