// `ltgbert finetune --task multiple-choice`, and `evaluate` and `predict`
// for a multiple-choice model: ARC's JSONL (or CSV) questions, accuracy
// beside the chance level of the same questions, and the chosen key per
// question as the data writes it.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { LtgBertConfigInput } from "../config.js";
import { LtgBertError } from "../errors.js";
import type { LtgBertForMultipleChoice } from "../model.js";
import type { MultipleChoiceEvalMetrics, MultipleChoiceMetricName } from "../train/trainer.js";
import { fixed, printJson, usageError, type CliIo } from "./common.js";
import type { FinetuneOptions } from "./finetune.js";
import { checkOutput, TrainingStop } from "./interrupt.js";
import { modelKind, resolveModelDir } from "./model-dir.js";
import { runtime } from "./runtime.js";
import { findSplits } from "./splits.js";

/** Whether a file is multiple-choice JSON lines: its first line has `question.choices` (ARC's layout). */
export async function isChoiceFile(file: string): Promise<boolean> {
  if (!/\.(jsonl|ndjson)$/i.test(file)) return false;
  try {
    const first = (await readFile(file, "utf8")).split("\n").find((l) => l.trim() !== "");
    const row = JSON.parse(first ?? "") as { question?: { choices?: unknown } };
    return Array.isArray(row.question?.choices);
  } catch {
    return false;
  }
}

export function choiceMetricsLine(m: MultipleChoiceEvalMetrics): string {
  return `loss ${fixed(m.loss)}, accuracy ${fixed(m.accuracy)} (chance ${fixed(m.chance)}, ${m.samples} questions)`;
}

const NOT_FOR_CHOICE = [
  "textColumn",
  "textPairColumn",
  "labelColumn",
  "labels",
  "numLabels",
  "head",
  "tagColumn",
  "docStride",
] as const;

async function loadForTraining(dir: string, options: FinetuneOptions) {
  const { LtgBertForMultipleChoice, Tokenizer } = await runtime();
  const { kind, config } = await modelKind(dir);
  if (kind !== "masked_lm" && kind !== "multiple_choice")
    throw usageError(`--task multiple-choice: ${dir} is a ${kind.replace("_", " ")} model; start from a masked LM`);
  if (options.randomInit === true) {
    const model = await LtgBertForMultipleChoice.fromConfig(config as LtgBertConfigInput, {
      seed: options.seed,
      device: options.device,
    });
    if (options.tokenizer === undefined) model.setTokenizer(await Tokenizer.fromPretrained(dir));
    return { model, start: "random" as const };
  }
  const model = await LtgBertForMultipleChoice.fromPretrained(dir, {
    strict: kind === "multiple_choice",
    seed: options.seed,
    device: options.device,
    tokenizer: options.tokenizer === undefined,
  });
  if (model.loadReport !== null && model.loadReport.loaded.length === 0) {
    model.dispose();
    throw new LtgBertError("LTGBERT_BAD_CHECKPOINT", `${dir}: none of the checkpoint's tensors fit the model`);
  }
  return { model, start: kind === "multiple_choice" ? ("continued" as const) : ("transferred" as const) };
}

function requireTokenizer(model: LtgBertForMultipleChoice, dir: string): void {
  if (model.tokenizer === null) {
    throw new LtgBertError(
      "LTGBERT_FILE_NOT_FOUND",
      `${path.join(dir, "tokenizer.json")}: no such file; the model directory has no tokenizer (name one with --tokenizer <dir>)`,
    );
  }
}

