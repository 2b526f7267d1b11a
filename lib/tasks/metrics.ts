// Metrics of the task heads, in float64, each following a published
// definition: tagging accuracy, seqeval's entity-level precision, recall and
// F1 for BIO tags, the official SQuAD v1.1 exact match and F1,
// multiple-choice accuracy, and Pearson's and Spearman's correlations.
import { invalidArgument, LtgBertError } from "../errors.js";

function mismatch(name: string, expected: string, got: number): LtgBertError {
  return new LtgBertError("LTGBERT_INVALID_ARGUMENT", `${name}: expected ${expected}, got ${got}`);
}

/** Both arrays (or typed arrays) of one length; returns it. */
function checkArrays(values: unknown, gold: unknown, goldName: string, name = "predictions"): number {
  const isList = (v: unknown): v is ArrayLike<unknown> =>
    Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
  if (!isList(values)) throw invalidArgument(name, "an array", values);
  if (!isList(gold)) throw invalidArgument(goldName, "an array", gold);
  if (values.length !== gold.length)
    throw mismatch(name, `as many entries as ${goldName} (${gold.length})`, values.length);
  return gold.length;
}

// ---------------------------------------------------------------------------
// Tagging

export interface TaggingAccuracy {
  /** correct / total (NaN when no word is labelled). */
  accuracy: number;
  /** Labelled words whose predicted tag equals the gold tag. */
  correct: number;
  /** Labelled words: those whose gold tag is not null. */
  total: number;
}

/**
 * Word-level tagging accuracy over the labelled words: words whose gold tag
 * is null (CoNLL-U's `_`) are not counted. `predictions[i]` and `gold[i]`
 * are the tags of sentence i, one per word.
 *
 * @example
 * taggingAccuracy([["DET", "NOUN"]], [["DET", "VERB"]]); // { accuracy: 0.5, correct: 1, total: 2 }
 */
export function taggingAccuracy(
  predictions: readonly (readonly (string | null)[])[],
  gold: readonly (readonly (string | null)[])[],
): TaggingAccuracy {
  const n = checkArrays(predictions, gold, "gold");
  let correct = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const p = predictions[i];
    const g = gold[i];
    if (!Array.isArray(p) || !Array.isArray(g) || p.length !== g.length)
      throw mismatch(`predictions[${i}]`, `one tag per word of gold[${i}] (${g?.length})`, p?.length);
    for (let j = 0; j < g.length; j++) {
      if (g[j] === null) continue;
      total++;
      if (p[j] === g[j]) correct++;
    }
  }
  return { accuracy: total === 0 ? NaN : correct / total, correct, total };
}

// ---------------------------------------------------------------------------
// Entities (seqeval)

/** One entity: a maximal span of words of one type. */
export interface Entity {
  type: string;
  /** Index of the first word. */
  start: number;
  /** One past the last word (seqeval reports the last word itself). */
  end: number;
}

function parseTag(tag: unknown, where: string): { prefix: "B" | "I" | "O"; type: string } {
  if (tag === "O") return { prefix: "O", type: "" };
  if (typeof tag === "string" && /^[BI]-./.test(tag)) return { prefix: tag[0] as "B" | "I", type: tag.slice(2) };
  throw invalidArgument(where, 'a BIO tag: "O", "B-TYPE" or "I-TYPE"', tag);
}

/**
 * The entities of one sentence's BIO (IOB2) tags, as seqeval's
 * `get_entities` finds them in its default (non-strict) mode: an entity
 * starts at `B-X`, at `I-X` after `O`, and at `I-X` after a tag of another
 * type; it goes on over `I-X` of the same type and ends before anything
 * else. So `O I-PER I-PER` holds one PER entity, and `B-PER I-LOC` two.
 *
 * @example
 * bioEntities(["B-PER", "I-PER", "O", "I-LOC"]); // [{ type: "PER", start: 0, end: 2 }, { type: "LOC", start: 3, end: 4 }]
 */
export function bioEntities(tags: readonly string[], name = "tags"): Entity[] {
  if (!Array.isArray(tags)) throw invalidArgument(name, "an array of BIO tags", tags);
  const entities: Entity[] = [];
  let open: Entity | null = null;
  tags.forEach((tag, i) => {
    const { prefix, type } = parseTag(tag, `${name}[${i}]`);
    // B always starts; I continues an open entity of its own type only.
    if (open !== null && (prefix !== "I" || open.type !== type)) {
      open.end = i;
      entities.push(open);
      open = null;
    }
    if (prefix !== "O" && open === null) open = { type, start: i, end: i + 1 };
  });
  if (open !== null) {
    (open as Entity).end = tags.length;
    entities.push(open);
  }
  return entities;
}

