// The tokenizer that travels with a model (fromPretrained, the setter,
// savePretrained, fromMaskedLM) and predict: probabilities equal to a
// softmax of forward's logits for each text alone, in input order.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LtgBertError,
  LtgBertForMaskedLM,
  LtgBertForSequenceClassification,
  setNumThreads,
  Tokenizer,
  type LtgBertConfigInput,
} from "../lib/index.js";
import { FIXTURES, TINY } from "./helpers/fixtures.js";

setNumThreads(1);
const TOKENIZER_DIR = path.join(FIXTURES, "tokenizers", "ltg-bert-babylm");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-predict-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Small enough to build in milliseconds, with the BabyLM tokenizer's vocabulary. */
const CONFIG: LtgBertConfigInput = {
  vocab_size: 16384,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 16,
};
const NAMES = ["negative", "neutral", "positive"];

let tok: Tokenizer;
let model: LtgBertForSequenceClassification;
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(TOKENIZER_DIR);
  model = await LtgBertForSequenceClassification.fromConfig(CONFIG, { numLabels: 3, seed: 3 });
  model.tokenizer = tok;
  model.setLabelNames(NAMES);
});
afterAll(() => model.dispose());

async function rejection(promise: Promise<unknown>): Promise<LtgBertError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LtgBertError);
  return error as LtgBertError;
}

/** Softmax in float64 of one row of logits, written out here rather than taken from the package. */
function probabilities(logits: ArrayLike<number>): number[] {
  const values = Array.from(logits);
  const max = Math.max(...values);
  const sum = values.reduce((s, x) => s + Math.exp(x - max), 0);
  return values.map((x) => Math.exp(x - max) / sum);
}

const TEXTS = [
  "a gorgeous , witty , seductive movie .",
  "dull",
  "the plot is nothing but boilerplate clichés from start to finish , and the script assumes that not only would subtlety be lost on the target audience , but that it 's also too stupid to realize that they 've already seen this exact same movie a hundred times",
  "it 's a charming and often affecting journey .",
  "bleak",
];

