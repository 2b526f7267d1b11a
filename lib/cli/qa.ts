// `ltgbert finetune --task question-answering`, and `evaluate` and
// `predict` for a question-answering model: SQuAD JSON files (v1.1, v2.0),
// contexts cut into overlapping windows, scored by SQuAD's exact match and
// F1 (0–100), answers written one JSON object per question.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { LtgBertConfigInput } from "../config.js";
import { LtgBertError } from "../errors.js";
import type { LtgBertForQuestionAnswering } from "../model.js";
import type { QuestionAnsweringEvalMetrics, QuestionAnsweringMetricName } from "../train/trainer.js";
import { fixed, printJson, usageError, type CliIo } from "./common.js";
import type { FinetuneOptions } from "./finetune.js";
import { checkOutput, TrainingStop } from "./interrupt.js";
import { modelKind, resolveModelDir } from "./model-dir.js";
import { runtime } from "./runtime.js";
import { findSplits } from "./splits.js";

/** Whether a file is SQuAD JSON: one JSON object whose `data` lists articles with `paragraphs`. */
export async function isSquadFile(file: string): Promise<boolean> {
  if (!/\.json$/i.test(file)) return false;
  try {
    const json = JSON.parse(await readFile(file, "utf8")) as { data?: { paragraphs?: unknown }[] };
    return Array.isArray(json.data) && json.data.length > 0 && Array.isArray(json.data[0]?.paragraphs);
  } catch {
    return false;
  }
}

export function qaMetricsLine(m: QuestionAnsweringEvalMetrics): string {
  const loss = Number.isFinite(m.loss) ? `loss ${fixed(m.loss)}, ` : "";
  return `${loss}exact match ${fixed(m.exactMatch, 2)}, F1 ${fixed(m.f1, 2)} (${m.samples} questions, ${m.windows} windows)`;
}

async function loadForTraining(
  dir: string,
  options: FinetuneOptions,
): Promise<{ model: LtgBertForQuestionAnswering; start: "transferred" | "continued" | "random" }> {
  const { LtgBertForQuestionAnswering, Tokenizer } = await runtime();
  const { kind, config } = await modelKind(dir);
  if (kind === "sequence_classification" || kind === "token_classification")
    throw usageError(`--task question-answering: ${dir} is a ${kind.replace("_", " ")} model; start from a masked LM`);
  if (options.randomInit === true) {
    const model = await LtgBertForQuestionAnswering.fromConfig(config as LtgBertConfigInput, {
      seed: options.seed,
      device: options.device,
    });
    if (options.tokenizer === undefined) model.setTokenizer(await Tokenizer.fromPretrained(dir));
    return { model, start: "random" };
  }
  const model = await LtgBertForQuestionAnswering.fromPretrained(dir, {
    strict: kind === "question_answering",
    seed: options.seed,
    device: options.device,
    tokenizer: options.tokenizer === undefined,
  });
  if (model.loadReport !== null && model.loadReport.loaded.length === 0) {
    model.dispose();
    throw new LtgBertError("LTGBERT_BAD_CHECKPOINT", `${dir}: none of the checkpoint's tensors fit the model`);
  }
  return { model, start: kind === "question_answering" ? "continued" : "transferred" };
}

/** The options of `finetune` that mean nothing for question answering. */
const NOT_FOR_QA = ["textColumn", "textPairColumn", "labelColumn", "labels", "numLabels", "head", "tagColumn"] as const;