/** Precision, recall and F1 of one entity type, or of all of them. */
export interface EntityScores {
  precision: number;
  recall: number;
  f1: number;
  /** Gold entities (seqeval's `support`). */
  support: number;
  /** Predicted entities. */
  predicted: number;
  /** Predicted entities that are gold entities: same type, same first and last word. */
  correct: number;
}

export interface EntityMetrics extends EntityScores {
  /** The same by entity type, for every type among the gold and predicted entities. */
  byType: Record<string, EntityScores>;
}

function scores(correct: number, predicted: number, support: number): EntityScores {
  // seqeval: a zero denominator gives 0 (zero_division="warn" warns and uses 0).
  const precision = predicted === 0 ? 0 : correct / predicted;
  const recall = support === 0 ? 0 : correct / support;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, support, predicted, correct };
}

/**
 * Entity-level precision, recall and F1, micro-averaged over all entities,
 * as seqeval's `precision_score`, `recall_score` and `f1_score` compute them
 * by default (non-strict mode, `average="micro"`): entities come from
 * `bioEntities` per sentence, and a predicted entity is correct when a gold
 * entity has the same type, start and end. Zero denominators give 0, as
 * seqeval's do.
 *
 * @example
 * entityMetrics([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "B-LOC"]]);
 * // { precision: 1, recall: 0.5, f1: 0.667, support: 2, predicted: 1, correct: 1, byType: { … } }
 */
export function entityMetrics(
  predictions: readonly (readonly string[])[],
  gold: readonly (readonly string[])[],
): EntityMetrics {
  const n = checkArrays(predictions, gold, "gold");
  const counts = new Map<string, { correct: number; predicted: number; support: number }>();
  const of = (type: string): { correct: number; predicted: number; support: number } => {
    let c = counts.get(type);
    if (c === undefined) counts.set(type, (c = { correct: 0, predicted: 0, support: 0 }));
    return c;
  };
  for (let i = 0; i < n; i++) {
    const p = predictions[i];
    const g = gold[i];
    if (!Array.isArray(p) || !Array.isArray(g) || p.length !== g.length)
      throw mismatch(`predictions[${i}]`, `one tag per word of gold[${i}] (${g?.length})`, p?.length);
    const goldKeys = new Set<string>();
    for (const e of bioEntities(g, `gold[${i}]`)) {
      of(e.type).support++;
      goldKeys.add(`${e.start}:${e.end}:${e.type}`);
    }
    for (const e of bioEntities(p, `predictions[${i}]`)) {
      const c = of(e.type);
      c.predicted++;
      if (goldKeys.has(`${e.start}:${e.end}:${e.type}`)) c.correct++;
    }
  }
  let correct = 0;
  let predicted = 0;
  let support = 0;
  const byType: Record<string, EntityScores> = {};
  for (const type of [...counts.keys()].sort()) {
    const c = counts.get(type)!;
    correct += c.correct;
    predicted += c.predicted;
    support += c.support;
    byType[type] = scores(c.correct, c.predicted, c.support);
  }
  return { ...scores(correct, predicted, support), byType };
}

// ---------------------------------------------------------------------------
// SQuAD

/** Python's `string.punctuation`: the 32 ASCII punctuation characters, all the official script removes. */
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
/**
 * Python's `re.sub(r'\b(a|an|the)\b', ' ', text)` on a str: `\b` there is
 * Unicode-aware (a word character is a letter, a digit or "_"), where
 * JavaScript's `\b` knows ASCII only, so "éthe" would lose its "the".
 */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;
/** What Python's `str.split()` splits on (`str.isspace`): unlike JavaScript's `\s`, it has U+001C–U+001F and U+0085, and not U+FEFF. */
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/**
 * The answer normalisation of the official SQuAD v1.1 evaluation script
 * (`normalize_answer`): lower case, remove ASCII punctuation, remove the
 * articles a, an, the (as whole words), and collapse whitespace.
 *
 * @example
 * normalizeSquadAnswer("The  Eiffel-Tower!"); // "eiffeltower"
 */
