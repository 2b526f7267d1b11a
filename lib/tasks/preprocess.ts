// Turning task data into what a head trains on, as the field does it:
// words' tags onto subwords (the first subword of each word, -100 on the
// rest), long SQuAD contexts into overlapping windows with the answer's
// character span mapped to token positions, and back from the logits to an
// answer in the original text; a multiple-choice question paired with each
// of its choices.
import { invalidArgument, LtgBertError } from "../errors.js";
import { integer, object } from "../validate.js";
import type { IdTensor, Tokenizer } from "../tokenizer.js";

/** The label that a loss skips (PyTorch's `ignore_index`). */
const IGNORE = -100;

// ---------------------------------------------------------------------------
// Token classification

/** A sentence as words, with a tag per word when training. */
export interface WordsInput {
  words: readonly string[];
  /** One tag per word; null (or a missing array) where a word has none. */
  tags?: readonly (string | null)[];
}

/** Options of `encodeTagging`. */
export interface EncodeTaggingOptions {
  /** Tag → label id; needed where the sentences carry tags. */
  labelIds?: ReadonlyMap<string, number>;
  /** Tokens a row may have, [CLS] and [SEP] included (default: the tokenizer's limit). */
  maxLength?: number;
  /** Label every subword of a word with the word's tag instead of the first only (default false). */
  labelAllSubwords?: boolean;
}

/** Sentences ready for a token classifier. */
export interface TaggingEncoding {
  inputIds: IdTensor;
  attentionMask: IdTensor;
  /** [B, T]: the label id of the tokens that carry their word's tag, -100 elsewhere. All -100 without tags. */
  labels: IdTensor;
  /** [B, T]: the index of the word each token belongs to; -1 for [CLS], [SEP] and padding. */
  wordIndex: IdTensor;
  /** [B, T]: 1 on the first token of each word (where a prediction for the word is read), 0 elsewhere. */
  firstToken: IdTensor;
  /** Words of each sentence that truncation left without a token (0 where all fit). */
  wordsCut: Int32Array;
}

/**
 * Encodes sentences given as words for token classification. The words are
 * joined with single spaces and tokenized as one text; each token belongs
 * to the word its last character lies in, so a tokenizer that attaches the
 * space to the next word (LTG-BERT's byte-level ones) and one that does not
 * give the same mapping. The first token of each word carries the word's
 * label id; the others -100, or the same id with `labelAllSubwords`. Words
 * past `maxLength` are cut and counted in `wordsCut`.
 *
 * @example
 * const enc = await encodeTagging(tok, [{ words: ["The", "cat", "sat"], tags: ["DET", "NOUN", "VERB"] }],
 *   { labelIds: new Map([["DET", 0], ["NOUN", 1], ["VERB", 2]]) });
 */
