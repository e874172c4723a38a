// The whole model in float64 on the CPU, written as plainly as transformers' modeling code
// (modeling_dinov2_with_registers.py / modeling_dinov2.py), module by module, for tests and for
// making fixtures. Nothing here is fast; everything here is meant to be obviously right.
//
//   embeddings   patch conv -> bool_masked_pos -> mask_token -> [cls, patches] + positions
//                -> [cls, registers, patches]   (registers get no position embedding)
//   layer N      h += lambda1 * attention(norm1(h));  h += lambda2 * mlp(norm2(h))
//   layernorm    last_hidden_state; pooler_output = last_hidden_state[:, 0]
//   classifier   logits = classifier([cls, mean(patch tokens)])  (ForImageClassification checkpoints)
//   backbone     feature_maps = layernorm(hidden_states[i])[:, 1 + R:] as [B, D, h, w]
import type { Dinov2Config } from '../../src/io/config.js';
import { positionEmbeddingsFor64 } from '../../src/model/position_embeddings.js';
import { activationF64 } from './activations_f64.js';
import {
  assembleTokens64,
  attention64,
  clsAndPatchMean64,
  im2col64,
  layerNorm64,
  linear64,
  patchTokensToMap64,
} from './ops_f64.js';

export interface Tensor64 {
  data: Float64Array;
  dims: number[];
}

/** What the reference reads of a checkpoint (a SafetensorsFile satisfies it). */
export interface WeightSource {
  readonly names: string[];
  has(name: string): boolean;
  info(name: string): { shape: number[] };
  float64(name: string): Float64Array;
}

export interface ReferenceInputs {
  /** [B, C, H, W]. */
  pixelValues: ArrayLike<number>;
  batch: number;
  height: number;
  width: number;
  /** [B, floor(H/p) * floor(W/p)]: true replaces that patch's embedding with embeddings.mask_token. */
  boolMaskedPos?: ArrayLike<number | boolean>;
  /** [L, heads] (or [heads] for every layer): multiplies the attention probabilities (transformers <= 4.5x). */
  headMask?: ArrayLike<number>;
  /** Backbone stages (0 = embeddings output, i = layer i) to return as feature maps. */
  outIndices?: number[];
}

export interface ReferenceOutputs {
  /** [B, T, D] after the final layernorm; T = 1 + R + h*w. */
  last_hidden_state: Tensor64;
  /** [B, D]. */
  pooler_output: Tensor64;
  /** L + 1 of [B, T, D]: the embeddings output, then each layer's output (before the final layernorm). */
  hidden_states: Tensor64[];
  /** L of [B, heads, T, T]: softmax(q k^T / sqrt(hd)) (times head_mask when given). */
  attentions: Tensor64[];
  /** [B, num_labels] when the checkpoint has classifier.weight. */
  logits?: Tensor64;
  /** One per outIndices entry: [B, D, h, w] (or [B, T, D] when reshape_hidden_states is false). */
  feature_maps: Tensor64[];
}

/** The checkpoint's tensors by transformers' key names, each one's shape checked; every key must be used. */
class Weights {
  private readonly used = new Set<string>();

  constructor(
    private readonly source: WeightSource,
    readonly prefix: string,
  ) {}

  get(key: string, shape: number[]): Float64Array {
    const name = this.prefix + key;
    if (!this.source.has(name)) throw new Error(`checkpoint lacks ${name}`);
    const actual = this.source.info(name).shape;
    if (JSON.stringify(actual) !== JSON.stringify(shape)) {
      throw new Error(`${name} has shape [${actual}], the config implies [${shape}]`);
    }
    this.used.add(name);
    return this.source.float64(name);
  }

  /** A key outside the base model (classifier.*), read without the prefix. */
  head(name: string, shape: number[]): Float64Array {
    const actual = this.source.info(name).shape;
    if (JSON.stringify(actual) !== JSON.stringify(shape))
      throw new Error(`${name} has shape [${actual}], expected [${shape}]`);
    this.used.add(name);
    return this.source.float64(name);
  }

  unused(): string[] {
    return this.source.names.filter((n) => !this.used.has(n));
  }
}

/** The base-model key prefix of a checkpoint: '' (bare model) or 'dinov2_with_registers.' / 'dinov2.' (task heads). */
export function checkpointPrefix(config: Dinov2Config, source: WeightSource): string {
  const base = config.model_type === 'dinov2' ? 'dinov2.' : 'dinov2_with_registers.';
  return source.has(`${base}embeddings.cls_token`) ? base : '';
}

/** The SwiGLU hidden width, computed here from the transformers formula (int(int(D * r) * 2 / 3) + 7) // 8 * 8. */
function swigluHidden(d: number, ratio: number): number {
  const h = Math.trunc(d * ratio);
  return Math.floor((Math.trunc((h * 2) / 3) + 7) / 8) * 8;
}