export function normalizeSquadAnswer(text: string): string {
  if (typeof text !== "string") throw invalidArgument("text", "a string", text);
  const lowered = text.toLowerCase().replace(PUNCTUATION, "");
  return squadTokens(lowered.replace(ARTICLES, " ")).join(" ");
}

function squadTokens(text: string): string[] {
  return text.split(PY_WHITESPACE).filter((t) => t !== "");
}

function checkGold(goldAnswers: unknown): readonly string[] {
  if (!Array.isArray(goldAnswers) || goldAnswers.length === 0 || goldAnswers.some((a) => typeof a !== "string"))
    throw invalidArgument("goldAnswers", "a non-empty array of strings", goldAnswers);
  return goldAnswers;
}

function f1One(prediction: string, gold: string): number {
  const p = squadTokens(normalizeSquadAnswer(prediction));
  const g = squadTokens(normalizeSquadAnswer(gold));
  const left = new Map<string, number>();
  for (const t of g) left.set(t, (left.get(t) ?? 0) + 1);
  let same = 0; // the size of the multiset intersection, Counter(p) & Counter(g)
  for (const t of p) {
    const k = left.get(t) ?? 0;
    if (k > 0) {
      same++;
      left.set(t, k - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / p.length;
  const recall = same / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * 1 when the prediction equals one of the gold answers after
 * normalizeSquadAnswer, else 0 (the official script's `exact_match_score`,
 * maximised over the gold answers).
 */
export function squadExactMatch(prediction: string, goldAnswers: readonly string[]): number {
  if (typeof prediction !== "string") throw invalidArgument("prediction", "a string", prediction);
  const p = normalizeSquadAnswer(prediction);
  return checkGold(goldAnswers).some((g) => normalizeSquadAnswer(g) === p) ? 1 : 0;
}

/**
 * The official script's `f1_score`, maximised over the gold answers: the F1
 * of the bag of normalised tokens of the prediction against a gold answer's
 * (0 when they share none), in [0, 1].
 *
 * @example
 * squadF1("the cat sat", ["a cat sat down"]); // precision 2/2, recall 2/3: 0.8
 */
export function squadF1(prediction: string, goldAnswers: readonly string[]): number {
  if (typeof prediction !== "string") throw invalidArgument("prediction", "a string", prediction);
  return Math.max(...checkGold(goldAnswers).map((g) => f1One(prediction, g)));
}

export interface SquadMetrics {
  /** Mean exact match over the questions, 0–100. */
  exactMatch: number;
  /** Mean F1 over the questions, 0–100. */
  f1: number;
  /** Questions scored. */
  total: number;
  /** Questions without a prediction: scored 0, as the official script scores them. */
  missing: number;
}

/**
 * Exact match and F1 over a set of questions, 0–100, as the official SQuAD
 * v1.1 script reports them: each question scores its best gold answer, and a
 * question without a prediction scores 0. Predictions are matched by
 * question id; predictions for other ids are ignored. A question with
 * `isImpossible` (SQuAD 2.0) scores 1 on both when the prediction
 * normalises to "" (no answer), else 0, as the v2.0 script scores it.
 *
 * @example
 * squadMetrics(new Map([["q1", "Denver Broncos"]]), dev.examples);
 */
export function squadMetrics(
  predictions: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
  examples: readonly { id: string; answers: readonly { text: string }[]; isImpossible?: boolean }[],
): SquadMetrics {
  if (typeof predictions !== "object" || predictions === null)
    throw invalidArgument("predictions", "a Map or object of question id → answer text", predictions);
  if (!Array.isArray(examples) || examples.length === 0)
    throw invalidArgument("examples", "a non-empty array of questions", examples);
  const get = (id: string): string | undefined =>
    predictions instanceof Map
      ? predictions.get(id)
      : Object.prototype.hasOwnProperty.call(predictions, id)
        ? (predictions as Record<string, string>)[id]
        : undefined;
  let em = 0;
  let f1 = 0;
  let missing = 0;
  for (const example of examples) {
    const prediction = get(example.id);
    if (prediction === undefined) {
      missing++;
      continue;
    }
    if (typeof prediction !== "string")
      throw invalidArgument(`predictions[${JSON.stringify(example.id)}]`, "a string", prediction);
    if (example.isImpossible === true) {
      const abstained = normalizeSquadAnswer(prediction) === "" ? 1 : 0;
      em += abstained;
      f1 += abstained;
      continue;
    }
    const gold = example.answers.map((a: { text: string }) => a.text);
    em += squadExactMatch(prediction, gold);
    f1 += squadF1(prediction, gold);
  }
  const total = examples.length;
  return { exactMatch: (100 * em) / total, f1: (100 * f1) / total, total, missing };
}

// ---------------------------------------------------------------------------
// Multiple choice

export interface MultipleChoiceMetrics {
  /** Fraction of questions whose predicted option is the answer. */
  accuracy: number;
  /** The accuracy of guessing uniformly: the mean over questions of 1 / (number of options). */
  chance: number;
  correct: number;
  total: number;
}

/**
 * Accuracy of multiple-choice predictions (option indices) against the
 * answers' indices, with the chance level of the same questions.
 *
 * @example
 * multipleChoiceMetrics([0, 2], [0, 1], [4, 4]); // { accuracy: 0.5, chance: 0.25, correct: 1, total: 2 }
 */
export function multipleChoiceMetrics(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  numChoices: ArrayLike<number>,
): MultipleChoiceMetrics {
  const n = checkArrays(predictions, labels, "labels");
  checkArrays(numChoices, labels, "labels", "numChoices");
  if (n === 0) throw invalidArgument("labels", "at least one question", labels);
  let correct = 0;
  let chance = 0;
  for (let i = 0; i < n; i++) {
    const k = numChoices[i];
    if (!Number.isInteger(k) || k < 1) throw invalidArgument(`numChoices[${i}]`, "a positive integer", k);
    for (const [name, v] of [
      ["predictions", predictions[i]],
      ["labels", labels[i]],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= k)
        throw invalidArgument(`${name}[${i}]`, `an option index in [0, ${k})`, v);
    }
    if (predictions[i] === labels[i]) correct++;
    chance += 1 / k;
  }
  return { accuracy: correct / n, chance: chance / n, correct, total: n };
}

// ---------------------------------------------------------------------------
// Correlation

function checkPaired(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = checkArrays(x, y, "y", "x");
  if (n < 2) throw invalidArgument("x", "at least 2 values", x);
  for (const [name, v] of [
    ["x", x],
    ["y", y],
  ] as const) {
    for (let i = 0; i < n; i++) {
      if (typeof v[i] !== "number" || !Number.isFinite(v[i]))
        throw invalidArgument(`${name}[${i}]`, "a finite number", v[i]);
    }
  }
  return n;
}

/**
 * Pearson's correlation coefficient, Σ(x−x̄)(y−ȳ) / √(Σ(x−x̄)² Σ(y−ȳ)²), in
 * float64 with the means taken first. NaN when x or y is constant, as
 * scipy.stats.pearsonr gives.
 *
 * @example
 * pearson([1, 2, 3], [2, 4, 7]); // 0.9934
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = checkPaired(x, y);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  // Rounding can take |r| a hair past 1 for exactly linear data.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * The 1-based ranks of the values, ties given the mean of the ranks they
 * span (scipy.stats.rankdata's "average" method).
 *
 * @example
 * averageRanks([10, 20, 20, 5]); // [2, 3.5, 3.5, 1]
 */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && values[order[end]] === values[order[start]]) end++;
    const rank = (start + 1 + end) / 2; // mean of the ranks start+1 … end
    for (let k = start; k < end; k++) ranks[order[k]] = rank;
    start = end;
  }
  return ranks;
}

/**
 * Spearman's rank correlation: Pearson's correlation of the average ranks
 * (averageRanks), as scipy.stats.spearmanr computes it with ties. NaN when x
 * or y is constant.
 *
 * @example
 * spearman([1, 2, 3, 4], [1, 3, 2, 4]); // 0.8
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPaired(x, y);
  return pearson(averageRanks(x), averageRanks(y));
}

export interface RegressionMetrics {
  pearson: number;
  spearman: number;
  /** Mean squared error. */
  mse: number;
}

/**
 * Pearson, Spearman and mean squared error of predicted scores against gold
 * scores: what STS-B reports (GLUE scores the first two).
 */
export function regressionMetrics(predictions: ArrayLike<number>, labels: ArrayLike<number>): RegressionMetrics {
  const n = checkPaired(predictions, labels);
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (predictions[i] - labels[i]) ** 2;
  return { pearson: pearson(predictions, labels), spearman: spearman(predictions, labels), mse: sse / n };
}
