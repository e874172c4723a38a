// transformers' ACT2FN activations in float64, written from their definitions (no approximations
// beyond the ones the definitions themselves make), for the CPU reference and kernel tests.

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2 / sqrt(pi)

/**
 * erf(x) in float64 to within a few ulps (checked against libm) for every x. For |x| < 2 it sums
 * erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)), whose terms are all positive
 * (no cancellation, unlike the Taylor series). From 2 on it is 1 - erfc(x), erfc by its continued
 * fraction exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) evaluated from the back
 * (converged to float64 by 120 terms at x = 2, faster beyond); past 6, |erf(x)| rounds to 1.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  const x2 = ax * ax;
  let r: number;
  if (ax >= 2) {
    let f = 0;
    for (let n = 120; n >= 1; n--) f = n / 2 / (ax + f);
    r = 1 - Math.exp(-x2) / Math.sqrt(Math.PI) / (ax + f);
  } else {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 500; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term <= sum * 1e-17) break;
    }
    r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  return x < 0 ? -r : r;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const SELU_ALPHA = 1.6732632423543772; // 1.67326324235437728481704299167...;
const SELU_SCALE = 1.0507009873554805; // 1.05070098735548049341933498529...;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** config.hidden_act -> the function transformers' ACT2FN gives (elementwise, float64). */
export const ACTIVATIONS_F64: Record<string, (x: number) => number> = {
  // GELUActivation: nn.functional.gelu, the exact erf form.
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  // NewGELUActivation and PytorchGELUTanh (gelu(approximate='tanh')): the same tanh formula.
  gelu_new: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
  gelu_pytorch_tanh: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
  // FastGELUActivation: its own rounded constant 0.7978845608.
  gelu_fast: (x) => 0.5 * x * (1 + Math.tanh(x * 0.7978845608 * (1 + 0.044715 * x * x))),
  // QuickGELUActivation.
  quick_gelu: (x) => x * sigmoid(1.702 * x),
  relu: (x) => (x > 0 ? x : 0),
  selu: (x) => SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x)),
  silu: (x) => x * sigmoid(x),
  swish: (x) => x * sigmoid(x),
};

export function activationF64(name: string): (x: number) => number {
  const f = ACTIVATIONS_F64[name];
  if (!f) throw new Error(`hidden_act '${name}' is not one of ${Object.keys(ACTIVATIONS_F64).join(', ')}`);
  return f;
}