export async function encodeTagging(
  tokenizer: Tokenizer,
  sentences: readonly WordsInput[],
  options: EncodeTaggingOptions = {},
): Promise<TaggingEncoding> {
  const o = object<EncodeTaggingOptions>("options", options);
  if (!Array.isArray(sentences)) throw invalidArgument("sentences", "an array of { words, tags? }", sentences);
  const texts: string[] = [];
  const starts: Int32Array[] = [];
  sentences.forEach((s, i) => {
    if (typeof s !== "object" || s === null || !Array.isArray(s.words))
      throw invalidArgument(`sentences[${i}]`, "{ words: string[], tags? }", s);
    const words: readonly unknown[] = s.words;
    if (words.length === 0) throw invalidArgument(`sentences[${i}].words`, "at least one word", words);
    const begin = new Int32Array(words.length);
    let at = 0;
    words.forEach((w: unknown, j: number) => {
      if (typeof w !== "string" || w.trim() === "")
        throw invalidArgument(`sentences[${i}].words[${j}]`, "a non-empty string", w);
      begin[j] = at;
      at += (w as string).length + 1;
    });
    if (s.tags !== undefined) {
      if (!Array.isArray(s.tags) || s.tags.length !== words.length)
        throw invalidArgument(`sentences[${i}].tags`, `${words.length} tags (one per word)`, s.tags);
      if (o.labelIds === undefined) throw invalidArgument("options.labelIds", "a Map of tag → label id", undefined);
    }
    texts.push((words as string[]).join(" "));
    starts.push(begin);
  });
  const enc = await tokenizer.encodeBatchWithDetails(
    texts,
    o.maxLength === undefined ? {} : { maxLength: o.maxLength },
  );
  const [B, T] = enc.inputIds.shape;
  const labels = new Int32Array(B * T).fill(IGNORE);
  const wordIndex = new Int32Array(B * T).fill(-1);
  const firstToken = new Int32Array(B * T);
  const wordsCut = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const begin = starts[b];
    const tags = sentences[b].tags;
    let previous = -1;
    for (let t = 0; t < T; t++) {
      const k = b * T + t;
      if (enc.sequenceIds.data[k] !== 0) continue;
      const start = enc.charOffsets.data[2 * k];
      const end = enc.charOffsets.data[2 * k + 1];
      if (end <= start) continue;
      const word = lastAtOrBefore(begin, end - 1);
      wordIndex[k] = word;
      const first = word !== previous;
      previous = word;
      if (first) firstToken[k] = 1;
      const tag = tags?.[word] ?? null;
      if (tag === null || (!first && o.labelAllSubwords !== true)) continue;
      const id = o.labelIds!.get(tag);
      if (id === undefined) throw invalidArgument(`sentences[${b}].tags[${word}]`, "a tag of options.labelIds", tag);
      labels[k] = id;
    }
    wordsCut[b] = begin.length - 1 - Math.max(-1, previous);
  }
  return {
    inputIds: enc.inputIds,
    attentionMask: enc.attentionMask,
    labels: { data: labels, shape: [B, T] },
    wordIndex: { data: wordIndex, shape: [B, T] },
    firstToken: { data: firstToken, shape: [B, T] },
    wordsCut,
  };
}

/** The index of the last entry of a sorted array that is ≤ value (0 when none is). */
function lastAtOrBefore(sorted: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sorted[mid] <= value) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// ---------------------------------------------------------------------------
// Question answering

/** A question about a context, with the gold answers when training. */
export interface QuestionAnsweringInput {
  question: string;
  context: string;
  /** Gold answers; the first is trained on. `answerStart` is a JavaScript string index into `context`. */
  answers?: readonly { text: string; answerStart: number }[];
  /** SQuAD 2.0: no answer in the context. */
  isImpossible?: boolean;
}

/** Options of `encodeQuestionAnswering`. */
export interface EncodeQuestionAnsweringOptions {
  /** Tokens a window may have, [CLS] and both [SEP] included (default 384). */
  maxLength?: number;
  /** Context tokens two neighbouring windows share (default 128). */
  docStride?: number;
  /** Question tokens kept; the rest are cut (default 64). */
  maxQuestionLength?: number;
}

/** Windows of question + context, one row each: `[CLS] question [SEP] context window [SEP]`. */
export interface QuestionAnsweringEncoding {
  inputIds: IdTensor;
  attentionMask: IdTensor;
  /** [F]: the example each window belongs to (an index into the inputs). */
  example: Int32Array;
  /**
   * [F]: the token positions of the answer's first and last tokens in the
   * window; 0 ([CLS]) where the answer is not wholly in the window, the
   * example is impossible, or it has no answers.
   */
  startPositions: Int32Array;
  endPositions: Int32Array;
  /** [F, T, 2]: each context token's span in its example's context; [-1, -1] for the other tokens. */
  contextOffsets: { data: Int32Array; shape: [number, number, 2] };
}

/**
 * Splits each question's context into windows of at most `maxLength`
 * tokens that overlap by `docStride` tokens, as the field's SQuAD scripts
 * do, and marks where the first gold answer lies in each window (its
 * character span mapped to tokens through the tokenizer's offsets). The
 * inputs' order is kept: the windows of example 0 come first.
 *
 * @example
 * const enc = await encodeQuestionAnswering(tok, dataset.examples, { maxLength: 384, docStride: 128 });
 * await qa.forward({ inputIds: enc.inputIds, attentionMask: enc.attentionMask,
 *                    startPositions: enc.startPositions, endPositions: enc.endPositions });
 */
