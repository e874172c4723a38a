// Activations, chosen by the override ACT (src/model/activations.ts maps config.hidden_act to it).
// The module that appends this file declares `override ACT: u32`.
//   0 none   1 gelu (exact, erf)   2 gelu tanh form (gelu_new, gelu_pytorch_tanh, gelu_fast)
//   3 quick_gelu   4 relu   5 selu   6 silu / swish

// erfc for z >= 0 with fractional error below 1.2e-7 everywhere (Numerical Recipes' erfcc,
// a Chebyshev fit); WGSL has no erf. gelu uses erfc so that its negative tail keeps full precision.
fn erfc_nonneg(z: vec4<f32>) -> vec4<f32> {
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(-z * z + p);
}

// gelu(x) = x/2 * (1 + erf(x/√2)) = x/2 * erfc(-x/√2)
fn gelu_erf(x: vec4<f32>) -> vec4<f32> {
  let z = x * 0.70710678118654752;
  let e = erfc_nonneg(abs(z));
  return 0.5 * x * select(2.0 - e, e, z < vec4<f32>(0.0));
}

// tanh through exp of a non-positive argument: no overflow for large |x|.
fn tanh_safe(x: vec4<f32>) -> vec4<f32> {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}

fn sigmoid(x: vec4<f32>) -> vec4<f32> {
  return 1.0 / (1.0 + exp(-x));
}

fn silu4(x: vec4<f32>) -> vec4<f32> {
  return x * sigmoid(x);
}

fn activate(x: vec4<f32>) -> vec4<f32> {
  switch ACT {
    case 1u: { return gelu_erf(x); }
    case 2u: { return 0.5 * x * (1.0 + tanh_safe(0.79788456080286536 * (x + 0.044715 * x * x * x))); }
    case 3u: { return x * sigmoid(1.702 * x); }
    case 4u: { return max(x, vec4<f32>(0.0)); }
    // selu: scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))
    case 5u: { return 1.0507009873554805 * select(1.6732632423543772 * (exp(x) - 1.0), x, x > vec4<f32>(0.0)); }
    case 6u: { return silu4(x); }
    default: { return x; }
  }
}
