// Preprocessing of the task heads' data, checked against the texts
// themselves: every token of a tagged sentence maps to the word whose
// characters it covers, and only a word's first subword carries its tag;
// SQuAD windows overlap by exactly docStride tokens, cover the whole
// context, and their answer positions point at tokens whose characters
// spell the gold answer; answers read back from logits are the context's
// own text; multiple-choice rows pair the question with each choice.
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  encodeMultipleChoice,
  encodeQuestionAnswering,
  encodeTagging,
  extractAnswers,
  groupByChoiceCount,
  Tokenizer,
} from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

let tok: Tokenizer;
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm-10m"));
});

describe("encodeTagging", () => {
  const words = ["Unbelievably", ",", "the", "zookeepers", "fed", "42", "penguins", "."];
  const tags = ["ADV", "PUNCT", "DET", "NOUN", "VERB", "NUM", "NOUN", "PUNCT"];
  const labelIds = new Map(["ADV", "DET", "NOUN", "NUM", "PUNCT", "VERB"].map((t, i) => [t, i]));

  it("maps each token to the word it spells, and labels the first subword of each word", async () => {
    const enc = await encodeTagging(
      tok,
      [
        { words, tags },
        { words: ["fed"], tags: [null] },
      ],
      { labelIds },
    );
    const [B, T] = enc.inputIds.shape;
    expect(B).toBe(2);
    // The tokens of word w, decoded, give the word back.
    const text = words.join(" ");
    const details = await tok.encodeBatchWithDetails([text]);
    const pieces: string[] = words.map(() => "");
    const firsts: number[] = [];
    for (let t = 0; t < T; t++) {
      const w = enc.wordIndex.data[t];
      if (w < 0) continue;
      const [s, e] = details.charOffsets.data.subarray(2 * t, 2 * t + 2);
      pieces[w] += text.slice(s, e);
      if (enc.firstToken.data[t] === 1) firsts.push(t);
    }
    expect(pieces.map((p) => p.trim())).toEqual(words);
    expect(firsts).toHaveLength(words.length);
    // "Unbelievably", "zookeepers" and "42" (single digits) take several subwords.
    expect(enc.wordIndex.data.filter((w) => w === 0).length).toBeGreaterThan(1);
    expect(enc.wordIndex.data.filter((w) => w === 5).length).toBe(2);
    for (let t = 0; t < T; t++) {
      const w = enc.wordIndex.data[t];
      const expected = w >= 0 && enc.firstToken.data[t] === 1 ? labelIds.get(tags[w])! : -100;
      expect(enc.labels.data[t]).toBe(expected);
    }
    // [CLS], [SEP] and padding belong to no word; an untagged word has no label.
    expect(enc.wordIndex.data[0]).toBe(-1);
    expect([...enc.labels.data.subarray(T, 2 * T)].every((l) => l === -100)).toBe(true);
    expect([...enc.wordsCut]).toEqual([0, 0]);

    const all = await encodeTagging(tok, [{ words, tags }], { labelIds, labelAllSubwords: true });
    for (let t = 0; t < T; t++) {
      const w = all.wordIndex.data[t];
      expect(all.labels.data[t]).toBe(w >= 0 ? labelIds.get(tags[w])! : -100);
    }
  });

  it("counts the words truncation cuts, and refuses tags it cannot map", async () => {
    const short = await encodeTagging(tok, [{ words, tags }], { labelIds, maxLength: 6 });
    const seen = new Set([...short.wordIndex.data].filter((w) => w >= 0));
    expect(short.inputIds.shape[1]).toBe(6);
    expect(short.wordsCut[0]).toBe(words.length - seen.size);
    expect(short.wordsCut[0]).toBeGreaterThan(0);

    await expect(encodeTagging(tok, [{ words, tags: tags.slice(1) }], { labelIds })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringContaining("sentences[0].tags"),
    });
    await expect(encodeTagging(tok, [{ words: ["a"], tags: ["X"] }], { labelIds })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringContaining('"X"'),
    });
    await expect(encodeTagging(tok, [{ words: ["a", " "] }])).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringContaining("sentences[0].words[1]"),
    });
  });
});