export async function encodeQuestionAnswering(
  tokenizer: Tokenizer,
  examples: readonly QuestionAnsweringInput[],
  options: EncodeQuestionAnsweringOptions = {},
): Promise<QuestionAnsweringEncoding> {
  const o = object<EncodeQuestionAnsweringOptions>("options", options);
  const maxLength = integer("options.maxLength", o.maxLength ?? 384, 8);
  const docStride = integer("options.docStride", o.docStride ?? 128, 0);
  const maxQuestionLength = integer("options.maxQuestionLength", o.maxQuestionLength ?? 64, 1);
  if (!Array.isArray(examples)) throw invalidArgument("examples", "an array of { question, context }", examples);
  examples.forEach((e, i) => {
    if (typeof e !== "object" || e === null || typeof e.question !== "string" || typeof e.context !== "string")
      throw invalidArgument(`examples[${i}]`, "{ question: string, context: string, answers? }", e);
    for (const [j, a] of (e.answers ?? []).entries()) {
      const ok =
        typeof a?.text === "string" &&
        Number.isInteger(a.answerStart) &&
        a.answerStart >= 0 &&
        a.answerStart + a.text.length <= e.context.length;
      if (!ok) throw invalidArgument(`examples[${i}].answers[${j}]`, "{ text, answerStart } inside the context", a);
    }
  });
  // Each text once, without special tokens: the windows are cut from these.
  const texts = examples.flatMap((e) => [e.question, e.context]);
  const enc = await tokenizer.encodeBatchWithDetails(texts, { padding: "none", truncation: false, maxLength: 1e9 });
  const content = (row: number): { ids: Int32Array; spans: Int32Array } => {
    const from = enc.offsets[row];
    const to = enc.offsets[row + 1];
    const ids: number[] = [];
    const spans: number[] = [];
    for (let k = from; k < to; k++) {
      if (enc.sequenceIds[k] !== 0) continue;
      ids.push(enc.ids[k]);
      spans.push(enc.charOffsets[2 * k], enc.charOffsets[2 * k + 1]);
    }
    return { ids: Int32Array.from(ids), spans: Int32Array.from(spans) };
  };

  const rows: { example: number; ids: Int32Array; spans: Int32Array; start: number; end: number }[] = [];
  examples.forEach((e, i) => {
    const question = content(2 * i).ids.subarray(0, maxQuestionLength);
    const context = content(2 * i + 1);
    const room = maxLength - question.length - 3;
    if (room <= docStride) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        `examples[${i}]: a window of ${maxLength} tokens leaves ${room} for the context after the question's ${question.length}, not more than docStride ${docStride}: raise maxLength or lower docStride`,
      );
    }
    const n = context.ids.length;
    const answer = e.isImpossible === true ? undefined : e.answers?.[0];
    const answerStart = answer?.answerStart ?? -1;
    const answerEnd = answer === undefined ? -1 : answer.answerStart + answer.text.length;
    for (let from = 0; ; from += room - docStride) {
      const to = Math.min(n, from + room);
      const prefix = question.length + 2; // [CLS] question [SEP]
      let start = 0;
      let end = 0;
      if (answer !== undefined && to > from) {
        // The answer is in this window when its characters lie within the window's.
        const windowStart = context.spans[2 * from];
        const windowEnd = context.spans[2 * (to - 1) + 1];
        if (answerStart >= windowStart && answerEnd <= windowEnd) {
          let s = from;
          while (s < to && context.spans[2 * s + 1] <= answerStart) s++;
          let t = to - 1;
          while (t > s && context.spans[2 * t] >= answerEnd) t--;
          start = prefix + (s - from);
          end = prefix + (t - from);
        }
      }
      const ids = new Int32Array(prefix + (to - from) + 1);
      ids[0] = tokenizer.clsTokenId;
      ids.set(question, 1);
      ids[question.length + 1] = tokenizer.sepTokenId;
      ids.set(context.ids.subarray(from, to), prefix);
      ids[ids.length - 1] = tokenizer.sepTokenId;
      const spans = new Int32Array(2 * ids.length).fill(-1);
      spans.set(context.spans.subarray(2 * from, 2 * to), 2 * prefix);
      rows.push({ example: i, ids, spans, start, end });
      if (to >= n) break;
    }
  });

  const F = rows.length;
  const T = rows.reduce((m, r) => Math.max(m, r.ids.length), 0);
  const inputIds = new Int32Array(F * T).fill(tokenizer.padTokenId);
  const attentionMask = new Int32Array(F * T);
  const contextOffsets = new Int32Array(F * T * 2).fill(-1);
  rows.forEach((r, f) => {
    inputIds.set(r.ids, f * T);
    attentionMask.fill(1, f * T, f * T + r.ids.length);
    contextOffsets.set(r.spans, 2 * f * T);
  });
  return {
    inputIds: { data: inputIds, shape: [F, T] },
    attentionMask: { data: attentionMask, shape: [F, T] },
    example: Int32Array.from(rows, (r) => r.example),
    startPositions: Int32Array.from(rows, (r) => r.start),
    endPositions: Int32Array.from(rows, (r) => r.end),
    contextOffsets: { data: contextOffsets, shape: [F, T, 2] },
  };
}

