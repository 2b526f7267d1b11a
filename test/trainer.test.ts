// The Trainer on a tiny model and a few dozen SST-2 rows: exact resume after
// an abort, cancellation, what it writes (checkpoints, trainer_state.json,
// the log), label names, and bad data that fails before anything is written.
// One libtorch thread: on a shared two-core machine more threads only wait
// on each other, and one thread keeps every run bit for bit repeatable.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LtgBertError,
  LtgBertForSequenceClassification,
  readDataset,
  readStateDict,
  setNumThreads,
  Tokenizer,
  Trainer,
  type Dataset,
  type LogEntry,
  type TrainerOptions,
} from "../lib/index.js";
import { FIXTURES, maxAbsDiff } from "./helpers/fixtures.js";

setNumThreads(1);
const SST2 = path.join(FIXTURES, "sst2");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-trainer-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CONFIG = {
  vocab_size: 16384,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 128,
};

let tok: Tokenizer;
let train64: Dataset;
let dev32: Dataset;

/** The first n examples of a dataset. */
function head(dataset: Dataset, n: number): Dataset {
  return {
    ...dataset,
    texts: dataset.texts.slice(0, n),
    labels: dataset.labels.slice(0, n),
    lines: dataset.lines.slice(0, n),
    size: n,
  };
}

beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm"));
  train64 = head(await readDataset(path.join(SST2, "train-2000.tsv"), { numLabels: 2 }), 64);
  dev32 = head(await readDataset(path.join(SST2, "dev.tsv"), { numLabels: 2 }), 32);
});

function tiny(seed = 1, numLabels = 2): Promise<LtgBertForSequenceClassification> {
  return LtgBertForSequenceClassification.fromConfig(CONFIG, { numLabels, seed });
}

function dir(name: string): string {
  return path.join(work, name);
}

function file(name: string, text: string): string {
  const p = path.join(work, name);
  writeFileSync(p, text);
  return p;
}

async function weights(model: LtgBertForSequenceClassification | string): Promise<Map<string, Float32Array>> {
  const sd = typeof model === "string" ? await readStateDict(model) : model.stateDict();
  const out = new Map<string, Float32Array>();
  for (const key of sd.keys()) {
    const t = await sd.read(key);
    if (t.data instanceof Float32Array) out.set(key, t.data);
  }
  return out;
}

async function expectSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): Promise<void> {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [key, value] of a) expect(maxAbsDiff(value, b.get(key)!), key).toBeLessThan(1e-6);
}

function readJson(p: string): Record<string, unknown> {
  return JSON.parse(readFileSync(p, "utf8")) as Record<string, unknown>;
}

function logLines(outputDir: string): LogEntry[] {
  return readFileSync(path.join(outputDir, "train_log.jsonl"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as LogEntry);
}

/** Every file under `root` with its bytes' SHA-256, for "left untouched" checks. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(root, p), createHash("sha256").update(readFileSync(p)).digest("hex"));
    }
  };
  walk(root);
  return out;
}

/** Options shared by the resume runs: 8 batches of 8 per epoch, two per step: 4 steps an epoch. */
function resumeOptions(outputDir: string, extra: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    trainData: train64,
    evalData: dev32,
    tokenizer: tok,
    outputDir,
    epochs: 2,
    batchSize: 8,
    gradientAccumulationSteps: 2,
    learningRate: 1e-3,
    warmupSteps: 2,
    weightDecay: 0.01,
    seed: 5,
    ...extra,
  };
}

