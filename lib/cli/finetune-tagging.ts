// `ltgbert finetune --task token-classification`: a tagger (a masked LM gets
// a new token-classification head, a tagger goes on training, or random
// weights in the model's architecture) fine-tuned on CoNLL-U or word/tag
// files, evaluated by word accuracy (and entity F1 for BIO tags), saved as
// a directory Python's LtgBertForTokenClassification loads.
import path from "node:path";
import type { LtgBertConfigInput } from "../config.js";
import { LtgBertError } from "../errors.js";
import type { LtgBertForTokenClassification } from "../model.js";
import type { TaggingDataset, ReadConlluOptions } from "../tasks/readers.js";
import type { TaggingEvalMetrics, TaggingMetricName } from "../train/trainer.js";
import { fixed, printJson, usageError, type CliIo } from "./common.js";
import type { FinetuneOptions } from "./finetune.js";
import { checkOutput, TrainingStop } from "./interrupt.js";
import { modelKind, resolveModelDir } from "./model-dir.js";
import { runtime } from "./runtime.js";
import { findSplits } from "./splits.js";

/** The tag column options as readConllu takes them. */
export function conlluOptionsOf(options: { tagColumn?: string }): ReadConlluOptions {
  const column = options.tagColumn;
  if (column === undefined) return {};
  if (/^misc:/i.test(column)) return { miscKey: column.slice(5), miscDefault: "O" };
  return { column: /^\d+$/.test(column) ? Number(column) : (column as ReadConlluOptions["column"]) };
}

export function taggingMetricsLine(m: TaggingEvalMetrics): string {
  const entities =
    m.f1 === undefined ? "" : `, entity P ${fixed(m.precision!)} R ${fixed(m.recall!)} F1 ${fixed(m.f1)}`;
  return `loss ${fixed(m.loss)}, accuracy ${fixed(m.accuracy)}${entities} (${m.words} words)`;
}

/** The tagger to train: a masked LM's encoder under a new head, a tagger as it is, or random weights. */
async function loadTagger(
  dir: string,
  train: TaggingDataset,
  options: FinetuneOptions,
): Promise<{ model: LtgBertForTokenClassification; start: "transferred" | "continued" | "random" }> {
  const { LtgBertForTokenClassification, Tokenizer } = await runtime();
  const { kind, config } = await modelKind(dir);
  if (kind === "sequence_classification")
    throw usageError(
      `--task token-classification: ${dir} is a sequence classifier; start from a masked LM or a tagger`,
    );
  if (options.head !== undefined) throw usageError("--head: a tagger's head is the token classifier's own");
  const numLabels = options.numLabels ?? train.tagNames.length;
  if (kind === "token_classification" && options.randomInit !== true) {
    const model = await LtgBertForTokenClassification.fromPretrained(dir, {
      device: options.device,
      tokenizer: options.tokenizer === undefined,
    });
    return { model, start: "continued" };
  }
  if (options.randomInit === true) {
    const model = await LtgBertForTokenClassification.fromConfig(config as LtgBertConfigInput, {
      numLabels,
      seed: options.seed,
      device: options.device,
    });
    if (options.tokenizer === undefined) model.setTokenizer(await Tokenizer.fromPretrained(dir));
    return { model, start: "random" };
  }
  const model = await LtgBertForTokenClassification.fromPretrained(dir, {
    numLabels,
    strict: false,
    seed: options.seed,
    device: options.device,
    tokenizer: options.tokenizer === undefined,
  });
  if (model.loadReport!.loaded.length === 0) {
    model.dispose();
    throw new LtgBertError("LTGBERT_BAD_CHECKPOINT", `${dir}: none of the checkpoint's tensors fit the model`);
  }
  return { model, start: "transferred" };
}

export async function finetuneTagging(options: FinetuneOptions, io: CliIo): Promise<void> {
  const { applyThreads, Trainer, Tokenizer, readTaggingFile } = await runtime();
  applyThreads(options.threads);
  const dir = resolveModelDir(options.model);
  if (path.resolve(options.out) === path.resolve(dir))
    throw usageError(`--out: ${options.out} is the model directory; write the fine-tuned model elsewhere`);
  for (const flag of ["textColumn", "textPairColumn", "labelColumn", "labels", "docStride"] as const) {
    if (options[flag] !== undefined)
      throw usageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: not for token classification`);
  }
  const metric = options.metric as string;
  if (!["accuracy", "loss", "f1"].includes(metric))
    throw usageError(`--metric: token classification picks by accuracy, loss or f1, got ${metric}`);
  const splits = await findSplits(options);
  await checkOutput(options.out, options.resume === true);
  const readOptions = conlluOptionsOf(options);
  const train = await readTaggingFile(splits.train, readOptions);
  const dev = splits.dev === null ? null : await readTaggingFile(splits.dev, readOptions);

  const { model, start } = await loadTagger(dir, train, options);
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
      readOptions,
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
      metricForBestModel: metric as TaggingMetricName,
      loadBestModelAtEnd: options.loadBest === true,
      signal: stop.signal,
      progress: bar,
    });
    if (!bar) {
      trainer.on("evaluate", ({ step, epoch, metrics }) =>
        io.stderr.write(`step ${step} (epoch ${epoch.toFixed(2)}): dev ${taggingMetricsLine(metrics)}\n`),
      );
    }
    if (dev === null && !options.json)
      io.stderr.write("no dev split: training without evaluation (name one with --dev)\n");

    stop.listen();
    const result = await trainer.train(options.resume ? { resumeFrom: true } : {});
    const summary = {
      task: "token-classification",
      model: dir,
      transferred: start === "transferred",
      randomInit: start === "random",
      numLabels: model.numLabels,
      labels: model.labelNames,
      train: { file: train.file, examples: train.sentences.length, words: train.numTagged },
      dev: dev === null ? null : { file: dev.file, examples: dev.sentences.length, words: dev.numTagged },
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
        ? `masked LM ${dir} with a new token-classification head`
        : start === "random"
          ? `random weights in ${dir}'s architecture`
          : dir;
    io.stdout.write(
      `fine-tuned ${from} on ${train.file} (${train.sentences.length} sentences, ${train.numTagged} tagged words): ${result.globalStep} steps, ${fixed(result.epochs, 2)} epochs, train loss ${fixed(result.trainLoss)}\n`,
    );
    if (result.metrics !== undefined && dev !== null)
      io.stdout.write(`dev ${dev.file} at step ${result.globalStep}: ${taggingMetricsLine(result.metrics)}\n`);
    if (result.bestCheckpoint !== undefined) {
      const saved = options.loadBest ? " (its weights are the saved model's)" : "";
      io.stdout.write(`best checkpoint by ${metric}: ${result.bestCheckpoint}${saved}\n`);
    }
    io.stdout.write(`saved to ${options.out} (${model.numLabels} tags: ${model.labelNames.join(", ")})\n`);
  } finally {
    stop.release();
    model.dispose();
  }
}