/** Options of `extractAnswers`. */
export interface ExtractAnswersOptions {
  /** Start and end candidates taken from each window (default 20). */
  nBest?: number;
  /** The most tokens an answer may have (default 30). */
  maxAnswerLength?: number;
  /**
   * SQuAD 2.0: answer "" where the windows' [CLS] score (start + end logit at
   * position 0) beats the best span's (default false).
   */
  allowImpossible?: boolean;
}

/** A predicted answer. */
export interface ExtractedAnswer {
  /** The answer as it stands in the context ("" for no answer). */
  text: string;
  /** Its span in the context, JavaScript string indices ([-1, -1] for no answer). */
  start: number;
  end: number;
  /** Start logit + end logit of the chosen span. */
  score: number;
}

/**
 * The best answer of each example from the windows' start and end logits:
 * among the `nBest` highest start and end logits of each window, the pairs
 * of context tokens with start ≤ end and at most `maxAnswerLength` tokens,
 * scored by the sum of their logits; the best over all of the example's
 * windows, mapped back to the context's characters.
 */
export function extractAnswers(
  examples: readonly { context: string }[],
  encoding: Pick<QuestionAnsweringEncoding, "example" | "contextOffsets">,
  startLogits: { data: Float32Array; shape: readonly number[] },
  endLogits: { data: Float32Array; shape: readonly number[] },
  options: ExtractAnswersOptions = {},
): ExtractedAnswer[] {
  const o = object<ExtractAnswersOptions>("options", options);
  const nBest = integer("options.nBest", o.nBest ?? 20, 1);
  const maxAnswerLength = integer("options.maxAnswerLength", o.maxAnswerLength ?? 30, 1);
  const [F, T] = encoding.contextOffsets.shape;
  for (const [name, l] of [
    ["startLogits", startLogits],
    ["endLogits", endLogits],
  ] as const) {
    if (l.shape.length !== 2 || l.shape[0] !== F || l.shape[1] !== T)
      throw invalidArgument(`${name}.shape`, `[${F}, ${T}] (windows × tokens)`, l.shape);
  }
  const offsets = encoding.contextOffsets.data;
  const best: (ExtractedAnswer & { found: boolean })[] = examples.map(() => ({
    text: "",
    start: -1,
    end: -1,
    score: -Infinity,
    found: false,
  }));
  const empty = new Float64Array(examples.length).fill(-Infinity);
  const top = (logits: Float32Array, base: number): number[] => {
    const candidates: number[] = [];
    for (let t = 0; t < T; t++) if (offsets[2 * (base + t)] >= 0) candidates.push(t);
    candidates.sort((a, b) => logits[base + b] - logits[base + a]);
    return candidates.slice(0, nBest);
  };
  for (let f = 0; f < F; f++) {
    const e = encoding.example[f];
    if (e < 0 || e >= examples.length)
      throw invalidArgument(`encoding.example[${f}]`, `0 to ${examples.length - 1}`, e);
    const base = f * T;
    empty[e] = Math.max(empty[e], startLogits.data[base] + endLogits.data[base]);
    const starts = top(startLogits.data, base);
    const ends = top(endLogits.data, base);
    for (const s of starts) {
      for (const t of ends) {
        if (t < s || t - s + 1 > maxAnswerLength) continue;
        const score = startLogits.data[base + s] + endLogits.data[base + t];
        if (score <= best[e].score) continue;
        // Without the spaces a byte-level token carries before its word.
        const context = examples[e].context;
        let start = offsets[2 * (base + s)];
        let end = offsets[2 * (base + t) + 1];
        while (start < end && /\s/.test(context[start])) start++;
        while (end > start && /\s/.test(context[end - 1])) end--;
        best[e] = { text: context.slice(start, end), start, end, score, found: true };
      }
    }
  }
  return best.map((b, e) => {
    if (!b.found || (o.allowImpossible === true && empty[e] > b.score))
      return { text: "", start: -1, end: -1, score: Number.isFinite(empty[e]) ? empty[e] : b.score };
    return { text: b.text, start: b.start, end: b.end, score: b.score };
  });
}

