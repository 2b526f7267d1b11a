// Word embeddings from document co-occurrence (pretrain --embedding-init
// cooccurrence) on a made-up corpus whose documents each talk of one of two
// topics: tokens of one topic share documents, tokens of different topics
// never do, so their vectors must point apart (PPMI is 0 across topics,
// and an SVD of a block-diagonal matrix gives rows in separate subspaces)
// while those of one topic point alike (for a block a·(J − I) of n tokens,
// rows of U·√S have cosine (n − 2) / (2n − 2), about 0.4 here).
// Also: the special tokens' rows and the spread are kept, the output layer
// (tied) follows, the seed decides, and bad input is refused before
// anything changes. The documents() reader's boundaries are checked too.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  initEmbeddingsFromCooccurrence,
  LtgBertForMaskedLM,
  MaskedLMCorpus,
  setNumThreads,
  Tokenizer,
} from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

setNumThreads(1);
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-cooc-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CONFIG = {
  vocab_size: 4096,
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 64,
};
const FOOD = ["milk", "egg", "tea", "dinner", "food", "eat", "fish"];
const TRAVEL = ["car", "bus", "train", "ship", "boat", "road", "truck", "drive"];
const KEY = "embedding.word_embedding.weight";

let tok: Tokenizer;
let food: number[];
let travel: number[];
let corpusFile: string;
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm-10m"));
  // Words that are one token each (with the word-start marker).
  const ids = async (w: string): Promise<number[]> => [...(await tok.encodeWithoutSpecialTokens([` ${w}`])).ids];
  const single = async (words: string[]): Promise<string[]> => {
    const out: string[] = [];
    for (const w of words) if ((await ids(w)).length === 1) out.push(w);
    return out;
  };
  const foodWords = await single(FOOD);
  const travelWords = await single(TRAVEL);
  expect(foodWords.length).toBeGreaterThanOrEqual(5);
  expect(travelWords.length).toBeGreaterThanOrEqual(5);
  food = await Promise.all(foodWords.map(async (w) => (await ids(w))[0]));
  travel = await Promise.all(travelWords.map(async (w) => (await ids(w))[0]));
  // 400 documents of 6 words each, drawn from one topic (mulberry32), separated by empty lines.
  let state = 12345;
  const next = (n: number): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
  const docs: string[] = [];
  for (let d = 0; d < 400; d++) {
    const words = d % 2 === 0 ? foodWords : travelWords;
    docs.push(Array.from({ length: 6 }, () => words[next(words.length)]).join(" "));
  }
  corpusFile = path.join(work, "topics.txt");
  writeFileSync(corpusFile, docs.join("\n\n") + "\n");
});

async function rows(mlm: LtgBertForMaskedLM, key = KEY): Promise<{ data: Float32Array; D: number }> {
  const t = await mlm.stateDict().read(key);
  return { data: t.data as Float32Array, D: t.shape[1] };
}

function cosine(e: { data: Float32Array; D: number }, i: number, j: number): number {
  let dot = 0;
  let a = 0;
  let b = 0;
  for (let k = 0; k < e.D; k++) {
    const x = e.data[i * e.D + k];
    const y = e.data[j * e.D + k];
    dot += x * y;
    a += x * x;
    b += y * y;
  }
  return dot / Math.sqrt(a * b);
}

function std(values: Float32Array): number {
  let m = 0;
  for (const v of values) m += v;
  m /= values.length;
  let s = 0;
  for (const v of values) s += (v - m) ** 2;
  return Math.sqrt(s / values.length);
}

