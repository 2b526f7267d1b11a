// Classification metrics against values worked out by hand (no scikit-learn
// on this machine), each case's arithmetic written beside it. Binary MCC is
// also checked with the textbook 2×2 formula, and random cases against the
// definitions the code does not use (precision/recall; Pearson correlation
// of one-hot vectors).
import { describe, expect, it } from "vitest";
import { classificationMetrics, confusionMatrix, LtgBertError } from "../lib/index.js";

/** Predictions and labels from a confusion matrix given as rows = label, columns = prediction. */
function fromMatrix(matrix: number[][]): { predictions: Int32Array; labels: Int32Array } {
  const predictions: number[] = [];
  const labels: number[] = [];
  matrix.forEach((row, label) =>
    row.forEach((count, prediction) => {
      for (let i = 0; i < count; i++) {
        labels.push(label);
        predictions.push(prediction);
      }
    }),
  );
  return { predictions: Int32Array.from(predictions), labels: Int32Array.from(labels) };
}

function metricsOf(matrix: number[][]) {
  const { predictions, labels } = fromMatrix(matrix);
  return classificationMetrics(predictions, labels, matrix.length);
}

describe("classificationMetrics, hand-computed", () => {
  it("binary: TN 4, FP 2, FN 1, TP 3", () => {
    // n = 10, correct = 4 + 3 = 7: accuracy 0.7.
    // F1(1) = 2·3 / (2·3 + 2 + 1) = 6/9; F1(0) = 2·4 / (2·4 + 1 + 2) = 8/11;
    // macro = (6/9 + 8/11) / 2 = 23/33.
    // MCC (2×2 formula) = (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN))
    //     = (12 − 2) / √(5·4·6·5) = 10/√600 = 1/√6.
    const m = metricsOf([
      [4, 2],
      [1, 3],
    ]);
    expect(m.accuracy).toBeCloseTo(0.7, 15);
    expect(m.macroF1).toBeCloseTo(23 / 33, 15);
    expect(m.mcc).toBeCloseTo(1 / Math.sqrt(6), 15);
  });

  it("three classes", () => {
    // Rows are labels, columns predictions:
    //   [5 1 0]   label counts t = [6, 6, 8], prediction counts p = [7, 6, 7],
    //   [2 3 1]   n = 20, correct = 5 + 3 + 6 = 14: accuracy 0.7.
    //   [0 2 6]
    // F1(0) = 10/(7+6) = 10/13, F1(1) = 6/(6+6) = 1/2, F1(2) = 12/(7+8) = 4/5;
    // macro = (10/13 + 1/2 + 4/5) / 3 = (100 + 65 + 104) / 390 = 269/390.
    // MCC = (correct·n − Σ p·t) / √((n² − Σ p²)(n² − Σ t²))
    //     = (280 − (42 + 36 + 56)) / √((400 − 134)(400 − 136)) = 146 / √(266·264).
    const m = metricsOf([
      [5, 1, 0],
      [2, 3, 1],
      [0, 2, 6],
    ]);
    expect(m.accuracy).toBeCloseTo(0.7, 15);
    expect(m.macroF1).toBeCloseTo(269 / 390, 15);
    expect(m.mcc).toBeCloseTo(146 / Math.sqrt(266 * 264), 15);
  });

  it("a class neither present nor predicted counts 0 in macro-F1 (scikit-learn's zero_division=0 over all labels)", () => {
    // labels [0, 0, 1, 1], predictions [0, 1, 1, 1], three classes.
    // F1(0) = 2·1/(1+2) = 2/3, F1(1) = 2·2/(3+2) = 4/5, F1(2) = 0 (0/0 → 0);
    // macro = (2/3 + 4/5 + 0) / 3 = 22/45 (scikit-learn without labels= would give 11/15).
    // MCC: n = 4, correct 3, t = [2, 2, 0], p = [1, 3, 0]:
    //   (3·4 − (2 + 6)) / √((16 − 10)(16 − 8)) = 4/√48 = 1/√3,
    //   as the 2×2 formula gives on classes 0 and 1: (2·1 − 1·0)/√(3·2·2·1) = 2/√12.
    const m = classificationMetrics(Int32Array.of(0, 1, 1, 1), Int32Array.of(0, 0, 1, 1), 3);
    expect(m.accuracy).toBe(0.75);
    expect(m.macroF1).toBeCloseTo(22 / 45, 15);
    expect(m.mcc).toBeCloseTo(1 / Math.sqrt(3), 15);
  });

  it("one predicted class: MCC 0 (zero denominator); perfect and inverted", () => {
    // labels [0, 1, 0, 1], all predicted 1: accuracy 1/2; F1(0) = 0/(0+2) = 0,
    // F1(1) = 4/(4+2) = 2/3, macro 1/3; Σ p² = 16 = n², so the denominator is 0.
    const flat = classificationMetrics(Int32Array.of(1, 1, 1, 1), Int32Array.of(0, 1, 0, 1), 2);
    expect(flat).toEqual({ accuracy: 0.5, macroF1: expect.closeTo(1 / 3, 15), mcc: 0 });
    expect(classificationMetrics(Int32Array.of(0, 1, 2), Int32Array.of(0, 1, 2), 3)).toEqual({
      accuracy: 1,
      macroF1: 1,
      mcc: 1,
    });
    // Swapped binary: correct 0, t = p = [1, 1]: (0 − 2)/√((4 − 2)(4 − 2)) = −1.
    expect(classificationMetrics(Int32Array.of(1, 0), Int32Array.of(0, 1), 2)).toEqual({
      accuracy: 0,
      macroF1: 0,
      mcc: -1,
    });
  });

  it("the confusion matrix is label-major", () => {
    expect(Array.from(confusionMatrix(Int32Array.of(1, 1, 0), Int32Array.of(0, 1, 1), 2))).toEqual([0, 1, 1, 1]);
  });
});