export function referenceForward(
  config: Dinov2Config,
  source: WeightSource,
  inputs: ReferenceInputs,
): ReferenceOutputs {
  const weights = new Weights(source, checkpointPrefix(config, source));
  const D = config.hidden_size;
  const L = config.num_hidden_layers;
  const heads = config.num_attention_heads;
  const hd = D / heads;
  const p = config.patch_size;
  const C = config.num_channels;
  const eps = config.layer_norm_eps;
  const withRegisters = config.model_type === 'dinov2_with_registers';
  const R = withRegisters ? config.num_register_tokens : 0;
  const { batch: B, height: H, width: W } = inputs;
  if (inputs.pixelValues.length !== B * C * H * W) {
    throw new Error(
      `pixel_values has ${inputs.pixelValues.length} values, [${B}, ${C}, ${H}, ${W}] needs ${B * C * H * W}`,
    );
  }
  const gh = Math.floor(H / p);
  const gw = Math.floor(W / p);
  const N = gh * gw;
  const T = 1 + R + N;
  const rows = B * T;
  const grid0 = Math.floor(config.image_size / p);

  // ---- embeddings ----
  const cls = weights.get('embeddings.cls_token', [1, 1, D]);
  const maskToken =
    withRegisters || config.use_mask_token ? weights.get('embeddings.mask_token', [1, D]) : undefined;
  const registers = withRegisters ? weights.get('embeddings.register_tokens', [1, R, D]) : undefined;
  const positionTable = weights.get('embeddings.position_embeddings', [1, grid0 * grid0 + 1, D]);
  const convW = weights.get('embeddings.patch_embeddings.projection.weight', [D, C, p, p]);
  const convB = weights.get('embeddings.patch_embeddings.projection.bias', [D]);
  // transformers interpolates with antialias=True in Dinov2WithRegisters only.
  const positions = positionEmbeddingsFor64(positionTable, D, p, H, W, withRegisters);

  // nn.Conv2d(C, D, kernel=p, stride=p) as the patches times the weight [D, C * p * p].
  const image = { batch: B, channels: C, height: H, width: W };
  const projected = linear64(im2col64(inputs.pixelValues, image, p), B * N, convW, convB, C * p * p, D);
  let h = assembleTokens64(projected, {
    batch: B,
    patches: N,
    dim: D,
    cls,
    registers,
    registerCount: R,
    maskToken,
    mask: inputs.boolMaskedPos,
    positions,
  });
  const hidden_states: Tensor64[] = [{ data: h, dims: [B, T, D] }];
  const attentions: Tensor64[] = [];

  if (
    inputs.headMask !== undefined &&
    inputs.headMask.length !== heads &&
    inputs.headMask.length !== L * heads
  ) {
    throw new Error(`head_mask has ${inputs.headMask.length} values, expected ${heads} or ${L * heads}`);
  }
  const act = activationF64(config.hidden_act);

  // ---- encoder ----
  for (let l = 0; l < L; l++) {
    const k = `encoder.layer.${l}.`;
    const n1 = layerNorm64(
      h,
      rows,
      D,
      weights.get(`${k}norm1.weight`, [D]),
      weights.get(`${k}norm1.bias`, [D]),
      eps,
    );
    const proj = (name: string) =>
      linear64(
        n1,
        rows,
        weights.get(`${k}attention.attention.${name}.weight`, [D, D]),
        config.qkv_bias ? weights.get(`${k}attention.attention.${name}.bias`, [D]) : undefined,
        D,
        D,
      );
    const q = proj('query');
    const kk = proj('key');
    const v = proj('value');
    const headMask =
      inputs.headMask === undefined
        ? undefined
        : inputs.headMask.length === heads
          ? inputs.headMask
          : Array.from({ length: heads }, (_, h) => inputs.headMask![l * heads + h]);
    const { context, probs } = attention64(q, kk, v, { batch: B, tokens: T, heads, headDim: hd }, headMask);
    attentions.push({ data: probs, dims: [B, heads, T, T] });
    const attnOut = linear64(
      context,
      rows,
      weights.get(`${k}attention.output.dense.weight`, [D, D]),
      weights.get(`${k}attention.output.dense.bias`, [D]),
      D,
      D,
    );
    const lambda1 = weights.get(`${k}layer_scale1.lambda1`, [D]);
    const h1 = new Float64Array(rows * D);
    for (let i = 0; i < rows * D; i++) h1[i] = attnOut[i] * lambda1[i % D] + h[i];

    const n2 = layerNorm64(
      h1,
      rows,
      D,
      weights.get(`${k}norm2.weight`, [D]),
      weights.get(`${k}norm2.bias`, [D]),
      eps,
    );
    let mlpOut: Float64Array;
    if (config.use_swiglu_ffn) {
      const F = swigluHidden(D, config.mlp_ratio);
      const x12 = linear64(
        n2,
        rows,
        weights.get(`${k}mlp.weights_in.weight`, [2 * F, D]),
        weights.get(`${k}mlp.weights_in.bias`, [2 * F]),
        D,
        2 * F,
      );
      const gated = new Float64Array(rows * F);
      for (let r = 0; r < rows; r++) {
        for (let f = 0; f < F; f++) {
          const x1 = x12[r * 2 * F + f]; // chunk(2, dim=-1): the first half is gated by silu
          const x2 = x12[r * 2 * F + F + f];
          gated[r * F + f] = (x1 / (1 + Math.exp(-x1))) * x2;
        }
      }
      mlpOut = linear64(
        gated,
        rows,
        weights.get(`${k}mlp.weights_out.weight`, [D, F]),
        weights.get(`${k}mlp.weights_out.bias`, [D]),
        F,
        D,
      );
    } else {
      const F = Math.trunc(D * config.mlp_ratio);
      const a = linear64(
        n2,
        rows,
        weights.get(`${k}mlp.fc1.weight`, [F, D]),
        weights.get(`${k}mlp.fc1.bias`, [F]),
        D,
        F,
      );
      for (let i = 0; i < a.length; i++) a[i] = act(a[i]);
      mlpOut = linear64(
        a,
        rows,
        weights.get(`${k}mlp.fc2.weight`, [D, F]),
        weights.get(`${k}mlp.fc2.bias`, [D]),
        F,
        D,
      );
    }
    const lambda2 = weights.get(`${k}layer_scale2.lambda1`, [D]);
    const h2 = new Float64Array(rows * D);
    for (let i = 0; i < rows * D; i++) h2[i] = mlpOut[i] * lambda2[i % D] + h1[i];
    h = h2;
    hidden_states.push({ data: h, dims: [B, T, D] });
  }

  // ---- final layernorm, pooler ----
  const lnW = weights.get('layernorm.weight', [D]);
  const lnB = weights.get('layernorm.bias', [D]);
  const last = layerNorm64(h, rows, D, lnW, lnB, eps);
  const pooled = new Float64Array(B * D);
  for (let b = 0; b < B; b++) pooled.set(last.subarray(b * T * D, b * T * D + D), b * D);

  // ---- classifier head: cat([cls, mean over the patch tokens (registers excluded)]) ----
  let logits: Tensor64 | undefined;
  if (source.has('classifier.weight')) {
    const labels = config.num_labels;
    const cw = weights.head('classifier.weight', [labels, 2 * D]);
    const cb = weights.head('classifier.bias', [labels]);
    const features = clsAndPatchMean64(last, B, T, 1 + R, D);
    logits = { data: linear64(features, B, cw, cb, 2 * D, labels), dims: [B, labels] };
  }

  // ---- backbone feature maps ----
  const feature_maps: Tensor64[] = [];
  for (const stage of inputs.outIndices ?? []) {
    if (!(Number.isInteger(stage) && stage >= 0 && stage <= L))
      throw new Error(`out index ${stage} is not a stage 0..${L}`);
    const hs = hidden_states[stage].data;
    const normed = config.apply_layernorm ? layerNorm64(hs, rows, D, lnW, lnB, eps) : hs;
    if (!config.reshape_hidden_states) {
      feature_maps.push({ data: Float64Array.from(normed), dims: [B, T, D] });
      continue;
    }
    const map = patchTokensToMap64(normed, B, T, 1 + R, D);
    feature_maps.push({ data: map, dims: [B, D, gh, gw] });
  }

  const unused = weights.unused();
  if (unused.length > 0) throw new Error(`checkpoint tensors the model never reads: ${unused.join(', ')}`);

  return {
    last_hidden_state: { data: last, dims: [B, T, D] },
    pooler_output: { data: pooled, dims: [B, D] },
    hidden_states,
    attentions,
    logits,
    feature_maps,
  };
}

/** The outputs under their fixture names: last_hidden_state, pooler_output, hidden_states.i, attentions.i, logits, feature_maps.j. */
export function namedOutputs(out: ReferenceOutputs): Map<string, Tensor64> {
  const named = new Map<string, Tensor64>();
  named.set('last_hidden_state', out.last_hidden_state);
  named.set('pooler_output', out.pooler_output);
  out.hidden_states.forEach((t, i) => named.set(`hidden_states.${i}`, t));
  out.attentions.forEach((t, i) => named.set(`attentions.${i}`, t));
  if (out.logits) named.set('logits', out.logits);
  out.feature_maps.forEach((t, j) => named.set(`feature_maps.${j}`, t));
  return named;
}