describe("initEmbeddingsFromCooccurrence", () => {
  it("gives tokens of one topic close vectors and tokens of different topics orthogonal ones", async () => {
    const mlm = await LtgBertForMaskedLM.fromConfig(CONFIG, { seed: 3 });
    const before = await rows(mlm);
    const corpus = await MaskedLMCorpus.open(corpusFile, tok);
    const report = await initEmbeddingsFromCooccurrence(mlm, corpus, { seed: 1, minCount: 2 });
    expect(report).toMatchObject({ key: KEY, documents: 400, tokens: 2400, kept: [0, 1, 2, 3, 4, 5, 6] });
    // Every within-topic pair shares documents; no cross-topic pair does.
    const pairs = (n: number): number => (n * (n - 1)) / 2;
    expect(report.pairs).toBeLessThanOrEqual(pairs(food.length) + pairs(travel.length));
    expect(report.pairs).toBeGreaterThan(0);

    const after = await rows(mlm);
    for (const group of [food, travel])
      for (const i of group) for (const j of group) if (i < j) expect(cosine(after, i, j)).toBeGreaterThan(0.2);
    for (const i of food) for (const j of travel) expect(Math.abs(cosine(after, i, j))).toBeLessThan(1e-3);
    // Random vectors of 32 dimensions are not like that.
    const within = food.slice(1).map((j) => cosine(before, food[0], j));
    expect(Math.min(...within)).toBeLessThan(0.2);

    // The special tokens' rows are untouched; the spread is about the one before
    const D = after.D;
    expect(after.data.subarray(0, 7 * D)).toEqual(before.data.subarray(0, 7 * D));
    // (scaled before the special rows are put back, so equal to within a percent)
    expect(Math.abs(std(after.data) / std(before.data) - 1)).toBeLessThan(0.01);
    // Tokens that never occur get (next to) nothing: their rows are 0 but for
    // the SVD's directions of singular value ~0.
    const norm = (i: number): number => Math.hypot(...after.data.subarray(i * D, (i + 1) * D));
    const unused = [...Array(CONFIG.vocab_size).keys()].find((i) => i > 6 && !food.includes(i) && !travel.includes(i))!;
    expect(norm(unused)).toBeLessThan(0.01 * Math.min(...[...food, ...travel].map(norm)));
    // The output layer is tied: its weight changed with the embeddings.
    expect((await rows(mlm, "classifier.nonlinearity.5.weight")).data).toEqual(after.data);
    mlm.dispose();
  });

  it("is decided by its seed, and refuses what it cannot use before changing anything", async () => {
    const corpus = await MaskedLMCorpus.open(corpusFile, tok);
    const run = async (seed: number): Promise<Float32Array> => {
      const mlm = await LtgBertForMaskedLM.fromConfig(CONFIG, { seed: 3 });
      await initEmbeddingsFromCooccurrence(mlm, corpus, { seed, minCount: 2 });
      const { data } = await rows(mlm);
      mlm.dispose();
      return data;
    };
    expect(await run(7)).toEqual(await run(7));

    const mlm = await LtgBertForMaskedLM.fromConfig(CONFIG, { seed: 3 });
    const before = (await rows(mlm)).data;
    // No pair shares 1,000 documents: nothing to learn from.
    await expect(initEmbeddingsFromCooccurrence(mlm, corpus, { minCount: 1000 })).rejects.toMatchObject({
      code: "LTGBERT_BAD_DATA",
      message: expect.stringContaining(corpusFile),
    });
    await expect(initEmbeddingsFromCooccurrence(mlm, corpus, { minCount: 0 })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
    });
    // A tokenizer larger than the model's vocabulary.
    const small = await LtgBertForMaskedLM.fromConfig({ ...CONFIG, vocab_size: 100 }, { seed: 3 });
    await expect(initEmbeddingsFromCooccurrence(small, corpus)).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringContaining("4096"),
    });
    small.dispose();
    const empty = path.join(work, "empty.txt");
    writeFileSync(empty, "\n\n  \n");
    await expect(initEmbeddingsFromCooccurrence(mlm, await MaskedLMCorpus.open(empty, tok))).rejects.toMatchObject({
      code: "LTGBERT_BAD_DATA",
      message: expect.stringContaining(empty),
    });
    expect((await rows(mlm)).data).toEqual(before);
    mlm.dispose();
  });
});

describe("MaskedLMCorpus.documents", () => {
  it("ends documents at empty lines (or every line) and at each file's end", async () => {
    const a = path.join(work, "a.txt");
    const b = path.join(work, "b.txt");
    writeFileSync(a, "one two\nthree\n\n\nfour\n");
    writeFileSync(b, "five\n \nsix seven\n");
    const plain = new Map<string, number[]>();
    for (const t of ["one two", "three", "four", "five", "six seven"])
      plain.set(t, [...(await tok.encodeWithoutSpecialTokens([t])).ids]);
    const ids = (text: string): number[] => plain.get(text)!;
    const read = async (boundary: "emptyLine" | "line"): Promise<number[][]> => {
      const corpus = await MaskedLMCorpus.open([a, b], tok, { documentBoundary: boundary });
      const out: number[][] = [];
      for await (const d of corpus.documents()) out.push([...d]);
      return out;
    };
    // Each line is trimmed and tokenized on its own, as the batches do.
    expect(await read("emptyLine")).toEqual([
      [...ids("one two"), ...ids("three")],
      ids("four"),
      ids("five"),
      ids("six seven"),
    ]);
    expect(await read("line")).toEqual([ids("one two"), ids("three"), ids("four"), ids("five"), ids("six seven")]);
  });
});