export async function finetuneMultipleChoice(options: FinetuneOptions, io: CliIo): Promise<void> {
  const { applyThreads, Trainer, Tokenizer, readMultipleChoice } = await runtime();
  applyThreads(options.threads);
  const dir = resolveModelDir(options.model);
  if (path.resolve(options.out) === path.resolve(dir))
    throw usageError(`--out: ${options.out} is the model directory; write the fine-tuned model elsewhere`);
  for (const flag of NOT_FOR_CHOICE) {
    if (options[flag] !== undefined)
      throw usageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: not for multiple choice`);
  }
  const metric = options.metric as string;
  if (!["accuracy", "loss"].includes(metric))
    throw usageError(`--metric: multiple choice picks by accuracy or loss, got ${metric}`);
  const splits = await findSplits(options);
  await checkOutput(options.out, options.resume === true);
  const train = await readMultipleChoice(splits.train);
  const dev = splits.dev === null ? null : await readMultipleChoice(splits.dev);
  const { model, start } = await loadForTraining(dir, options);
  const stop = new TrainingStop(io);
  try {
    if (options.tokenizer !== undefined) model.setTokenizer(await Tokenizer.fromPretrained(options.tokenizer));
    requireTokenizer(model, dir);
    const bar = io.stderr.isTTY === true;
    const trainer = new Trainer(model, {
      trainData: train,
      ...(dev === null ? {} : { evalData: dev }),
      outputDir: options.out,
      epochs: options.epochs,
      maxSteps: options.maxSteps,
      batchSize: options.batchSize,
      learningRate: options.lr,
      warmupRatio: options.warmupRatio,
      weightDecay: options.weightDecay,
      maxLength: options.maxLength,
      seed: options.seed,
      evalEvery: options.evalEvery,
      saveEvery: options.saveEvery,
      saveTotalLimit: options.saveTotalLimit,
      metricForBestModel: metric as MultipleChoiceMetricName,
      loadBestModelAtEnd: options.loadBest === true,
      signal: stop.signal,
      progress: bar,
    });
    if (!bar) {
      trainer.on("evaluate", ({ step, epoch, metrics }) =>
        io.stderr.write(`step ${step} (epoch ${epoch.toFixed(2)}): dev ${choiceMetricsLine(metrics)}\n`),
      );
    }
    if (dev === null && !options.json)
      io.stderr.write("no dev split: training without evaluation (name one with --dev)\n");
    stop.listen();
    const result = await trainer.train(options.resume ? { resumeFrom: true } : {});
    const summary = {
      task: "multiple-choice",
      model: dir,
      transferred: start === "transferred",
      randomInit: start === "random",
      train: { file: train.file, examples: train.examples.length },
      dev: dev === null ? null : { file: dev.file, examples: dev.examples.length },
      output: options.out,
      resumed: options.resume === true,
    };
    if (result.interrupted) throw stop.exit(result, options.out, options.json ? summary : null);
    if (options.json) {
      printJson(io, {
        ...summary,
        interrupted: false,
        steps: result.globalStep,
        epochs: result.epochs,
        trainLoss: result.trainLoss,
        metrics: result.metrics ?? null,
        bestCheckpoint: result.bestCheckpoint ?? null,
      });
      return;
    }
    const from =
      start === "transferred"
        ? `masked LM ${dir} with a new multiple-choice head`
        : start === "random"
          ? `random weights in ${dir}'s architecture`
          : dir;
    io.stdout.write(
      `fine-tuned ${from} on ${train.file} (${train.examples.length} questions): ${result.globalStep} steps, ${fixed(result.epochs, 2)} epochs, train loss ${fixed(result.trainLoss)}\n`,
    );
    if (result.metrics !== undefined && dev !== null)
      io.stdout.write(`dev ${dev.file} at step ${result.globalStep}: ${choiceMetricsLine(result.metrics)}\n`);
    if (result.bestCheckpoint !== undefined) {
      const saved = options.loadBest ? " (its weights are the saved model's)" : "";
      io.stdout.write(`best checkpoint by ${metric}: ${result.bestCheckpoint}${saved}\n`);
    }
    io.stdout.write(`saved to ${options.out}\n`);
  } finally {
    stop.release();
    model.dispose();
  }
}

async function loadChoiceModel(dir: string, options: { device: string; tokenizer?: string }) {
  const { LtgBertForMultipleChoice, Tokenizer } = await runtime();
  const model = await LtgBertForMultipleChoice.fromPretrained(dir, {
    device: options.device,
    tokenizer: options.tokenizer === undefined,
  });
  try {
    if (options.tokenizer !== undefined) model.setTokenizer(await Tokenizer.fromPretrained(options.tokenizer));
    requireTokenizer(model, dir);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

export async function evaluateMultipleChoice(
  dir: string,
  file: string,
  options: { batchSize: number; maxLength?: number; tokenizer?: string; device: string; json?: boolean },
  io: CliIo,
): Promise<void> {
  const { readMultipleChoice, Trainer } = await runtime();
  const dataset = await readMultipleChoice(file);
  const model = await loadChoiceModel(dir, options);
  try {
    const trainer = new Trainer(model, {
      trainData: dataset,
      outputDir: dir,
      evalBatchSize: options.batchSize,
      maxLength: options.maxLength,
      progress: false,
    });
    const m = await trainer.evaluate(dataset);
    if (options.json) {
      printJson(io, { model: dir, data: file, task: "multiple-choice", examples: m.samples, metrics: m });
      return;
    }
    io.stdout.write(`${dir} on ${file}\n  ${choiceMetricsLine(m)}\n`);
  } finally {
    model.dispose();
  }
}

export async function predictMultipleChoice(
  dir: string,
  args: string[],
  options: { file?: string; output?: string; batchSize: number; tokenizer?: string; device: string; json?: boolean },
  io: CliIo,
): Promise<void> {
  const { readMultipleChoice } = await runtime();
  if (options.file === undefined || args.length > 0)
    throw usageError("--file: a multiple-choice model answers the questions of a data file (--file <file>)");
  const dataset = await readMultipleChoice(options.file);
  const model = await loadChoiceModel(dir, options);
  try {
    const ranked = await model.choose(dataset.examples, { batchSize: options.batchSize });
    const records = dataset.examples.map((e, i) => ({ id: e.id, choice: e.choiceLabels[ranked[i][0].index] }));
    if (options.output !== undefined) {
      await writeFile(options.output, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
      if (!options.json) io.stderr.write(`wrote ${records.length} choices to ${options.output}\n`);
    }
    if (options.json) {
      printJson(io, {
        model: dir,
        task: "multiple-choice",
        ...(options.output === undefined ? {} : { output: options.output }),
        predictions: dataset.examples.map((e, i) => ({
          id: e.id,
          choice: records[i].choice,
          ranking: ranked[i].map((r) => ({ key: e.choiceLabels[r.index], choice: r.choice, score: r.score })),
        })),
      });
      return;
    }
    if (options.output === undefined) for (const r of records) io.stdout.write(`${r.id}\t${r.choice}\n`);
  } finally {
    model.dispose();
  }
}
