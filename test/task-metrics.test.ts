// The task metrics against their definitions: hand-computed cases for
// tagging accuracy, seqeval's entity F1 (its README example, I- after O),
// the official SQuAD normalisation, EM and F1, multiple-choice accuracy
// and chance, and Pearson and Spearman (with ties). Every expected number
// here was worked out by hand from the definition, as the comments show.
import { describe, expect, it } from "vitest";
import {
  averageRanks,
  bioEntities,
  entityMetrics,
  multipleChoiceMetrics,
  normalizeSquadAnswer,
  pearson,
  regressionMetrics,
  spearman,
  squadExactMatch,
  squadF1,
  squadMetrics,
  taggingAccuracy,
} from "../lib/tasks/metrics.js";

const invalid = { code: "LTGBERT_INVALID_ARGUMENT" };

describe("taggingAccuracy", () => {
  it("counts labelled words only", () => {
    // Labelled: DET, VERB, Y (the null is not); right: DET, Y. 2 / 3.
    const result = taggingAccuracy([["DET", "ADJ", "NOUN"], ["Y"]], [["DET", null, "VERB"], ["Y"]]);
    expect(result).toEqual({ accuracy: 2 / 3, correct: 2, total: 3 });
  });

  it("bad calls: lengths that differ", () => {
    expect(() => taggingAccuracy([["A"]], [["A"], ["B"]])).toThrow(
      /predictions: expected as many entries as gold \(2\), got 1/,
    );
    expect(() => taggingAccuracy([["A", "B"]], [["A"]])).toThrow(
      /predictions\[0\]: expected one tag per word of gold\[0\] \(1\), got 2/,
    );
    expect(taggingAccuracy([[]], [[]]).accuracy).toBeNaN();
  });
});

describe("bioEntities (seqeval's get_entities, default mode)", () => {
  it("finds maximal spans", () => {
    // seqeval's docstring: ['B-PER', 'I-PER', 'O', 'B-LOC'] → [('PER', 0, 1), ('LOC', 3, 3)], last word inclusive.
    expect(bioEntities(["B-PER", "I-PER", "O", "B-LOC"])).toEqual([
      { type: "PER", start: 0, end: 2 },
      { type: "LOC", start: 3, end: 4 },
    ]);
  });

  it("starts an entity at I- after O, and at I- after another type", () => {
    expect(bioEntities(["O", "I-PER", "I-PER"])).toEqual([{ type: "PER", start: 1, end: 3 }]);
    expect(bioEntities(["I-PER"])).toEqual([{ type: "PER", start: 0, end: 1 }]);
    expect(bioEntities(["B-PER", "I-LOC"])).toEqual([
      { type: "PER", start: 0, end: 1 },
      { type: "LOC", start: 1, end: 2 },
    ]);
    expect(bioEntities(["B-PER", "I-PER", "I-ORG", "I-ORG", "O"])).toEqual([
      { type: "PER", start: 0, end: 2 },
      { type: "ORG", start: 2, end: 4 },
    ]);
  });

  it("ends an entity at B- of the same type", () => {
    expect(bioEntities(["B-PER", "B-PER", "I-PER"])).toEqual([
      { type: "PER", start: 0, end: 1 },
      { type: "PER", start: 1, end: 3 },
    ]);
    expect(bioEntities(["I-PER", "B-PER"])).toHaveLength(2);
  });

  it("keeps hyphens in types, and rejects what is not a BIO tag", () => {
    expect(bioEntities(["B-WORK-OF-ART", "I-WORK-OF-ART"])).toEqual([{ type: "WORK-OF-ART", start: 0, end: 2 }]);
    expect(bioEntities([])).toEqual([]);
    expect(() => bioEntities(["O", "PER"])).toThrow(/tags\[1\]: expected a BIO tag/);
    expect(() => bioEntities(["B-"])).toThrow(expect.objectContaining(invalid));
    expect(() => bioEntities(["E-PER"])).toThrow(expect.objectContaining(invalid));
  });
});