describe("exact resume", () => {
  it("stopped by its signal at step 3 and resumed from the checkpoint, it ends where a run straight through ends", async () => {
    const straight = await tiny();
    const straightLosses: number[] = [];
    const done = await new Trainer(straight, {
      ...resumeOptions(dir("straight")),
      onStep: (e) => straightLosses.push(e.loss),
    }).train();
    expect(done).toMatchObject({ interrupted: false, globalStep: 8, epochs: 2 });
    expect(straightLosses).toHaveLength(8);

    const controller = new AbortController();
    const first = await tiny();
    const firstTrainer = new Trainer(first, { ...resumeOptions(dir("stopped")), signal: controller.signal });
    const firstLosses: number[] = [];
    firstTrainer.on("step", (e) => {
      firstLosses.push(e.loss);
      if (e.step === 3) controller.abort();
    });
    const stopped = await firstTrainer.train();
    expect(stopped).toEqual({
      interrupted: true,
      globalStep: 3,
      epochs: 0.75,
      checkpoint: path.join(dir("stopped"), "checkpoint-3"),
      outputDir: dir("stopped"),
    });
    expect(firstLosses).toEqual(straightLosses.slice(0, 3));
    const state = readJson(path.join(dir("stopped"), "checkpoint-3", "trainer_state.json"));
    expect(state.data_position).toEqual({ epoch: 0, batch_in_epoch: 6, batches_per_epoch: 8 });
    // Stopped mid-run: no final model in outputDir itself.
    expect(existsSync(path.join(dir("stopped"), "model.safetensors"))).toBe(false);
    first.dispose();

    // Other initial weights: the checkpoint's must replace them.
    const resumed = await tiny(99);
    const resumedLosses: number[] = [];
    const result = await new Trainer(resumed, {
      ...resumeOptions(dir("stopped")),
      onStep: (e) => resumedLosses.push(e.loss),
    }).train({ resumeFrom: true });
    expect(result).toMatchObject({ interrupted: false, globalStep: 8, epochs: 2 });
    expect(resumedLosses).toHaveLength(5);
    resumedLosses.forEach((loss, i) => expect(Math.abs(loss - straightLosses[3 + i])).toBeLessThan(1e-6));
    if (!result.interrupted && !done.interrupted) {
      expect(Math.abs(result.trainLoss - done.trainLoss)).toBeLessThan(1e-6);
      expect(result.metrics!.accuracy).toBe(done.metrics!.accuracy);
    }
    await expectSameWeights(await weights(straight), await weights(resumed));
    // The log holds each step once, and the evaluations at both epoch ends.
    const log = logLines(dir("stopped"));
    expect(log.filter((e) => "loss" in e).map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(log.filter((e) => "eval_loss" in e).map((e) => e.step)).toEqual([4, 8]);
    straight.dispose();
    resumed.dispose();
  });

  it("refuses to resume with another batch size, and says when there is nothing to resume", async () => {
    const model = await tiny();
    const other = new Trainer(model, resumeOptions(dir("stopped"), { batchSize: 16 }));
    const error = await other.train({ resumeFrom: path.join(dir("stopped"), "checkpoint-3") }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringMatching(/training_args\.json: batchSize was 8, now 16/),
    });
    const empty = new Trainer(model, resumeOptions(dir("never-trained")));
    await expect(empty.train({ resumeFrom: true })).rejects.toMatchObject({
      code: "LTGBERT_FILE_NOT_FOUND",
      message: expect.stringMatching(/no checkpoint-<step> folder to resume from/),
    });
    model.dispose();
  });
});

describe("cancellation", () => {
  it("an abort during a step writes a checkpoint for that step and resolves interrupted", async () => {
    const model = await tiny();
    const controller = new AbortController();
    const saves: string[] = [];
    const trainer = new Trainer(model, {
      ...resumeOptions(dir("cancel")),
      signal: controller.signal,
      onSave: (e) => saves.push(e.checkpoint),
    });
    trainer.on("step", (e) => e.step === 2 && controller.abort());
    const result = await trainer.train();
    expect(result).toMatchObject({
      interrupted: true,
      globalStep: 2,
      checkpoint: path.join(dir("cancel"), "checkpoint-2"),
    });
    expect(saves).toEqual([path.join(dir("cancel"), "checkpoint-2")]);
    expect(readdirSync(path.join(dir("cancel"), "checkpoint-2")).sort()).toEqual([
      "config.json",
      "model.safetensors",
      "optimizer.safetensors",
      "tokenizer.json",
      "trainer_state.json",
      "training_args.json",
    ]);
    model.dispose();
  });

  it("at an epoch's end, the epoch's checkpoint is the one; an evaluation due then is skipped", async () => {
    const model = await tiny();
    const controller = new AbortController();
    let evaluations = 0;
    const trainer = new Trainer(model, {
      ...resumeOptions(dir("cancel-epoch")),
      signal: controller.signal,
      onEvaluate: () => evaluations++,
    });
    trainer.on("step", (e) => e.step === 4 && controller.abort());
    const result = await trainer.train();
    expect(result).toMatchObject({ interrupted: true, globalStep: 4, epochs: 1 });
    expect(evaluations).toBe(0);
    expect(readdirSync(dir("cancel-epoch")).filter((n) => n.startsWith("checkpoint-"))).toEqual(["checkpoint-4"]);
    model.dispose();
  });

  it("a signal aborted before the start: no step, nothing written", async () => {
    const model = await tiny();
    const before = await weights(model);
    const trainer = new Trainer(model, { ...resumeOptions(dir("aborted")), signal: AbortSignal.abort() });
    expect(await trainer.train()).toEqual({
      interrupted: true,
      globalStep: 0,
      epochs: 0,
      checkpoint: null,
      outputDir: dir("aborted"),
    });
    expect(existsSync(dir("aborted"))).toBe(false);
    await expectSameWeights(before, await weights(model));
    model.dispose();
  });
});

