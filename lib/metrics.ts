// Classification metrics from a confusion matrix: accuracy, macro-averaged
// F1 and Matthews' correlation coefficient, in float64.
import { invalidArgument, LtgBertError } from "./errors.js";
import { positiveInteger } from "./validate.js";

/** What `classificationMetrics` gives. */
export interface ClassificationMetrics {
  /** Fraction of examples whose prediction equals the label. */
  accuracy: number;
  /**
   * Mean over all `numLabels` classes of each class's F1 = 2·TP / (2·TP + FP + FN).
   * A class that is neither predicted nor present counts as 0, as
   * scikit-learn's `f1_score(y, p, average="macro", labels=range(numLabels),
   * zero_division=0)` counts it. (Without `labels=`, scikit-learn leaves such
   * a class out of the mean instead.)
   */
  macroF1: number;
  /**
   * Matthews' correlation coefficient, multiclass (Gorodkin's R_K, the
   * formula of scikit-learn's `matthews_corrcoef`); 0 when its denominator
   * is 0, i.e. when all labels or all predictions are one class.
   */
  mcc: number;
}

function checkIds(name: string, values: unknown, numLabels: number): Int32Array {
  if (!(values instanceof Int32Array)) throw invalidArgument(name, "an Int32Array of class ids", values);
  for (let i = 0; i < values.length; i++) {
    if (values[i] < 0 || values[i] >= numLabels) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        `${name}[${i}]: expected a class id in [0, ${numLabels}), got ${values[i]}`,
      );
    }
  }
  return values;
}

/**
 * The confusion matrix, row-major [numLabels, numLabels]: entry
 * `[label * numLabels + prediction]` counts the examples of class `label`
 * predicted as `prediction`.
 */
export function confusionMatrix(predictions: Int32Array, labels: Int32Array, numLabels: number): Float64Array {
  positiveInteger("numLabels", numLabels);
  checkIds("predictions", predictions, numLabels);
  checkIds("labels", labels, numLabels);
  if (predictions.length !== labels.length) {
    throw new LtgBertError(
      "LTGBERT_INVALID_ARGUMENT",
      `predictions: expected as many values as labels (${labels.length}), got ${predictions.length}`,
    );
  }
  const matrix = new Float64Array(numLabels * numLabels);
  for (let i = 0; i < labels.length; i++) matrix[labels[i] * numLabels + predictions[i]]++;
  return matrix;
}

/**
 * Accuracy, macro-F1 and MCC of class predictions against labels.
 *
 * @example
 * classificationMetrics(Int32Array.of(0, 1, 1), Int32Array.of(0, 1, 0), 2);
 * // { accuracy: 0.667, macroF1: 0.667, mcc: 0.5 }
 */
export function classificationMetrics(
  predictions: Int32Array,
  labels: Int32Array,
  numLabels: number,
): ClassificationMetrics {
  const matrix = confusionMatrix(predictions, labels, numLabels);
  const n = labels.length;
  if (n === 0) throw invalidArgument("labels", "at least one example", labels);
  const k = numLabels;
  const trueCounts = new Float64Array(k); // row sums
  const predictedCounts = new Float64Array(k); // column sums
  let correct = 0;
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      trueCounts[t] += matrix[t * k + p];
      predictedCounts[p] += matrix[t * k + p];
    }
    correct += matrix[t * k + t];
  }

  let f1Sum = 0;
  for (let c = 0; c < k; c++) {
    const tp = matrix[c * k + c];
    // 2·TP + FP + FN = (predicted as c) + (truly c).
    const denominator = predictedCounts[c] + trueCounts[c];
    f1Sum += denominator === 0 ? 0 : (2 * tp) / denominator;
  }

  // R_K = (c·s − Σ p_k t_k) / √((s² − Σ p_k²)(s² − Σ t_k²)), c correct, s samples.
  let pt = 0;
  let pp = 0;
  let tt = 0;
  for (let c = 0; c < k; c++) {
    pt += predictedCounts[c] * trueCounts[c];
    pp += predictedCounts[c] * predictedCounts[c];
    tt += trueCounts[c] * trueCounts[c];
  }
  const covPredictedTrue = correct * n - pt;
  const covPredicted = n * n - pp;
  const covTrue = n * n - tt;
  const mcc = covPredicted === 0 || covTrue === 0 ? 0 : covPredictedTrue / Math.sqrt(covPredicted * covTrue);

  return { accuracy: correct / n, macroF1: f1Sum / k, mcc };
}
