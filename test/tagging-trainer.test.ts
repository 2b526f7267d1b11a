// The Trainer on a token classifier: UPOS tags of nine UD English EWT
// sentences (test/fixtures/tasks). A small tagger from random weights
// learns its training sentences' tags (accuracy far above the most frequent
// tag's share, which is what a model that learnt nothing reaches at best),
// the run saves a directory that loads as a tagger with the tags as label
// names, and bad data is refused with file and line before anything is
// written. One libtorch thread, as in the other training tests.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LtgBertForTokenClassification,
  readConllu,
  splitWords,
  setNumThreads,
  Tokenizer,
  Trainer,
  type TaggingDataset,
} from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

setNumThreads(1);
const CONLLU = path.join(FIXTURES, "tasks", "ewt-dev-slice.conllu");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-tagging-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let tok: Tokenizer;
let data: TaggingDataset;
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm-10m"));
  data = await readConllu(CONLLU);
});

async function tagger(seed = 1): Promise<LtgBertForTokenClassification> {
  const model = await LtgBertForTokenClassification.fromConfig(
    {
      vocab_size: 4096,
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 128,
      max_position_embeddings: 128,
    },
    { seed, numLabels: data.tagNames.length },
  );
  return model.setTokenizer(tok);
}

describe("splitWords", () => {
  it("splits at whitespace and takes punctuation off the ends of words, with spans", () => {
    expect(splitWords("  Hello, world! (U.S.) it's 4.5%")).toEqual({
      words: ["Hello", ",", "world", "!", "(", "U.S", ".", ")", "it's", "4.5", "%"],
      spans: [
        [2, 7],
        [7, 8],
        [9, 14],
        [14, 15],
        [16, 17],
        [17, 20],
        [20, 21],
        [21, 22],
        [23, 27],
        [28, 31],
        [31, 32],
      ],
    });
    expect(splitWords(" \t ")).toEqual({ words: [], spans: [] });
  });
});

describe("Trainer with LtgBertForTokenClassification", () => {
  it("learns the tags of its training sentences, and saves a tagger that names its labels", async () => {
    const model = await tagger();
    const outputDir = path.join(work, "run");
    const trainer = new Trainer(model, {
      trainData: CONLLU,
      evalData: CONLLU,
      outputDir,
      epochs: 40,
      batchSize: 3,
      learningRate: 3e-3,
      warmupRatio: 0.1,
      seed: 7,
      progress: false,
    });
    const before = await trainer.evaluate();
    // The most frequent tag's share of the words: the best a tagger that learnt nothing can do.
    const counts = new Map<string, number>();
    for (const s of data.sentences) for (const t of s.tags) if (t !== null) counts.set(t, (counts.get(t) ?? 0) + 1);
    const majority = Math.max(...counts.values()) / data.numTagged;
    expect(before.words).toBe(data.numTagged);
    expect(before.samples).toBe(9);
    expect(before.f1).toBeUndefined(); // UPOS tags are not BIO

    const result = await trainer.train();
    expect(result.interrupted).toBe(false);
    const after = result.interrupted ? before : result.metrics!;
    expect(after.loss).toBeLessThan(before.loss / 4);
    expect(after.accuracy).toBeGreaterThan(0.9);
    expect(after.accuracy).toBeGreaterThan(majority + 0.5);

    // tag() reads the same labels off the same first subwords as evaluate() does.
    const tagged = await model.tag(data.sentences.map((x) => x.words));
    let correct = 0;
    data.sentences.forEach((x, i) => {
      expect(tagged[i].words).toEqual(x.words);
      expect(tagged[i].scores.every((p) => p > 0 && p <= 1)).toBe(true);
      x.tags.forEach((t, j) => (correct += t !== null && tagged[i].labels[j] === t ? 1 : 0));
    });
    expect(correct / data.numTagged).toBe(after.accuracy);
    // A string is split at spaces and punctuation first.
    const [text] = await model.tag(["From the AP comes this story:"]);
    expect(text.words).toEqual(["From", "the", "AP", "comes", "this", "story", ":"]);
    expect(text.spans![6]).toEqual([28, 29]);
    expect(text.labels).toEqual(tagged[0].labels);

    const config = JSON.parse(readFileSync(path.join(outputDir, "config.json"), "utf8"));
    expect(config.architectures).toEqual(["LtgBertForTokenClassification"]);
    expect(Object.values(config.id2label)).toEqual(data.tagNames);
    const loaded = await LtgBertForTokenClassification.fromPretrained(outputDir);
    expect(loaded.labelNames).toEqual(data.tagNames);
    // The saved tagger scores as the trained one did.
    const again = await new Trainer(loaded, { trainData: CONLLU, outputDir: path.join(work, "unused") }).evaluate(
      CONLLU,
    );
    expect(again.accuracy).toBe(after.accuracy);
    loaded.dispose();
    model.dispose();
  });

  it("refuses tags outside the model's labels and sentences that do not fit, before writing anything", async () => {
    const model = await tagger();
    const bad = path.join(work, "bad.tsv");
    writeFileSync(bad, "The\tDET\ncat\tNOUN\n\nA\tDET\ndog\tZZZ\n");
    const outputDir = path.join(work, "not-written");
    const unknown = new Trainer(model, { trainData: CONLLU, evalData: bad, outputDir, epochs: 1, progress: false });
    await expect(unknown.train()).rejects.toMatchObject({
      code: "LTGBERT_BAD_DATA",
      message: expect.stringContaining(`bad.tsv:4: tag "ZZZ" is not one of the model's ${data.tagNames.length} labels`),
    });
    const long = new Trainer(model, { trainData: CONLLU, outputDir, maxLength: 5, epochs: 1, progress: false });
    await expect(long.train()).rejects.toMatchObject({
      code: "LTGBERT_BAD_DATA",
      message: expect.stringMatching(
        /ewt-dev-slice\.conllu:1: the sentence's last \d+ of 7 words do not fit in 5 tokens/,
      ),
    });
    expect(existsSync(outputDir)).toBe(false);
    expect(() => new Trainer(model, { trainData: "", outputDir })).toThrow(/options\.trainData/);
    model.dispose();
  });
});
