// Masked-LM training with the Trainer on a few kilobytes of WikiText-2: a
// tiny randomly initialised model's loss goes down, evaluation scores the
// same masked positions every time, and a run stopped mid-epoch (mid
// shuffling block) and resumed ends with the weights of a run straight
// through. One libtorch thread, as in the other training tests.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LtgBertForMaskedLM,
  MaskedLMCorpus,
  readStateDict,
  setNumThreads,
  Tokenizer,
  Trainer,
  type MaskedLMTrainerOptions,
} from "../lib/index.js";
import { FIXTURES, maxAbsDiff } from "./helpers/fixtures.js";

setNumThreads(1);
const TRAIN = path.join(FIXTURES, "corpus", "wikitext-2-valid-1-60.txt");
const HELD_OUT = path.join(FIXTURES, "corpus", "wikitext-2-valid-61-80.txt");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-pretrain-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// The BabyLM 10M tokenizer's 4,096 ids keep the output layer small.
const CONFIG = {
  vocab_size: 4096,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 64,
};

let tok: Tokenizer;
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm-10m"));
});

function tiny(seed = 1): Promise<LtgBertForMaskedLM> {
  return LtgBertForMaskedLM.fromConfig(CONFIG, { seed });
}

function options(outputDir: string, extra: Partial<MaskedLMTrainerOptions> = {}): MaskedLMTrainerOptions {
  return {
    trainData: TRAIN,
    evalData: HELD_OUT,
    tokenizer: tok,
    outputDir: path.join(work, outputDir),
    sequenceLength: 64,
    batchSize: 8,
    shuffleBuffer: 16,
    learningRate: 3e-3,
    warmupSteps: 2,
    weightDecay: 0.01,
    seed: 3,
    ...extra,
  };
}

async function weights(source: LtgBertForMaskedLM | string): Promise<Map<string, Float32Array>> {
  const sd = typeof source === "string" ? await readStateDict(source) : source.stateDict();
  const out = new Map<string, Float32Array>();
  for (const key of sd.keys()) {
    const t = await sd.read(key);
    if (t.data instanceof Float32Array) out.set(key, t.data);
  }
  return out;
}