// ---------------------------------------------------------------------------
// Multiple choice

/** A question with its choices (and an optional passage it is about). */
export interface MultipleChoiceInput {
  question: string;
  choices: readonly string[];
  /** A passage read before the question, where the task has one. */
  context?: string;
}

/** Questions paired with each of their choices, [B, C, T]. */
export interface MultipleChoiceEncoding {
  inputIds: { data: Int32Array; shape: [number, number, number] };
  attentionMask: { data: Int32Array; shape: [number, number, number] };
  /** Pairs that truncation cut (0 where all fit). */
  numTruncated: number;
}

/**
 * Encodes questions with the same number of choices as
 * `[CLS] (context) question [SEP] choice [SEP]` for each choice, padded to
 * the longest pair. Questions with different numbers of choices go in
 * different batches (`groupByChoiceCount`).
 */
export async function encodeMultipleChoice(
  tokenizer: Tokenizer,
  examples: readonly MultipleChoiceInput[],
  options: { maxLength?: number } = {},
): Promise<MultipleChoiceEncoding> {
  if (!Array.isArray(examples) || examples.length === 0)
    throw invalidArgument("examples", "a non-empty array of { question, choices }", examples);
  const C = examples[0]?.choices?.length;
  const pairs: [string, string][] = [];
  examples.forEach((e, i) => {
    if (typeof e?.question !== "string" || !Array.isArray(e.choices) || e.choices.length < 2)
      throw invalidArgument(`examples[${i}]`, "{ question: string, choices: string[] (2 or more) }", e);
    if (e.choices.length !== C)
      throw invalidArgument(
        `examples[${i}].choices`,
        `${C} choices, as examples[0] has (group by choice count)`,
        e.choices.length,
      );
    const first = e.context === undefined || e.context === "" ? e.question : `${e.context} ${e.question}`;
    e.choices.forEach((c: unknown, j: number) => {
      if (typeof c !== "string") throw invalidArgument(`examples[${i}].choices[${j}]`, "a string", c);
      pairs.push([first, c as string]);
    });
  });
  const enc = await tokenizer.encodeBatch(
    pairs,
    options.maxLength === undefined ? {} : { maxLength: options.maxLength },
  );
  const T = enc.inputIds.shape[1];
  const B = examples.length;
  return {
    inputIds: { data: enc.inputIds.data, shape: [B, C, T] },
    attentionMask: { data: enc.attentionMask.data, shape: [B, C, T] },
    numTruncated: enc.numTruncated.reduce((n, x) => n + (x > 0 ? 1 : 0), 0),
  };
}

/** Indices of the examples grouped by their number of choices, each group in input order. */
export function groupByChoiceCount(examples: readonly { choices: readonly unknown[] }[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  examples.forEach((e, i) => {
    const n = e.choices.length;
    const g = groups.get(n);
    if (g === undefined) groups.set(n, [i]);
    else g.push(i);
  });
  return groups;
}
