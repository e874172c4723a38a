// The loss of Dinov2WithRegistersForImageClassification.forward(labels), as transformers computes
// it (ForSequenceClassificationLoss): config.problem_type, or when unset, regression for one label,
// single-label classification for integer labels, multi-label classification otherwise.
//   regression                   MSELoss (mean), logits and labels squeezed when num_labels == 1
//   single_label_classification  CrossEntropyLoss (mean over the labels that are not -100)
//   multi_label_classification   BCEWithLogitsLoss (mean)
// Computed on the host in float64 from the float32 logits; the loss is a float32 scalar.
import type { ProblemType } from '../io/config.js';
import { InputError, type TensorLike } from './inputs.js';

/** CrossEntropyLoss's default ignore_index: labels of this value do not count. */
const IGNORE_INDEX = -100;

const INTEGER_ARRAYS = [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array];

/**
 * Whether labels are integers (torch.long / torch.int): an integer typed array, BigInt64Array, or
 * a plain array of whole numbers (as torch.tensor makes a long tensor of Python ints). Float32Array
 * and Float64Array hold float labels.
 */
function integerLabels(labels: TensorLike<ArrayLike<number | bigint>>): boolean {
  const data = labels.data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return true;
  if (INTEGER_ARRAYS.some((c) => data instanceof c)) return true;
  if (ArrayBuffer.isView(data)) return false;
  return Array.from(data).every((v) => Number.isInteger(v));
}

/** transformers' choice of loss for these labels. */
export function problemTypeFor(
  numLabels: number,
  labels: TensorLike<ArrayLike<number | bigint>>,
  configured?: ProblemType,
): ProblemType {
  if (configured) return configured;
  if (numLabels === 1) return 'regression';
  return integerLabels(labels) ? 'single_label_classification' : 'multi_label_classification';
}

const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** The loss of `logits` [B, num_labels] against `labels`; throws an InputError for labels of the wrong shape or range. */
export function classificationLoss(
  logits: Float32Array,
  dims: readonly number[],
  labels: TensorLike<ArrayLike<number | bigint>>,
  problem: ProblemType,
): number {
  const [batch, n] = dims;
  const values = Array.from(labels.data, Number);
  if (values.length !== count(labels.dims))
    throw new InputError(
      `labels holds ${values.length} values; dims [${labels.dims.join(', ')}] need ${count(labels.dims)}`,
    );
  const mean = (terms: number[]) => terms.reduce((a, b) => a + b, 0) / terms.length;
  switch (problem) {
    case 'regression': {
      // MSELoss(logits.squeeze(), labels.squeeze()) for one label, else over [B, num_labels].
      if (values.length !== logits.length)
        throw new InputError(
          `labels holds ${values.length} values; regression needs one per logit (${logits.length})`,
        );
      return mean(values.map((y, i) => (logits[i] - y) ** 2));
    }
    case 'single_label_classification': {
      // CrossEntropyLoss(logits.view(-1, num_labels), labels.view(-1)).
      if (values.length !== batch)
        throw new InputError(`labels holds ${values.length} values; it needs one class per image (${batch})`);
      const terms: number[] = [];
      values.forEach((y, b) => {
        if (y === IGNORE_INDEX) return;
        if (!Number.isInteger(y) || y < 0 || y >= n)
          throw new InputError(
            `labels[${b}] is ${y}; a class must be 0..${n - 1} (or ${IGNORE_INDEX}, ignored)`,
          );
        const row = logits.subarray(b * n, (b + 1) * n);
        const max = row.reduce((m, v) => Math.max(m, v), -Infinity);
        const logSum = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
        terms.push(logSum - row[y]);
      });
      return terms.length ? mean(terms) : Number.NaN; // torch: the mean over no labels is nan
    }
    case 'multi_label_classification': {
      // BCEWithLogitsLoss(logits, labels): the stable max(x, 0) - x y + log(1 + exp(-|x|)).
      if (values.length !== logits.length || labels.dims.length !== 2)
        throw new InputError(
          `labels must have dims [${batch}, ${n}] (one target per logit), got [${labels.dims.join(', ')}]`,
        );
      return mean(
        values.map(
          (y, i) => Math.max(logits[i], 0) - logits[i] * y + Math.log1p(Math.exp(-Math.abs(logits[i]))),
        ),
      );
    }
  }
}
