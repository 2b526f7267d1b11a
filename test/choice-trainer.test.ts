// The Trainer on a multiple-choice model: 21 ARC-Easy questions with 3, 4
// or 5 choices (test/fixtures/tasks). Batches hold questions of one choice
// count and cover every question once an epoch; a small model from random
// weights learns its training questions' answers (accuracy far above the
// chance level of the same questions, which a model that learnt nothing
// reaches on average). One libtorch thread.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LtgBertForMultipleChoice,
  readMultipleChoice,
  setNumThreads,
  Tokenizer,
  Trainer,
  type MultipleChoiceDataset,
} from "../lib/index.js";
import { choiceBatches } from "../lib/train/choice-task.js";
import { FIXTURES } from "./helpers/fixtures.js";

setNumThreads(1);
const ARC = path.join(FIXTURES, "tasks", "arc-easy-dev-slice.jsonl");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-choice-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let tok: Tokenizer;
let data: MultipleChoiceDataset;
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm-10m"));
  data = await readMultipleChoice(ARC);
});

describe("choiceBatches", () => {
  it("puts questions of one choice count in each batch, every question once, in a seeded order", () => {
    const counts = new Set(data.examples.map((e) => e.choices.length));
    expect(counts).toEqual(new Set([3, 4, 5]));
    const batches = choiceBatches(data, 4, 7);
    for (const b of batches) expect(new Set(b.map((i) => data.examples[i].choices.length)).size).toBe(1);
    expect(batches.flat().sort((a, b) => a - b)).toEqual([...data.examples.keys()]);
    expect(choiceBatches(data, 4, 7)).toEqual(batches);
    expect(choiceBatches(data, 4, 8)).not.toEqual(batches);
  });
});

describe("Trainer with LtgBertForMultipleChoice", () => {
  it("learns its training questions' answers, far above chance, and saves a model that loads back", async () => {
    const model = (
      await LtgBertForMultipleChoice.fromConfig(
        {
          vocab_size: 4096,
          hidden_size: 64,
          num_hidden_layers: 2,
          num_attention_heads: 2,
          intermediate_size: 128,
          max_position_embeddings: 128,
        },
        { seed: 1 },
      )
    ).setTokenizer(tok);
    const outputDir = path.join(work, "run");
    const trainer = new Trainer(model, {
      trainData: ARC,
      evalData: data,
      outputDir,
      epochs: 40,
      batchSize: 4,
      learningRate: 3e-3,
      warmupRatio: 0.1,
      seed: 5,
      progress: false,
    });
    const before = await trainer.evaluate();
    expect(before.samples).toBe(21);
    // 1/3, 1/4 and 1/5 averaged over the questions, counted from the file.
    const chance = data.examples.reduce((a, e) => a + 1 / e.choices.length, 0) / 21;
    expect(before.chance).toBeCloseTo(chance, 12);
    const result = await trainer.train();
    const after = result.interrupted ? before : result.metrics!;
    expect(after.loss).toBeLessThan(before.loss / 2);
    expect(after.accuracy).toBeGreaterThan(0.9);

    // choose() ranks the same choice first as the evaluation scored.
    const ranked = await model.choose(data.examples);
    const right = ranked.filter((r, i) => r[0].index === data.examples[i].label).length;
    expect(right / 21).toBe(after.accuracy);
    for (const [i, r] of ranked.entries()) {
      expect(r.map((c) => c.choice).sort()).toEqual([...data.examples[i].choices].sort());
      expect(r.reduce((a, c) => a + c.score, 0)).toBeCloseTo(1, 5);
    }

    const config = JSON.parse(readFileSync(path.join(outputDir, "config.json"), "utf8"));
    expect(config.architectures).toEqual(["LtgBertForMultipleChoice"]);
    const loaded = await LtgBertForMultipleChoice.fromPretrained(outputDir);
    const again = await new Trainer(loaded, { trainData: data, outputDir: path.join(work, "x") }).evaluate(ARC);
    expect(again.accuracy).toBe(after.accuracy);
    loaded.dispose();
    model.dispose();
  });
});