describe("entityMetrics (seqeval precision, recall, F1; micro)", () => {
  it("seqeval's README example: F1 0.50", () => {
    const gold = [
      ["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"],
      ["B-PER", "I-PER", "O"],
    ];
    const pred = [
      ["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"],
      ["B-PER", "I-PER", "O"],
    ];
    // Gold: MISC 3–5, PER 0–1; predicted: MISC 2–5 (wrong start), PER 0–1. 1 right of 2 and 2.
    const m = entityMetrics(pred, gold);
    expect(m).toMatchObject({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2, predicted: 2, correct: 1 });
    expect(m.byType.MISC).toEqual({ precision: 0, recall: 0, f1: 0, support: 1, predicted: 1, correct: 0 });
    expect(m.byType.PER).toEqual({ precision: 1, recall: 1, f1: 1, support: 1, predicted: 1, correct: 1 });
  });

  it("gold that starts with I- after O matches a prediction with B- (non-strict mode)", () => {
    const m = entityMetrics([["O", "B-PER", "I-PER", "O"]], [["O", "I-PER", "I-PER", "O"]]);
    expect(m).toMatchObject({ precision: 1, recall: 1, f1: 1, correct: 1 });
  });

  it("precision and recall apart; F1 their harmonic mean", () => {
    // Predicted PER 0–1 only; gold PER 0–1 and LOC 2. P = 1/1, R = 1/2, F1 = 2·1·½ / 1½ = 2/3.
    const m = entityMetrics([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "B-LOC"]]);
    expect(m.precision).toBe(1);
    expect(m.recall).toBe(0.5);
    expect(m.f1).toBeCloseTo(2 / 3, 15);
    // Predicted LOC 0 (gold is LOC 0–1) and PER 3 (right): P = R = 1/2.
    const m2 = entityMetrics([["B-LOC", "O", "O", "I-PER"]], [["B-LOC", "I-LOC", "O", "B-PER"]]);
    expect(m2).toMatchObject({ precision: 0.5, recall: 0.5, f1: 0.5 });
    expect(m2.byType.LOC).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 1 });
  });

  it("entities do not cross sentences; zero denominators give 0", () => {
    // I-PER opening sentence 2 is a new entity, not the end of sentence 1's.
    const m = entityMetrics([["B-PER"], ["I-PER"]], [["B-PER"], ["I-PER"]]);
    expect(m).toMatchObject({ support: 2, predicted: 2, correct: 2, f1: 1 });
    expect(entityMetrics([["O", "O"]], [["B-PER", "O"]])).toMatchObject({
      precision: 0,
      recall: 0,
      f1: 0,
      predicted: 0,
    });
    expect(entityMetrics([["O"]], [["O"]])).toMatchObject({ precision: 0, recall: 0, f1: 0, byType: {} });
  });

  it("bad calls", () => {
    expect(() => entityMetrics([["O"]], [["O", "O"]])).toThrow(expect.objectContaining(invalid));
    expect(() => entityMetrics([["X"]], [["O"]])).toThrow(/predictions\[0\]\[0\]: expected a BIO tag/);
  });
});