describe("what a run writes", () => {
  it("checkpoints, trainer_state.json, training_args.json and one log line per step and per evaluation", async () => {
    const model = await tiny();
    const events = { step: 0, log: 0, evaluate: [] as number[], save: [] as number[] };
    const outputDir = dir("written");
    const trainer = new Trainer(model, {
      trainData: train64,
      evalData: dev32,
      tokenizer: tok,
      outputDir,
      maxSteps: 6,
      batchSize: 16, // 4 batches an epoch
      learningRate: 1e-3,
      warmupRatio: 0.5, // round(0.5 × 6) = 3 steps
      schedule: "cosine",
      evalEvery: 3,
      saveEvery: 2,
      saveTotalLimit: 2,
      metricForBestModel: "loss",
      loadBestModelAtEnd: true,
      onLog: () => events.log++,
    });
    trainer.on("step", () => events.step++);
    trainer.on("evaluate", (e) => events.evaluate.push(e.step));
    trainer.on("save", (e) => events.save.push(e.step));
    const result = await trainer.train();
    expect(result.interrupted).toBe(false);
    if (result.interrupted) return;
    expect(result.globalStep).toBe(6);
    expect(result.epochs).toBe(1.5);
    expect(events.step).toBe(6);
    expect(events.evaluate).toEqual([3, 6]);
    // Every 2 steps, and at each evaluation since the best is loaded at the end.
    expect(events.save).toEqual([2, 3, 4, 6]);

    const state = readJson(path.join(outputDir, "trainer_state.json"));
    expect(state).toMatchObject({
      global_step: 6,
      epoch: 1.5,
      max_steps: 6,
      num_train_epochs: 2,
      train_batch_size: 16,
      metric_for_best_model: "loss",
      data_position: { epoch: 1, batch_in_epoch: 2, batches_per_epoch: 4 },
    });
    const history = state.log_history as LogEntry[];
    const evals = history.filter((e) => "eval_loss" in e);
    expect(evals.map((e) => e.step)).toEqual([3, 6]);
    const bestLoss = Math.min(...evals.map((e) => e.eval_loss));
    expect(state.best_metric).toBe(bestLoss);
    const bestStep = evals.find((e) => e.eval_loss === bestLoss)!.step;
    expect(state.best_model_checkpoint).toBe(path.join(outputDir, `checkpoint-${bestStep}`));
    expect(result.bestCheckpoint).toBe(state.best_model_checkpoint);
    for (const key of ["step", "epoch", "loss", "grad_norm", "learning_rate", "samples_per_second"]) {
      expect(history[0]).toHaveProperty(key);
    }
    expect(Object.keys(evals[0]).sort()).toEqual(
      ["epoch", "eval_accuracy", "eval_loss", "eval_macro_f1", "eval_mcc", "eval_samples", "step"].sort(),
    );
    // train_log.jsonl holds the same entries: one per step, one per evaluation.
    expect(logLines(outputDir)).toEqual(history);
    expect(history.filter((e) => "loss" in e).map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.log).toBe(8);

    const args = readJson(path.join(outputDir, "training_args.json"));
    expect(args).toMatchObject({ batchSize: 16, maxSteps: 6, totalSteps: 6, warmupSteps: 3, schedule: "cosine" });

    // saveTotalLimit 2 keeps two, the newest and the best among them, nothing half-written.
    const left = readdirSync(outputDir).filter((n) => n.startsWith("checkpoint"));
    expect(left).toHaveLength(2);
    expect(left).toContain("checkpoint-6");
    expect(left).toContain(`checkpoint-${bestStep}`);
    // The final model in outputDir is the best checkpoint's, with the tokenizer.
    await expectSameWeights(await weights(path.join(outputDir, `checkpoint-${bestStep}`)), await weights(outputDir));
    await expectSameWeights(await weights(outputDir), await weights(model));
    expect(existsSync(path.join(outputDir, "tokenizer.json"))).toBe(true);
    model.dispose();
  });

  it("string labels become the saved id2label; an evaluation file with fewer names gets the training set's ids", async () => {
    const rows = train64.texts
      .slice(0, 24)
      .map((t, i) => JSON.stringify({ text: t, label: train64.labels[i] ? "pos" : "neg" }));
    const trainFile = file("names.jsonl", `${rows.join("\n")}\n`);
    const positives = dev32.texts.filter((_, i) => dev32.labels[i] === 1);
    const evalFile = file("only-pos.jsonl", positives.map((t) => JSON.stringify({ text: t, label: "pos" })).join("\n"));
    const model = await tiny();
    const outputDir = dir("names");
    const trainer = new Trainer(model, { trainData: trainFile, tokenizer: tok, outputDir, maxSteps: 2, batchSize: 12 });
    await trainer.train();
    const config = readJson(path.join(outputDir, "config.json"));
    expect(config.id2label).toEqual({ 0: "neg", 1: "pos" });
    expect(config.label2id).toEqual({ neg: 0, pos: 1 });
    // "pos" alone would be id 0 in that file; it must be the model's id 1.
    const metrics = await trainer.evaluate(evalFile);
    const predicted = await model.predict(positives);
    const share = predicted.filter((p) => p.label === "pos").length / positives.length;
    expect(Math.abs(metrics.accuracy - share)).toBeLessThanOrEqual(1 / positives.length);
    model.dispose();
  });

  it("a model that already names its labels keeps its ids; the file's names are mapped onto them", async () => {
    const rows = ["good\tpos", "bad\tneg", "fine\tpos"];
    const trainFile = file("named.tsv", `sentence\tlabel\n${rows.join("\n")}\n`);
    const model = await tiny();
    model.setLabelNames(["pos", "neg"]);
    await new Trainer(model, { trainData: trainFile, tokenizer: tok, outputDir: dir("named"), maxSteps: 1 }).train();
    expect(readJson(path.join(dir("named"), "config.json")).id2label).toEqual({ 0: "pos", 1: "neg" });
    const odd = file("odd.tsv", "sentence\tlabel\ngood\tpos\nmeh\tmixed\n");
    const error = await new Trainer(model, { trainData: odd, tokenizer: tok, outputDir: dir("odd") })
      .train()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "LTGBERT_BAD_DATA",
      message: expect.stringMatching(/odd\.tsv:3: label "mixed" is not one of the model's labels \("pos", "neg"\)/),
    });
    model.dispose();
  });
});

