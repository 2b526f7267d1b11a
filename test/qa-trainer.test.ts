// The Trainer on a question-answering model: the 30 questions of two XQuAD
// paragraphs (test/fixtures/tasks). A small model from random weights,
// trained on them, learns to point at their answers: SQuAD exact match and
// F1 on the same questions rise from near nothing (a random model's spans
// seldom match). The contexts are cut into several overlapping windows
// each, so the answer must be found across windows. One libtorch thread.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodeQuestionAnswering,
  LtgBertForQuestionAnswering,
  readSquad,
  setNumThreads,
  squadMetrics,
  Tokenizer,
  Trainer,
  type SquadDataset,
} from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

setNumThreads(1);
const XQUAD = path.join(FIXTURES, "tasks", "xquad-en-slice.json");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-qa-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let tok: Tokenizer;
let data: SquadDataset;
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm-10m"));
  data = await readSquad(XQUAD);
});

describe("Trainer with LtgBertForQuestionAnswering", () => {
  it("learns where its training questions' answers are, across windows, and saves a directory that loads back and scores the same", async () => {
    const model = (
      await LtgBertForQuestionAnswering.fromConfig(
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
    const windows = await encodeQuestionAnswering(tok, data.examples, { maxLength: 128, docStride: 32 });
    expect(windows.example.length).toBeGreaterThan(2 * data.examples.length); // several windows a question
    const outputDir = path.join(work, "run");
    const trainer = new Trainer(model, {
      trainData: data,
      evalData: XQUAD,
      outputDir,
      maxLength: 128,
      docStride: 32,
      epochs: 25,
      batchSize: 8,
      learningRate: 3e-3,
      warmupRatio: 0.1,
      seed: 3,
      progress: false,
    });
    const before = await trainer.evaluate();
    expect(before.samples).toBe(30);
    expect(before.windows).toBe(windows.example.length);
    const result = await trainer.train();
    const after = result.interrupted ? before : result.metrics!;
    expect(after.loss).toBeLessThan(before.loss / 2);
    expect(after.f1).toBeGreaterThan(before.f1 + 40);
    expect(after.exactMatch).toBeGreaterThan(40);

    // answer() finds the same spans the evaluation scored, and gives them as the context writes them.
    const answers = await model.answer(data.examples, { maxLength: 128, docStride: 32 });
    const byId = new Map(data.examples.map((e, i) => [e.id, answers[i].text]));
    expect(squadMetrics(byId, data.examples).f1).toBe(after.f1);
    answers.forEach((a, i) => expect(data.examples[i].context.slice(a.start, a.end)).toBe(a.text));

    const config = JSON.parse(readFileSync(path.join(outputDir, "config.json"), "utf8"));
    expect(config.architectures).toEqual(["LtgBertForQuestionAnswering"]);
    const loaded = await LtgBertForQuestionAnswering.fromPretrained(outputDir);
    const again = await new Trainer(loaded, {
      trainData: data,
      outputDir: path.join(work, "x"),
      maxLength: 128,
      docStride: 32,
    }).evaluate(data);
    expect(again.f1).toBe(after.f1);
    loaded.dispose();
    model.dispose();
  });
});