describe("SQuAD (official v1.1 evaluation)", () => {
  it("normalises: lower case, no punctuation, no articles, one space", () => {
    expect(normalizeSquadAnswer("The Eiffel Tower")).toBe("eiffel tower");
    expect(normalizeSquadAnswer("  A  cat,  an apple; the end. ")).toBe("cat apple end");
    expect(normalizeSquadAnswer("An")).toBe("");
    // Articles are whole words only.
    expect(normalizeSquadAnswer("theater anthem a1 the_x")).toBe("theater anthem a1 thex");
    // Punctuation goes first, without leaving a space, so "the.cat" is one word.
    expect(normalizeSquadAnswer("the.cat well-known")).toBe("thecat wellknown");
    expect(normalizeSquadAnswer(`!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~x`)).toBe("x");
  });

  it("normalises as Python does beyond ASCII", () => {
    // "–" (U+2013) is not in string.punctuation: it stays, and ends the word "the".
    expect(normalizeSquadAnswer("the–end 23–16")).toBe("–end 23–16");
    // Python's \b is Unicode-aware: "é" is a word character, so "éthe" keeps its "the".
    expect(normalizeSquadAnswer("éthe Ça")).toBe("éthe ça");
    // str.split() splits on U+00A0, U+2003 and U+001C, not on U+FEFF.
    expect(normalizeSquadAnswer("x\u00a0y\u2003z\x1cw")).toBe("x y z w");
    expect(normalizeSquadAnswer("x\ufeffy")).toBe("x\ufeffy");
  });

  it("exact match: after normalisation, against any gold answer", () => {
    expect(squadExactMatch("the Eiffel tower!", ["Paris", "Eiffel Tower"])).toBe(1);
    expect(squadExactMatch("Eiffel", ["Eiffel Tower"])).toBe(0);
    expect(squadExactMatch("The", ["a"])).toBe(1); // both normalise to ""
    expect(squadExactMatch("", ["x"])).toBe(0);
  });

  it("F1: bag of tokens, the best gold answer", () => {
    // Prediction [cat, sat], gold [cat, sat, down]: 2 shared; P = 1, R = 2/3, F1 = 0.8.
    expect(squadF1("the cat sat", ["a cat sat down"])).toBeCloseTo(0.8, 15);
    // Against "cat": P = 1/2, R = 1, F1 = 2/3; the max over the three is 0.8.
    expect(squadF1("cat sat", ["dog", "cat sat down", "cat"])).toBeCloseTo(0.8, 15);
    // Counts are a multiset intersection: [cat, cat, cat] ∩ [cat, dog, cat] = 2; P = R = 2/3.
    expect(squadF1("the the cat cat cat", ["cat dog cat"])).toBeCloseTo(2 / 3, 15);
    expect(squadF1("Denver Broncos", ["Denver Broncos"])).toBe(1);
    // v1.1: no shared token, F1 0, even when both are empty.
    expect(squadF1("", ["x"])).toBe(0);
    expect(squadF1("The", ["a"])).toBe(0);
  });

  it("squadMetrics: means over the questions, 0–100, a missing prediction scores 0", () => {
    const examples = [
      { id: "q1", answers: [{ text: "Denver Broncos" }, { text: "Broncos" }] },
      { id: "q2", answers: [{ text: "a cat sat down" }] },
      { id: "q3", answers: [{ text: "1990" }] },
    ];
    // q1: EM 1, F1 1; q2: EM 0, F1 0.8; q3: missing. EM 100/3, F1 100·1.8/3 = 60.
    const m = squadMetrics(
      new Map([
        ["q1", "the Broncos"],
        ["q2", "cat sat"],
        ["other", "x"],
      ]),
      examples,
    );
    expect(m.exactMatch).toBeCloseTo(100 / 3, 12);
    expect(m.f1).toBeCloseTo(60, 12);
    expect(m).toMatchObject({ total: 3, missing: 1 });
    expect(squadMetrics({ q1: "Broncos", q2: "a cat sat down", q3: "1990." }, examples)).toMatchObject({
      exactMatch: 100,
      f1: 100,
      missing: 0,
    });
  });

  it("squadMetrics: an impossible question scores 1 for no answer", () => {
    const examples = [
      { id: "i", answers: [], isImpossible: true },
      { id: "j", answers: [], isImpossible: true },
    ];
    expect(squadMetrics({ i: "", j: "somewhere" }, examples)).toMatchObject({ exactMatch: 50, f1: 50 });
  });

  it("bad calls", () => {
    expect(() => squadF1("x", [])).toThrow(/goldAnswers: expected a non-empty array of strings/);
    expect(() => squadExactMatch(1 as unknown as string, ["x"])).toThrow(expect.objectContaining(invalid));
    expect(() => squadMetrics({}, [])).toThrow(expect.objectContaining(invalid));
  });
});