describe("bad data fails before any step, leaving outputDir as it was", () => {
  let model: LtgBertForSequenceClassification;
  let outputDir: string;
  let before: Map<string, string>;
  beforeAll(async () => {
    model = await tiny();
    outputDir = dir("earlier-run");
    await new Trainer(model, {
      trainData: head(train64, 8),
      tokenizer: tok,
      outputDir,
      maxSteps: 1,
      saveEvery: 1,
    }).train();
    before = snapshot(outputDir);
    expect([...before.keys()]).toContain(path.join("checkpoint-1", "optimizer.safetensors"));
  });
  afterAll(() => model.dispose());

  async function failsWith(options: Partial<TrainerOptions>, pattern: RegExp): Promise<void> {
    let steps = 0;
    const trainer = new Trainer(model, {
      trainData: train64,
      tokenizer: tok,
      outputDir,
      onStep: () => steps++,
      ...options,
    });
    const error = await trainer.train().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LtgBertError);
    expect((error as LtgBertError).code).toBe("LTGBERT_BAD_DATA");
    expect((error as LtgBertError).message).toMatch(pattern);
    expect(steps).toBe(0);
    expect(snapshot(outputDir)).toEqual(before);
  }

  it("a label outside the model's range", async () => {
    const p = file("bad-label.tsv", "sentence\tlabel\ngood\t1\nbad\t0\nodd\t7\n");
    await failsWith({ trainData: p }, /bad-label\.tsv:4: label "7" is outside \[0, 2\)/);
  });

  it("an empty text", async () => {
    const p = file("empty-text.tsv", "sentence\tlabel\ngood\t1\n \t0\n");
    await failsWith({ trainData: p }, /empty-text\.tsv:3: empty text in "sentence": " "/);
  });

  it("a missing column", async () => {
    const p = file("missing-column.tsv", "sentence\tstars\ngood\t1\n");
    await failsWith(
      { trainData: p },
      /missing-column\.tsv:1: no label column "label" in the header; its columns: "sentence", "stars"/,
    );
  });

  it("a malformed JSON-lines row, in the evaluation file", async () => {
    const p = file("malformed.jsonl", '{"text": "good", "label": 1}\n{"text": "bad", "label": 0\n');
    await failsWith({ evalData: p }, /malformed\.jsonl:2: not valid JSON: .*"\{\\"text\\": \\"bad\\", \\"label\\": 0"/);
  });

  it("three label names for a two-label model", async () => {
    const p = file("three.tsv", "sentence\tlabel\ngood\tpos\nbad\tneg\nso-so\tmixed\n");
    await failsWith({ trainData: p }, /three\.tsv:2: label "pos" gets id 2, outside \[0, 2\) \(numLabels 2\)/);
  });

  it("one label name for a two-label model", async () => {
    const p = file("one.tsv", "sentence\tlabel\ngood\tpos\nfine\tpos\n");
    await failsWith({ trainData: p }, /one\.tsv: 1 label name \("pos"\), but the model has numLabels 2/);
  });

  it("a Dataset object with a label out of range", async () => {
    const labels = train64.labels.slice();
    labels[5] = 3;
    await failsWith({ trainData: { ...train64, labels } }, /train-2000\.tsv:7: label 3 is outside \[0, 2\)/);
  });

  it("and the process trains on afterwards", async () => {
    const result = await new Trainer(model, {
      trainData: head(train64, 8),
      tokenizer: tok,
      outputDir: dir("after-bad"),
      maxSteps: 1,
    }).train();
    expect(result).toMatchObject({ interrupted: false, globalStep: 1 });
  });
});