describe("predict", () => {
  it("gives each text the softmax of its own logits, in input order, whatever the batching", async () => {
    const predictions = await model.predict(TEXTS, { batchSize: 2 });
    expect(predictions).toHaveLength(TEXTS.length);
    for (const [i, text] of TEXTS.entries()) {
      // The text alone, unpadded, truncated to max_position_embeddings as predict truncates it.
      const ids = await tok.encode(text, undefined, { maxLength: 16 });
      const { logits } = await model.forward({ inputIds: [ids] }, { hiddenStates: false });
      const expected = probabilities(logits.data);
      const p = predictions[i];
      expect(p.scores).toHaveLength(3);
      for (let c = 0; c < 3; c++) expect(Math.abs(p.scores[c] - expected[c])).toBeLessThan(1e-6);
      expect(p.scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(p.labelId).toBe(expected.indexOf(Math.max(...expected)));
      expect(p.score).toBe(p.scores[p.labelId]);
      expect(p.label).toBe(NAMES[p.labelId]);
    }
    // Batching is arithmetic only: one batch of all gives the same numbers.
    const together = await model.predict(TEXTS, { batchSize: 32 });
    together.forEach((p, i) =>
      p.scores.forEach((s, c) => expect(Math.abs(s - predictions[i].scores[c])).toBeLessThan(1e-6)),
    );
  });

  it("takes pairs, and an empty list", async () => {
    const [p] = await model.predict([["a man plays the guitar", "someone plays music"]]);
    const ids = await tok.encode("a man plays the guitar", "someone plays music", { maxLength: 16 });
    const { logits } = await model.forward({ inputIds: [ids] }, { hiddenStates: false });
    probabilities(logits.data).forEach((s, c) => expect(Math.abs(p.scores[c] - s)).toBeLessThan(1e-6));
    expect(await model.predict([])).toEqual([]);
  });

  it("with topK, lists the k most probable labels, best first; without it, none", async () => {
    const plain = await model.predict(TEXTS);
    expect(plain.every((p) => p.top === undefined)).toBe(true);
    const two = await model.predict(TEXTS, { topK: 2 });
    two.forEach((p, i) => {
      expect(p.scores).toEqual(plain[i].scores);
      const order = [0, 1, 2].sort((a, b) => p.scores[b] - p.scores[a]);
      expect(p.top).toEqual(order.slice(0, 2).map((c) => ({ label: NAMES[c], labelId: c, score: p.scores[c] })));
      expect(p.top![0]).toEqual({ label: p.label, labelId: p.labelId, score: p.score });
    });
    // More than there are labels gives them all.
    const [all] = await model.predict([TEXTS[0]], { topK: 10 });
    expect(all.top!.map((r) => r.labelId).sort()).toEqual([0, 1, 2]);
    await expect(model.predict(["a"], { topK: 0 })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringMatching(/^options\.topK: expected a positive integer, got 0/),
    });
  });

  it("names classes LABEL_i when config.json does not", async () => {
    const plain = await LtgBertForSequenceClassification.fromConfig(CONFIG, { numLabels: 2 });
    plain.tokenizer = tok;
    const [p] = await plain.predict(["fine"]);
    expect(p.label).toBe(`LABEL_${p.labelId}`);
    plain.dispose();
  });

  it("with truncation: false, a text longer than max_position_embeddings is an error naming it", async () => {
    const error = await rejection(model.predict(TEXTS, { truncation: false }));
    expect(error.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(error.message).toMatch(/^texts\[2\]: \d+ tokens with the special tokens, more than maxLength 16/);
    const short = await model.predict([TEXTS[1], TEXTS[4]], { truncation: false });
    expect(short).toHaveLength(2);
  });

  it("without a tokenizer, says to load one; checks its options", async () => {
    const bare = await LtgBertForSequenceClassification.fromConfig(CONFIG, { numLabels: 2 });
    const error = await rejection(bare.predict(["text"]));
    expect(error.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(error.message).toMatch(/no tokenizer; load one with Tokenizer\.fromPretrained/);
    bare.dispose();
    await expect(model.predict(["a"], { batchSize: 0 })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringMatching(/options\.batchSize/),
    });
    await expect(model.predict("a" as unknown as string[])).rejects.toMatchObject({ code: "LTGBERT_INVALID_ARGUMENT" });
    await expect(model.predict([3 as unknown as string])).rejects.toMatchObject({
      message: expect.stringMatching(/texts\[0\]/),
    });
  });

  it("refuses a regression model", async () => {
    const regression = await LtgBertForSequenceClassification.fromConfig(CONFIG, {
      numLabels: 1,
      config: { problem_type: "regression" },
    });
    regression.tokenizer = tok;
    const error = await rejection(regression.predict(["text"]));
    expect(error.message).toMatch(/problem_type is "regression"/);
    regression.dispose();
  });
});

describe("the model's tokenizer", () => {
  it("savePretrained writes the attached tokenizer's tokenizer.json; fromPretrained reads it back", async () => {
    const dir = path.join(work, "with-tokenizer");
    const written = await model.savePretrained(dir);
    expect(written).toContain(path.join(dir, "tokenizer.json"));
    expect(readFileSync(path.join(dir, "tokenizer.json"))).toEqual(
      readFileSync(path.join(TOKENIZER_DIR, "tokenizer.json")),
    );
    const config = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(config.id2label).toEqual({ 0: "negative", 1: "neutral", 2: "positive" });
    expect(config.label2id).toEqual({ negative: 0, neutral: 1, positive: 2 });

    const loaded = await LtgBertForSequenceClassification.fromPretrained(dir);
    expect(loaded.tokenizer).toBeInstanceOf(Tokenizer);
    expect(loaded.tokenizer!.file).toBe(path.join(dir, "tokenizer.json"));
    const [a, b] = [await model.predict(TEXTS), await loaded.predict(TEXTS)];
    a.forEach((p, i) => {
      expect(b[i].label).toBe(p.label);
      p.scores.forEach((s, c) => expect(Math.abs(s - b[i].scores[c])).toBeLessThan(1e-6));
    });
    const without = await LtgBertForSequenceClassification.fromPretrained(dir, { tokenizer: false });
    expect(without.tokenizer).toBeNull();
    loaded.dispose();
    without.dispose();
  });

  it("a model directory without tokenizer.json loads with none, and saves none", async () => {
    const tiny = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    expect(tiny.tokenizer).toBeNull();
    const dir = path.join(work, "no-tokenizer");
    await tiny.savePretrained(dir);
    expect(existsSync(path.join(dir, "tokenizer.json"))).toBe(false);
    // Its vocabulary (97) is too small for the BabyLM tokenizer's ids.
    expect(() => (tiny.tokenizer = tok)).toThrow(/16384 tokens, more than the model's vocab_size 97/);
    expect(() => tiny.setTokenizer("tokenizer.json" as unknown as Tokenizer)).toThrow(/expected a Tokenizer or null/);
    tiny.dispose();
  });

  it("is set with setTokenizer or the setter, and cleared with null", async () => {
    const other = await LtgBertForSequenceClassification.fromConfig(CONFIG, { numLabels: 2 });
    expect(other.setTokenizer(tok)).toBe(other);
    expect(other.tokenizer).toBe(tok);
    other.tokenizer = null;
    expect(other.tokenizer).toBeNull();
    other.dispose();
  });

  it("fromMaskedLM carries the masked LM's tokenizer to the classifier", async () => {
    const mlm = await LtgBertForMaskedLM.fromConfig(CONFIG);
    mlm.tokenizer = tok;
    const cls = await LtgBertForSequenceClassification.fromMaskedLM(mlm, { numLabels: 2 });
    expect(cls.tokenizer).toBe(tok);
    mlm.dispose();
    cls.dispose();
  });

  it("setLabelNames checks its names", () => {
    expect(() => model.setLabelNames(["a", "b"])).toThrow(/3 distinct non-empty label names/);
    expect(() => model.setLabelNames(["a", "a", "b"])).toThrow(LtgBertError);
    expect(model.labelNames).toEqual(NAMES);
  });
});