describe("multipleChoiceMetrics", () => {
  it("accuracy and the chance level", () => {
    // Right: 0, 2, 3 of 4. Chance: (1/4 + 1/4 + 1/3 + 1/5) / 4.
    const m = multipleChoiceMetrics([0, 2, 1, 3], [0, 1, 1, 3], [4, 4, 3, 5]);
    expect(m.accuracy).toBe(0.75);
    expect(m.chance).toBeCloseTo((1 / 4 + 1 / 4 + 1 / 3 + 1 / 5) / 4, 15);
    expect(m).toMatchObject({ correct: 3, total: 4 });
    expect(multipleChoiceMetrics(Int32Array.of(1), Int32Array.of(1), Int32Array.of(2)).chance).toBe(0.5);
  });

  it("bad calls: an index outside the options", () => {
    expect(() => multipleChoiceMetrics([4], [0], [4])).toThrow(
      /predictions\[0\]: expected an option index in \[0, 4\), got 4/,
    );
    expect(() => multipleChoiceMetrics([0], [3], [3])).toThrow(/labels\[0\]/);
    expect(() => multipleChoiceMetrics([0, 1], [0], [4])).toThrow(expect.objectContaining(invalid));
    expect(() => multipleChoiceMetrics([0], [0], [4, 4])).toThrow(
      /numChoices: expected as many entries as labels \(1\), got 2/,
    );
    expect(() => multipleChoiceMetrics([], [], [])).toThrow(expect.objectContaining(invalid));
  });
});

describe("Pearson and Spearman", () => {
  it("Pearson on a known example", () => {
    // x̄ = 3, ȳ = 4; Σdxdy = 4 + 0 + 0 + 0 + 2 = 6, Σdx² = 10, Σdy² = 6: r = 6/√60 = √0.6.
    expect(pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])).toBeCloseTo(Math.sqrt(0.6), 15);
    expect(pearson([1, 2, 3], [10, 20, 30])).toBe(1);
    expect(pearson([1, 2, 3], [3, 1, 2])).toBeCloseTo(-0.5, 15); // dx = [-1, 0, 1], dy = [1, -1, 0]: Σdxdy = -1, Σdx² = Σdy² = 2
    expect(pearson(Float64Array.of(0.1, 0.2, 0.3), Float32Array.of(-1, -2, -3))).toBeCloseTo(-1, 14);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN(); // constant: scipy gives nan
  });

  it("average ranks of ties", () => {
    expect(Array.from(averageRanks([10, 20, 20, 5]))).toEqual([2, 3.5, 3.5, 1]);
    expect(Array.from(averageRanks([3, 3, 3]))).toEqual([2, 2, 2]);
    expect(Array.from(averageRanks([0.5, -1, 7, 0.5, 0.5]))).toEqual([3, 1, 5, 3, 3]);
  });

  it("Spearman without ties: 1 − 6Σd² / (n(n² − 1))", () => {
    // d = [-1, 1, -1, 1, 0], Σd² = 4: 1 − 24/120 = 0.8.
    expect(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])).toBeCloseTo(0.8, 15);
    expect(spearman([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(0.8, 15); // d = [0, -1, 1, 0], 1 − 12/60
    expect(spearman([1, 2, 3], [1, 8, 27])).toBe(1); // monotone, not linear
  });

  it("Spearman with ties: Pearson of the average ranks", () => {
    // Ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4], both mean 2.5.
    // Σdxdy = 2.25 + 0 + 0 + 2.25 = 4.5, Σdx² = 4.5, Σdy² = 5: ρ = 4.5/√22.5 = √0.9.
    // (The no-ties formula would give 1 − 6·0.5/60 = 0.95.)
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(Math.sqrt(0.9), 15);
  });

  it("regressionMetrics: Pearson, Spearman, mean squared error", () => {
    const m = regressionMetrics([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]);
    expect(m.pearson).toBeCloseTo(Math.sqrt(0.6), 15);
    // Ranks of [2, 4, 5, 4, 5]: [1, 2.5, 4.5, 2.5, 4.5], less their mean 3: dy = [-2, -0.5, 1.5, -0.5, 1.5];
    // dx = [-2, -1, 0, 1, 2]. Σdxdy = 4 + 0.5 + 0 − 0.5 + 3 = 7, Σdx² = 10, Σdy² = 9: ρ = 7/√90.
    expect(m.spearman).toBeCloseTo(7 / Math.sqrt(90), 15);
    // Squared errors 1, 4, 4, 0, 0: 9/5.
    expect(m.mse).toBeCloseTo(9 / 5, 15);
  });

  it("bad calls", () => {
    expect(() => pearson([1], [1])).toThrow(/x: expected at least 2 values/);
    expect(() => pearson([1, 2], [1, 2, 3])).toThrow(expect.objectContaining(invalid));
    expect(() => spearman([1, NaN], [1, 2])).toThrow(/x\[1\]: expected a finite number/);
  });
});