describe("Trainer options", () => {
  it("checks them in the constructor, naming the option", async () => {
    const model = await tiny();
    const base = { trainData: train64, tokenizer: tok, outputDir: dir("options") };
    const message = (options: unknown): string => {
      try {
        new Trainer(model, options as TrainerOptions);
      } catch (e) {
        expect((e as LtgBertError).code).toBe("LTGBERT_INVALID_ARGUMENT");
        return (e as LtgBertError).message;
      }
      return "no error";
    };
    expect(message({ ...base, maxLength: 129 })).toMatch(
      /options\.maxLength: expected at most the model's max_position_embeddings \(128\)/,
    );
    expect(message({ ...base, schedule: "step" })).toMatch(/options\.schedule/);
    expect(message({ ...base, batchSize: 0 })).toMatch(/options\.batchSize: expected an integer >= 1, got 0/);
    expect(message({ ...base, outputDir: "" })).toMatch(/options\.outputDir/);
    expect(message({ ...base, trainData: 3 })).toMatch(/options\.trainData/);
    expect(message({ ...base, metricForBestModel: "f1" })).toMatch(/options\.metricForBestModel/);
    expect(message({ ...base, warmupRatio: 2 })).toMatch(/options\.warmupRatio/);
    expect(() => new Trainer({} as LtgBertForSequenceClassification, base)).toThrow(
      /an LtgBertForSequenceClassification/,
    );
    model.dispose();
  });

  it("needs a tokenizer, and runs one train() at a time", async () => {
    const model = await tiny();
    await expect(new Trainer(model, { trainData: train64, outputDir: dir("no-tok") }).train()).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringMatching(/no tokenizer/),
    });
    const trainer = new Trainer(model, {
      trainData: head(train64, 8),
      tokenizer: tok,
      outputDir: dir("busy"),
      maxSteps: 1,
    });
    const running = trainer.train();
    await expect(trainer.train()).rejects.toMatchObject({ code: "LTGBERT_BUSY" });
    await running;
    expect(statSync(path.join(dir("busy"), "model.safetensors")).isFile()).toBe(true);
    model.dispose();
  });
});