describe("classificationMetrics against the definitions", () => {
  /** A seeded linear congruential generator, for reproducible cases. */
  function lcg(seed: number): () => number {
    let s = seed >>> 0;
    return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  }

  it("macro-F1 as the harmonic mean of precision and recall; MCC as the Pearson correlation of one-hot vectors", () => {
    const next = lcg(7);
    for (let trial = 0; trial < 20; trial++) {
      const k = 2 + (trial % 4);
      const n = 5 + Math.floor(next() * 60);
      const labels = Int32Array.from({ length: n }, () => Math.floor(next() * k));
      // Right about 60% of the time, so the scores are neither 0 nor 1.
      const predictions = labels.map((l) => (next() < 0.6 ? l : Math.floor(next() * k)));
      const m = classificationMetrics(predictions, labels, k);

      let f1 = 0;
      for (let c = 0; c < k; c++) {
        let tp = 0;
        let predicted = 0;
        let actual = 0;
        for (let i = 0; i < n; i++) {
          if (predictions[i] === c) predicted++;
          if (labels[i] === c) actual++;
          if (predictions[i] === c && labels[i] === c) tp++;
        }
        const precision = predicted === 0 ? 0 : tp / predicted;
        const recall = actual === 0 ? 0 : tp / actual;
        f1 += precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
      }
      expect(m.macroF1).toBeCloseTo(f1 / k, 12);

      // Gorodkin: cov(X, Y) / √(cov(X, X) cov(Y, Y)) over the n×k one-hot matrices.
      const cov = (a: Int32Array, b: Int32Array): number => {
        let sum = 0;
        for (let c = 0; c < k; c++) {
          const meanA = a.reduce((s, v) => s + (v === c ? 1 : 0), 0) / n;
          const meanB = b.reduce((s, v) => s + (v === c ? 1 : 0), 0) / n;
          for (let i = 0; i < n; i++) sum += ((a[i] === c ? 1 : 0) - meanA) * ((b[i] === c ? 1 : 0) - meanB);
        }
        return sum;
      };
      const denominator = Math.sqrt(cov(predictions, predictions) * cov(labels, labels));
      expect(m.mcc).toBeCloseTo(denominator === 0 ? 0 : cov(predictions, labels) / denominator, 12);
      expect(m.accuracy).toBe(labels.filter((l, i) => l === predictions[i]).length / n);
    }
  });
});

describe("classificationMetrics, bad calls", () => {
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(LtgBertError);
      return `${(e as LtgBertError).code}: ${(e as LtgBertError).message}`;
    }
    return "no error";
  };

  it("names what is wrong", () => {
    expect(code(() => classificationMetrics(Int32Array.of(0, 1), Int32Array.of(0), 2))).toMatch(
      /INVALID_ARGUMENT: predictions: expected as many values as labels \(1\), got 2/,
    );
    expect(code(() => classificationMetrics(Int32Array.of(0, 2), Int32Array.of(0, 1), 2))).toMatch(
      /predictions\[1\]: expected a class id in \[0, 2\), got 2/,
    );
    expect(code(() => classificationMetrics(Int32Array.of(0), Int32Array.of(-1), 2))).toMatch(/labels\[0\]/);
    expect(code(() => classificationMetrics([0, 1] as unknown as Int32Array, Int32Array.of(0, 1), 2))).toMatch(
      /predictions: expected an Int32Array/,
    );
    expect(code(() => classificationMetrics(new Int32Array(0), new Int32Array(0), 2))).toMatch(/at least one example/);
    expect(code(() => classificationMetrics(Int32Array.of(0), Int32Array.of(0), 0))).toMatch(/numLabels/);
  });
});