function readJson(p: string): Record<string, unknown> {
  return JSON.parse(readFileSync(p, "utf8")) as Record<string, unknown>;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("masked-LM training on raw text", () => {
  it("lowers the training and held-out loss over epochs of the stream; evaluation is repeatable", async () => {
    const batches = await (await MaskedLMCorpus.open(TRAIN, tok, { sequenceLength: 64, batchSize: 8 })).countBatches();
    const model = await tiny();
    const losses: number[] = [];
    const trainer = new Trainer(model, { ...options("epochs"), epochs: 4, onStep: (e) => losses.push(e.loss) });
    const before = await trainer.evaluate();
    expect(before.loss).toBeGreaterThan(Math.log(4096) - 1); // about uniform over the vocabulary
    expect(before.perplexity).toBeCloseTo(Math.exp(before.loss), 6);
    expect(await trainer.evaluate()).toEqual(before); // the same masks every time

    const result = await trainer.train();
    expect(result.interrupted).toBe(false);
    if (result.interrupted) return;
    expect(result.globalStep).toBe(4 * batches);
    expect(result.epochs).toBe(4);
    expect(losses).toHaveLength(4 * batches);
    expect(mean(losses.slice(-batches))).toBeLessThan(mean(losses.slice(0, batches)) - 1);
    const after = result.metrics!;
    expect(after.loss).toBeLessThan(before.loss - 1);
    expect(after.accuracy).toBeGreaterThan(before.accuracy);
    expect(after.samples).toBe(before.samples);
    expect(after.tokens).toBe(before.tokens);
    expect(after.tokens).toBeGreaterThan(0.1 * after.samples * 62);

    // The log has the masked-LM evaluation keys at each epoch's end; the final model loads as a masked LM.
    const state = readJson(path.join(work, "epochs", "trainer_state.json"));
    const evals = (state.log_history as Record<string, number>[]).filter((e) => "eval_loss" in e);
    expect(evals.map((e) => e.step)).toEqual([1, 2, 3, 4].map((e) => e * batches));
    expect(Object.keys(evals[0]).sort()).toEqual(
      ["epoch", "eval_accuracy", "eval_loss", "eval_perplexity", "eval_samples", "eval_tokens", "step"].sort(),
    );
    expect(state.metric_for_best_model).toBe("loss");
    const reloaded = await LtgBertForMaskedLM.fromPretrained(path.join(work, "epochs"));
    expect(reloaded.tokenizer).not.toBeNull();
    reloaded.dispose();
    model.dispose();
  });

  it("stopped mid-epoch and resumed from its checkpoint, ends with the weights of a run straight through", async () => {
    // 10 steps of 8 sequences: past the first epoch's end; shuffling blocks of
    // 16+ sequences, so step 3 stops inside one.
    const straight = await tiny();
    const straightLosses: number[] = [];
    const done = await new Trainer(straight, {
      ...options("straight"),
      maxSteps: 10,
      evalEvery: 5,
      onStep: (e) => straightLosses.push(e.loss),
    }).train();
    expect(done.interrupted).toBe(false);

    const controller = new AbortController();
    const first = await tiny();
    const stopped = await new Trainer(first, {
      ...options("stopped"),
      maxSteps: 10,
      evalEvery: 5,
      signal: controller.signal,
      onStep: (e) => e.step === 3 && controller.abort(),
    }).train();
    expect(stopped).toMatchObject({ interrupted: true, globalStep: 3 });
    const checkpoint = path.join(work, "stopped", "checkpoint-3");
    const position = readJson(path.join(checkpoint, "trainer_state.json")).data_position as Record<string, unknown>;
    expect(position).toMatchObject({ epoch: 0, batch_in_epoch: 3, batches_per_epoch: null });
    expect(position.corpus).toMatchObject({ epoch: 0, batch: 3, file: 0 });
    expect((position.corpus as { used: number }).used).toBeGreaterThan(0); // inside a block
    first.dispose();

    const resumed = await tiny(99); // other initial weights: the checkpoint's replace them
    const resumedLosses: number[] = [];
    const result = await new Trainer(resumed, {
      ...options("stopped"),
      maxSteps: 10,
      evalEvery: 5,
      onStep: (e) => resumedLosses.push(e.loss),
    }).train({ resumeFrom: true });
    expect(result).toMatchObject({ interrupted: false, globalStep: 10 });
    expect(resumedLosses).toHaveLength(7);
    resumedLosses.forEach((loss, i) => expect(Math.abs(loss - straightLosses[3 + i])).toBeLessThan(1e-6));
    const a = await weights(straight);
    const b = await weights(resumed);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [key, value] of a) expect(maxAbsDiff(value, b.get(key)!), key).toBeLessThan(1e-6);
    if (!result.interrupted && !done.interrupted) expect(result.metrics).toEqual(done.metrics);
    // The final model written at the end is the one trained.
    const saved = await weights(path.join(work, "stopped"));
    for (const [key, value] of saved) expect(maxAbsDiff(value, b.get(key)!), key).toBeLessThan(1e-6);
    straight.dispose();
    resumed.dispose();
  });

  it("refuses to resume with another sequence length, and checks its options", async () => {
    const model = await tiny();
    const other = new Trainer(model, { ...options("stopped"), maxSteps: 10, sequenceLength: 32 });
    await expect(other.train({ resumeFrom: path.join(work, "stopped", "checkpoint-3") })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringMatching(/training_args\.json: sequenceLength was 64, now 32/),
    });
    expect(() => new Trainer(model, { ...options("bad"), sequenceLength: 65 })).toThrow(
      /options\.sequenceLength: expected at most the model's max_position_embeddings \(64\), got 65/,
    );
    expect(() => new Trainer(model, { ...options("bad"), trainData: [] })).toThrow(/options\.trainData/);
    expect(() => new Trainer(model, { ...options("bad"), metricForBestModel: "mcc" as "loss" })).toThrow(
      /options\.metricForBestModel/,
    );
    await expect(
      new Trainer(model, { ...options("missing"), trainData: path.join(work, "nope.txt") }).train(),
    ).rejects.toMatchObject({ code: "LTGBERT_FILE_NOT_FOUND" });
    expect(existsSync(path.join(work, "missing"))).toBe(false);
    model.dispose();
  });
});
