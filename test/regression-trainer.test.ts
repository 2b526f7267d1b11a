// The Trainer on a regression model (problem_type "regression", one
// output): 25 STS-B dev pairs (test/fixtures/tasks) with their 0–5 scores.
// A small model from random weights learns its training pairs' scores (mean
// squared error far below the scores' variance, Pearson near 1), `score`
// gives what the evaluation scored, and the saved model loads back as a
// regression model. One libtorch thread.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LtgBertError,
  LtgBertForMaskedLM,
  LtgBertForSequenceClassification,
  pearson,
  readRegressionTsv,
  setNumThreads,
  spearman,
  Tokenizer,
  Trainer,
  type RegressionDataset,
  type RegressionEvalMetrics,
} from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

setNumThreads(1);
const STSB = path.join(FIXTURES, "tasks", "stsb-dev-slice.tsv");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-regression-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CONFIG = {
  vocab_size: 4096,
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 128,
  max_position_embeddings: 128,
};

let tok: Tokenizer;
let data: RegressionDataset;
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm-10m"));
  data = await readRegressionTsv(STSB);
});

async function regressor(seed: number): Promise<LtgBertForSequenceClassification> {
  const model = await LtgBertForSequenceClassification.fromConfig(CONFIG, {
    numLabels: 1,
    seed,
    config: { problem_type: "regression" },
  });
  return model.setTokenizer(tok);
}

describe("Trainer with a regression model", () => {
  it("learns its training pairs' scores, and score() gives what the evaluation scored", async () => {
    const model = await regressor(1);
    const outputDir = path.join(work, "run");
    const trainer = new Trainer<LtgBertForSequenceClassification, RegressionEvalMetrics>(model, {
      trainData: STSB,
      evalData: data,
      outputDir,
      epochs: 40,
      batchSize: 5,
      learningRate: 2e-3,
      warmupRatio: 0.1,
      seed: 3,
      progress: false,
    });
    const gold = data.examples.map((e) => e.score);
    const mean = gold.reduce((a, b) => a + b, 0) / gold.length;
    const variance = gold.reduce((a, b) => a + (b - mean) ** 2, 0) / gold.length;
    const before = await trainer.evaluate();
    expect(before.samples).toBe(25);
    const result = await trainer.train();
    const after = result.interrupted ? before : result.metrics!;
    // Predicting the mean everywhere would give the variance; memorising gives far less.
    expect(after.loss).toBeLessThan(variance / 10);
    expect(after.loss).toBeLessThan(before.loss / 10);
    expect(after.pearson).toBeGreaterThan(0.95);
    expect(after.spearman).toBeGreaterThan(0.9);

    const scores = await model.score(data.examples.map((e) => [e.sentence1, e.sentence2] as const));
    expect(scores).toHaveLength(25);
    const mse = scores.reduce((a, s, i) => a + (s - gold[i]) ** 2, 0) / 25;
    expect(mse).toBeCloseTo(after.loss, 4);
    expect(pearson(scores, gold)).toBeCloseTo(after.pearson, 5);
    expect(spearman(scores, gold)).toBeCloseTo(after.spearman, 5);

    const config = JSON.parse(readFileSync(path.join(outputDir, "config.json"), "utf8"));
    expect(config.architectures).toEqual(["LtgBertForSequenceClassification"]);
    expect(config.problem_type).toBe("regression");
    expect(config.num_labels ?? Object.keys(config.id2label).length).toBe(1);
    const loaded = await LtgBertForSequenceClassification.fromPretrained(outputDir);
    const again = await loaded.score(data.examples.map((e) => [e.sentence1, e.sentence2] as const));
    again.forEach((s, i) => expect(s).toBeCloseTo(scores[i], 5));
    await expect(loaded.predict(["a text"])).rejects.toThrow(/problem_type is "regression" \(use score\)/);
    loaded.dispose();
    model.dispose();
  });

  it("puts a regression head on a masked LM's encoder", async () => {
    const mlm = (await LtgBertForMaskedLM.fromConfig(CONFIG, { seed: 4 })).setTokenizer(tok);
    const sts = await LtgBertForSequenceClassification.fromMaskedLM(mlm, { numLabels: 1, problemType: "regression" });
    expect(sts.config.problem_type).toBe("regression");
    expect(sts.loadReport!.missing.sort()).toEqual(["classifier.bias", "classifier.weight"]);
    const [a, b] = await sts.score(["a text", ["a text", "another"]]);
    expect(Number.isFinite(a) && Number.isFinite(b)).toBe(true);
    sts.dispose();
    mlm.dispose();
  });

  it("refuses a regression head with more than one output, and score() on a classifier", async () => {
    const two = await LtgBertForSequenceClassification.fromConfig(CONFIG, {
      numLabels: 2,
      seed: 1,
      config: { problem_type: "regression" },
    });
    expect(() => new Trainer(two, { trainData: STSB, outputDir: path.join(work, "two") } as never)).toThrow(
      /num_labels 1.*this one has num_labels 2/,
    );
    two.dispose();
    const classifier = (
      await LtgBertForSequenceClassification.fromConfig(CONFIG, { numLabels: 2, seed: 1 })
    ).setTokenizer(tok);
    const error = await classifier.score(["a text"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LtgBertError);
    expect((error as LtgBertError).code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect((error as Error).message).toMatch(/problem_type is "single_label_classification" \(use predict\)/);
    classifier.dispose();
  });

  it("names the file, line and value of a score outside STS-B's range", async () => {
    const bad = path.join(work, "bad.tsv");
    const lines = readFileSync(STSB, "utf8").split("\n");
    lines[3] = lines[3].replace(/\t[0-9.]+$/, "\t7.5");
    (await import("node:fs")).writeFileSync(bad, lines.join("\n"));
    const model = await regressor(2);
    const trainer = new Trainer<LtgBertForSequenceClassification, RegressionEvalMetrics>(model, {
      trainData: bad,
      outputDir: path.join(work, "bad-run"),
      progress: false,
    });
    const error = await trainer.train().catch((e: unknown) => e);
    expect((error as LtgBertError).code).toBe("LTGBERT_BAD_DATA");
    expect((error as Error).message).toContain(`${bad}:4: "score": "7.5" is outside [0, 5]`);
    model.dispose();
  });
});