describe("encodeQuestionAnswering and extractAnswers", () => {
  const sentences = Array.from(
    { length: 30 },
    (_, i) => `Sentence number ${i} talks about the weather in town ${i} and the trains there.`,
  );
  const context = `🦜 ${sentences.slice(0, 17).join(" ")} The parrot was named Captain Flint. ${sentences.slice(17).join(" ")}`;
  const answerText = "Captain Flint";
  const answerStart = context.indexOf(answerText);
  const example = { question: "What was the parrot called?", context, answers: [{ text: answerText, answerStart }] };

  it("cuts windows that overlap by docStride tokens and finds the answer's tokens in them", async () => {
    const enc = await encodeQuestionAnswering(tok, [example], { maxLength: 64, docStride: 16 });
    const [F, T] = enc.inputIds.shape;
    expect(F).toBeGreaterThan(3);
    const whole = await tok.encodeBatchWithDetails([context], { truncation: false });
    const contextTokens = whole.lengths[0] - 2;
    // Each window's context tokens as [id, first character].
    const windows: [number, number][][] = [];
    for (let f = 0; f < F; f++) {
      const tokens: [number, number][] = [];
      for (let t = 0; t < T; t++) {
        const s = enc.contextOffsets.data[2 * (f * T + t)];
        if (s >= 0) tokens.push([enc.inputIds.data[f * T + t], s]);
      }
      windows.push(tokens);
      expect(enc.attentionMask.data.subarray(f * T, (f + 1) * T).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(64);
      const [s, e] = [enc.startPositions[f], enc.endPositions[f]];
      if (s === 0) {
        expect(e).toBe(0);
        continue;
      }
      const from = enc.contextOffsets.data[2 * (f * T + s)];
      const to = enc.contextOffsets.data[2 * (f * T + e) + 1];
      expect(context.slice(from, to).trim()).toBe(answerText);
    }
    // Neighbours share exactly docStride tokens; together they are the context's tokens in order.
    const joined = [...windows[0]];
    for (let f = 1; f < F; f++) {
      expect(windows[f].slice(0, 16)).toEqual(windows[f - 1].slice(-16));
      joined.push(...windows[f].slice(16));
    }
    expect(joined.map(([id]) => id)).toEqual([...whole.inputIds.data.subarray(1, 1 + contextTokens)]);
    // The answer is wholly inside at least one window, and not in the first.
    expect([...enc.startPositions].filter((s) => s > 0).length).toBeGreaterThan(0);
    expect(enc.startPositions[0]).toBe(0);
    expect([...enc.example]).toEqual(Array(F).fill(0));

    // Logits that point at the answer in one window give back the context's text.
    const start = new Float32Array(F * T);
    const end = new Float32Array(F * T);
    const f = [...enc.startPositions].findIndex((s) => s > 0);
    start[f * T + enc.startPositions[f]] = 5;
    end[f * T + enc.endPositions[f]] = 4;
    const [answer] = extractAnswers([example], enc, { data: start, shape: [F, T] }, { data: end, shape: [F, T] });
    expect(answer).toEqual({ text: answerText, start: answerStart, end: answerStart + answerText.length, score: 9 });
    // An end before the start, or a span longer than allowed, is never chosen.
    const late = new Float32Array(F * T);
    late[f * T + enc.startPositions[f] - 1] = 9;
    const [other] = extractAnswers([example], enc, { data: start, shape: [F, T] }, { data: late, shape: [F, T] });
    expect(other.score).toBe(9); // the one-token span before the answer, not start 5 + end 9 reversed
    const [limited] = extractAnswers(
      [example],
      enc,
      { data: start, shape: [F, T] },
      { data: end, shape: [F, T] },
      {
        maxAnswerLength: 1,
      },
    );
    expect(limited.text).not.toBe(answerText);
    // SQuAD 2.0: a [CLS] score above every span's means no answer.
    start[0] = 20;
    end[0] = 20;
    const [none] = extractAnswers(
      [example],
      enc,
      { data: start, shape: [F, T] },
      { data: end, shape: [F, T] },
      {
        allowImpossible: true,
      },
    );
    expect(none).toMatchObject({ text: "", start: -1, end: -1, score: 40 });
  });

  it("marks impossible questions at [CLS], and refuses answers outside the context or windows too small", async () => {
    const enc = await encodeQuestionAnswering(tok, [{ ...example, isImpossible: true }], {
      maxLength: 64,
      docStride: 16,
    });
    expect([...enc.startPositions, ...enc.endPositions].every((p) => p === 0)).toBe(true);
    await expect(
      encodeQuestionAnswering(tok, [{ ...example, answers: [{ text: "x", answerStart: context.length }] }]),
    ).rejects.toMatchObject({ code: "LTGBERT_INVALID_ARGUMENT", message: expect.stringContaining("answers[0]") });
    await expect(encodeQuestionAnswering(tok, [example], { maxLength: 20, docStride: 16 })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringContaining("docStride"),
    });
  });
});

describe("encodeMultipleChoice", () => {
  it("pairs the question (after its context) with each choice, [B, C, T]", async () => {
    const examples = [
      { question: "Which one swims?", choices: ["a fish", "a rock", "a cloud"] },
      { question: "Which is hot?", choices: ["ice", "fire", "snow"], context: "Think of the sun." },
    ];
    const enc = await encodeMultipleChoice(tok, examples);
    const [B, C, T] = enc.inputIds.shape;
    expect([B, C]).toEqual([2, 3]);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const row = enc.inputIds.data.subarray((b * C + c) * T, (b * C + c + 1) * T);
        const mask = enc.attentionMask.data.subarray((b * C + c) * T, (b * C + c + 1) * T);
        const n = mask.reduce((a, x) => a + x, 0);
        const first =
          examples[b].context === undefined ? examples[b].question : `${examples[b].context} ${examples[b].question}`;
        expect([...row.subarray(0, n)]).toEqual(await tok.encode(first, examples[b].choices[c]));
      }
    }
    expect(enc.numTruncated).toBe(0);
    await expect(
      encodeMultipleChoice(tok, [examples[0], { question: "q", choices: ["a", "b"] }]),
    ).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringContaining("examples[1].choices"),
    });
    expect(groupByChoiceCount([{ choices: [1, 2, 3] }, { choices: [1, 2, 3, 4] }, { choices: [1, 2, 3] }])).toEqual(
      new Map([
        [3, [0, 2]],
        [4, [1]],
      ]),
    );
  });
});