export async function finetuneQuestionAnswering(options: FinetuneOptions, io: CliIo): Promise<void> {
  const { applyThreads, Trainer, Tokenizer, readSquad } = await runtime();
  applyThreads(options.threads);
  const dir = resolveModelDir(options.model);
  if (path.resolve(options.out) === path.resolve(dir))
    throw usageError(`--out: ${options.out} is the model directory; write the fine-tuned model elsewhere`);
  for (const flag of NOT_FOR_QA) {
    if (options[flag] !== undefined)
      throw usageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: not for question answering`);
  }
  const metric = options.metric === "accuracy" ? "f1" : (options.metric as string);
  if (!["f1", "exactMatch", "loss"].includes(metric))
    throw usageError(`--metric: question answering picks by f1, exactMatch or loss, got ${metric}`);
  const splits = await findSplits(options);
  await checkOutput(options.out, options.resume === true);
  const train = await readSquad(splits.train);
  const dev = splits.dev === null ? null : await readSquad(splits.dev);

  const { model, start } = await loadForTraining(dir, options);
  const stop = new TrainingStop(io);
  try {
    if (options.tokenizer !== undefined) model.setTokenizer(await Tokenizer.fromPretrained(options.tokenizer));
    if (model.tokenizer === null) {
      throw new LtgBertError(
        "LTGBERT_FILE_NOT_FOUND",
        `${path.join(dir, "tokenizer.json")}: no such file; the model directory has no tokenizer (name one with --tokenizer <dir>)`,
      );
    }
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
      docStride: options.docStride,
      seed: options.seed,
      evalEvery: options.evalEvery,
      saveEvery: options.saveEvery,
      saveTotalLimit: options.saveTotalLimit,
      metricForBestModel: metric as QuestionAnsweringMetricName,
      loadBestModelAtEnd: options.loadBest === true,
      signal: stop.signal,
      progress: bar,
    });
    if (!bar) {
      trainer.on("evaluate", ({ step, epoch, metrics }) =>
        io.stderr.write(`step ${step} (epoch ${epoch.toFixed(2)}): dev ${qaMetricsLine(metrics)}\n`),
      );
    }
    if (dev === null && !options.json)
      io.stderr.write("no dev split: training without evaluation (name one with --dev)\n");
    stop.listen();
    const result = await trainer.train(options.resume ? { resumeFrom: true } : {});
    const summary = {
      task: "question-answering",
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
        ? `masked LM ${dir} with a new question-answering head`
        : start === "random"
          ? `random weights in ${dir}'s architecture`
          : dir;
    io.stdout.write(
      `fine-tuned ${from} on ${train.file} (${train.examples.length} questions): ${result.globalStep} steps, ${fixed(result.epochs, 2)} epochs, train loss ${fixed(result.trainLoss)}\n`,
    );
    if (result.metrics !== undefined && dev !== null)
      io.stdout.write(`dev ${dev.file} at step ${result.globalStep}: ${qaMetricsLine(result.metrics)}\n`);
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

async function loadQa(
  dir: string,
  options: { device: string; tokenizer?: string },
): Promise<LtgBertForQuestionAnswering> {
  const { LtgBertForQuestionAnswering, Tokenizer } = await runtime();
  const model = await LtgBertForQuestionAnswering.fromPretrained(dir, {
    device: options.device,
    tokenizer: options.tokenizer === undefined,
  });
  if (options.tokenizer !== undefined) model.setTokenizer(await Tokenizer.fromPretrained(options.tokenizer));
  if (model.tokenizer === null) {
    model.dispose();
    throw new LtgBertError(
      "LTGBERT_FILE_NOT_FOUND",
      `${path.join(dir, "tokenizer.json")}: no such file; the model directory has no tokenizer (name one with --tokenizer <dir>)`,
    );
  }
  return model;
}

export async function evaluateQuestionAnswering(
  dir: string,
  file: string,
  options: {
    batchSize: number;
    maxLength?: number;
    docStride?: number;
    tokenizer?: string;
    device: string;
    json?: boolean;
  },
  io: CliIo,
): Promise<void> {
  const { readSquad, Trainer } = await runtime();
  const dataset = await readSquad(file);
  const model = await loadQa(dir, options);
  try {
    const trainer = new Trainer(model, {
      trainData: dataset,
      outputDir: dir,
      evalBatchSize: options.batchSize,
      maxLength: options.maxLength,
      docStride: options.docStride,
      progress: false,
    });
    const m = await trainer.evaluate(dataset);
    if (options.json) {
      printJson(io, { model: dir, data: file, task: "question-answering", examples: m.samples, metrics: m });
      return;
    }
    io.stdout.write(`${dir} on ${file}\n  ${qaMetricsLine(m)}\n`);
  } finally {
    model.dispose();
  }
}

export async function predictQuestionAnswering(
  dir: string,
  args: string[],
  options: {
    file?: string;
    output?: string;
    batchSize: number;
    maxLength?: number;
    docStride?: number;
    tokenizer?: string;
    device: string;
    json?: boolean;
  },
  io: CliIo,
): Promise<void> {
  const { readSquad } = await runtime();
  if (options.file === undefined || args.length > 0)
    throw usageError("--file: a question-answering model answers the questions of a SQuAD JSON file (--file <file>)");
  const dataset = await readSquad(options.file);
  const model = await loadQa(dir, options);
  try {
    const answers = await model.answer(dataset.examples, {
      batchSize: options.batchSize,
      maxLength: options.maxLength,
      docStride: options.docStride,
      allowImpossible: dataset.examples.some((e) => e.isImpossible),
    });
    const records = dataset.examples.map((e, i) => ({ id: e.id, answer: answers[i].text }));
    if (options.output !== undefined) {
      await writeFile(options.output, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
      if (!options.json) io.stderr.write(`wrote ${records.length} answers to ${options.output}\n`);
    }
    if (options.json) {
      printJson(io, {
        model: dir,
        task: "question-answering",
        ...(options.output === undefined ? {} : { output: options.output }),
        predictions: dataset.examples.map((e, i) => ({ id: e.id, ...answers[i] })),
      });
      return;
    }
    if (options.output === undefined) for (const r of records) io.stdout.write(`${r.id}\t${r.answer}\n`);
  } finally {
    model.dispose();
  }
}
