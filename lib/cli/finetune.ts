// `ltgbert finetune`: a model directory (a masked LM gets a new head, a
// classifier goes on training) fine-tuned on a train split, evaluated on a
// dev split, written as a directory Python loads back. Ctrl-C stops it
// after the step in flight with a checkpoint that --resume continues.
import type { Command } from "commander";
import path from "node:path";
import { readDataset, type Dataset } from "../data.js";
import type { LtgBertConfigInput } from "../config.js";
import { LtgBertError } from "../errors.js";
import type { LtgBertForSequenceClassification } from "../model.js";
import type { EvalMetrics, MetricName } from "../train/trainer.js";
import {
  batchSizeOption,
  choiceOption,
  type CliContext,
  type CliIo,
  type ColumnOptions,
  columnOptions,
  deviceOption,
  fixed,
  jsonOption,
  maxLengthOption,
  MODEL_DIR_HELP,
  nonNegativeInteger,
  optimizerOptions,
  positiveInteger,
  printJson,
  readOptionsOf,
  resumeOption,
  threadsOption,
  tokenizerOption,
  usageError,
} from "./common.js";
import { checkOutput, TrainingStop } from "./interrupt.js";
import { currentGroup, distributedOptions, runDistributed, type DistributedCliOptions } from "./distributed.js";
import { modelKind, resolveModelDir, type ModelKind } from "./model-dir.js";
import { runtime } from "./runtime.js";
import { DEV_NAMES, findSplits, splitNames, TRAIN_NAMES } from "./splits.js";

export interface FinetuneOptions extends ColumnOptions, DistributedCliOptions {
  model: string;
  data?: string;
  train?: string;
  dev?: string;
  out: string;
  epochs: number;
  maxSteps?: number;
  batchSize: number;
  lr: number;
  warmupRatio: number;
  weightDecay: number;
  maxLength?: number;
  seed: number;
  evalEvery?: number;
  saveEvery?: number;
  saveTotalLimit?: number;
  metric: MetricName;
  loadBest?: boolean;
  numLabels?: number;
  head?: "linear" | "mlp";
  randomInit?: boolean;
  labels?: string;
  tokenizer?: string;
  threads?: number;
  device: string;
  resume?: boolean;
  json?: boolean;
  task?: FinetuneTask;
  tagColumn?: string;
  docStride?: number;
}

/** What `finetune` trains. */
export type FinetuneTask =
  "sequence-classification" | "token-classification" | "question-answering" | "multiple-choice" | "regression";

/**
 * --task, or what the data and model say: CoNLL-U training data or a
 * tagger to start from mean token classification; anything else sequence
 * classification (a word/tag file needs --task, as it reads as a TSV too).
 */
async function taskOf(options: FinetuneOptions, dir: string): Promise<FinetuneTask> {
  if (options.task !== undefined) return options.task;
  const splits = await findSplits(options);
  if (/\.conllu$/i.test(splits.train)) return "token-classification";
  const { isSquadFile } = await import("./qa.js");
  if (await isSquadFile(splits.train)) return "question-answering";
  const { isChoiceFile } = await import("./choice.js");
  if (await isChoiceFile(splits.train)) return "multiple-choice";
  const { isRegressionFile } = await import("./regression.js");
  if (await isRegressionFile(splits.train)) return "regression";
  const { kind } = await modelKind(dir);
  if (kind === "token_classification") return "token-classification";
  if (kind === "multiple_choice") return "multiple-choice";
  if (kind === "regression") return "regression";
  return kind === "question_answering" ? "question-answering" : "sequence-classification";
}

/** How the classifier's weights were come by. */
type Start = "transferred" | "continued" | "random";

/**
 * The classifier to train: a masked LM's encoder under a new head, a
 * classifier as it is, or (`--random-init`) the model's architecture and
 * tokenizer with fresh weights.
 */
async function loadModel(
  dir: string,
  train: Dataset,
  options: FinetuneOptions,
): Promise<{ model: LtgBertForSequenceClassification; start: Start }> {
  const { LtgBertForSequenceClassification } = await runtime();
  const { kind, config } = await modelKind(dir);
  const loadTokenizer = options.tokenizer === undefined;
  if (options.randomInit === true)
    return { model: await randomModel(dir, kind, config, train, options), start: "random" };
  if (kind === "token_classification")
    throw usageError(`${dir} is a tagger (token classification); fine-tune it with --task token-classification`);
  if (kind === "question_answering")
    throw usageError(`${dir} is a question-answering model; fine-tune it with --task question-answering`);
  if (kind === "multiple_choice")
    throw usageError(`${dir} is a multiple-choice model; fine-tune it with --task multiple-choice`);
  if (kind === "regression") throw usageError(`${dir} is a regression model; fine-tune it with --task regression`);
  if (kind === "sequence_classification") {
    if (options.head !== undefined)
      throw usageError(`--head: ${dir} is a classifier already; --head applies to a masked LM`);
    const model = await LtgBertForSequenceClassification.fromPretrained(dir, {
      device: options.device,
      tokenizer: loadTokenizer,
    });
    if (options.numLabels !== undefined && options.numLabels !== model.numLabels) {
      model.dispose();
      throw usageError(`--num-labels: ${dir} is a classifier with ${model.numLabels} labels, got ${options.numLabels}`);
    }
    return { model, start: "continued" };
  }
  const numLabels = newHeadLabels(train, options);
  const model = await LtgBertForSequenceClassification.fromPretrained(dir, {
    numLabels,
    strict: false,
    seed: options.seed,
    device: options.device,
    tokenizer: loadTokenizer,
    config: { classifier_head: options.head ?? "linear" },
  });
  if (model.loadReport!.loaded.length === 0) {
    model.dispose();
    throw new LtgBertError("LTGBERT_BAD_CHECKPOINT", `${dir}: none of the checkpoint's tensors fit the model`);
  }
  return { model, start: "transferred" };
}

/** Labels of a new head: --num-labels, else the training data's. */
function newHeadLabels(train: Dataset, options: FinetuneOptions): number {
  const numLabels = options.numLabels ?? train.labelNames.length;
  if (numLabels < 2) {
    throw new LtgBertError(
      "LTGBERT_BAD_DATA",
      `${train.file}: every example has the label ${JSON.stringify(train.labelNames[0])}; a classifier needs at least 2 (say how many with --num-labels)`,
    );
  }
  return numLabels;
}

/**
 * The baseline that a transfer is measured against: the same config.json
 * and tokenizer, every weight initialised afresh from --seed. A classifier's
 * head kind and label count carry over unless --head or --num-labels say
 * otherwise.
 */
async function randomModel(
  dir: string,
  kind: ModelKind,
  config: Record<string, unknown>,
  train: Dataset,
  options: FinetuneOptions,
): Promise<LtgBertForSequenceClassification> {
  const { LtgBertForSequenceClassification, Tokenizer, numLabelsOf } = await runtime();
  const classifier = kind === "sequence_classification";
  const numLabels =
    classifier && options.numLabels === undefined
      ? numLabelsOf(config as LtgBertConfigInput)
      : newHeadLabels(train, options);
  const head = options.head ?? (classifier ? undefined : "linear");
  const model = await LtgBertForSequenceClassification.fromConfig(config as LtgBertConfigInput, {
    numLabels,
    seed: options.seed,
    device: options.device,
    ...(head === undefined ? {} : { config: { classifier_head: head } }),
  });
  if (options.tokenizer === undefined) {
    try {
      model.tokenizer = await Tokenizer.fromPretrained(dir);
    } catch (error) {
      if (!(error instanceof LtgBertError && error.code === "LTGBERT_FILE_NOT_FOUND")) {
        model.dispose();
        throw error;
      }
    }
  }
  return model;
}

/** --labels: names for the label ids of data whose labels are ids (0, 1, ...). */
function nameLabels(model: LtgBertForSequenceClassification, train: Dataset, list: string): void {
  const names = list.split(",").map((name) => name.trim());
  if (train.labelNames.some((name, i) => name !== String(i)))
    throw usageError(`--labels: ${train.file} names its labels already (${train.labelNames.join(", ")})`);
  if (names.length !== model.numLabels || names.some((n) => n === "") || new Set(names).size !== names.length)
    throw usageError(`--labels: expected ${model.numLabels} distinct comma-separated names, got "${list}"`);
  model.setLabelNames(names);
}

function metricsLine(metrics: EvalMetrics): string {
  return `loss ${fixed(metrics.loss)}, accuracy ${fixed(metrics.accuracy)}, macro-F1 ${fixed(metrics.macroF1)}, MCC ${fixed(metrics.mcc)}`;
}

export async function finetune(options: FinetuneOptions, io: CliIo): Promise<void> {
  const dir = resolveModelDir(options.model);
  const task = await taskOf(options, dir);
  if (task !== "sequence-classification") {
    const { finetuneTask } = await import("./task-run.js");
    const spec =
      task === "token-classification"
        ? (await import("./tagging.js")).TAGGING
        : task === "question-answering"
          ? (await import("./qa.js")).QUESTION_ANSWERING
          : task === "regression"
            ? (await import("./regression.js")).REGRESSION
            : (await import("./choice.js")).MULTIPLE_CHOICE;
    return finetuneTask(spec as Parameters<typeof finetuneTask>[0], options, io);
  }
  if (options.docStride !== undefined) throw usageError("--doc-stride: for question answering only");
  if (options.tagColumn !== undefined) throw usageError("--tag-column: for token classification only");
  if ((options.metric as string) === "f1")
    throw usageError("--metric: f1 (entities) is for token classification; a classifier has macroF1");
  const { applyThreads, attachTokenizer, Trainer } = await runtime();
  applyThreads(options.threads);
  if (path.resolve(options.out) === path.resolve(dir))
    throw usageError(`--out: ${options.out} is the model directory; write the fine-tuned model elsewhere`);
  const splits = await findSplits(options);
  await checkOutput(options.out, options.resume === true);
  const readOptions = readOptionsOf(options);
  const train = await readDataset(splits.train, readOptions);
  const dev = splits.dev === null ? null : await readDataset(splits.dev, readOptions);

  const { model, start } = await loadModel(dir, train, options);
  const stop = new TrainingStop(io);
  try {
    if (options.labels !== undefined) nameLabels(model, train, options.labels);
    await attachTokenizer(model, dir, options.tokenizer);
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
      metricForBestModel: options.metric,
      loadBestModelAtEnd: options.loadBest === true,
      signal: stop.signal,
      processGroup: currentGroup(),
      progress: bar,
    });
    // Without a bar (stderr is a file or a pipe) each evaluation is a line.
    if (!bar) {
      trainer.on("evaluate", ({ step, epoch, metrics }) =>
        io.stderr.write(`step ${step} (epoch ${epoch.toFixed(2)}): dev ${metricsLine(metrics)}\n`),
      );
    }
    if (dev === null && !options.json)
      io.stderr.write("no dev split: training without evaluation (name one with --dev)\n");

    stop.listen();
    const result = await trainer.train(options.resume ? { resumeFrom: true } : {});

    const head = model.config.classifier_head ?? "linear";
    const summary = {
      model: dir,
      transferred: start === "transferred",
      randomInit: start === "random",
      head,
      numLabels: model.numLabels,
      labels: model.labelNames,
      train: { file: train.file, examples: train.size },
      dev: dev === null ? null : { file: dev.file, examples: dev.size },
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
        metrics:
          result.metrics === undefined
            ? null
            : {
                loss: result.metrics.loss,
                accuracy: result.metrics.accuracy,
                macroF1: result.metrics.macroF1,
                mcc: result.metrics.mcc,
                examples: result.metrics.samples,
              },
        bestCheckpoint: result.bestCheckpoint ?? null,
      });
      return;
    }
    const from =
      start === "transferred"
        ? `masked LM ${dir} with a new ${head} head`
        : start === "random"
          ? `random weights in ${dir}'s architecture (${head} head)`
          : dir;
    io.stdout.write(
      `fine-tuned ${from} on ${train.file} (${train.size} examples): ${result.globalStep} steps, ${fixed(result.epochs, 2)} epochs, train loss ${fixed(result.trainLoss)}\n`,
    );
    if (result.metrics !== undefined && dev !== null) {
      io.stdout.write(
        `dev ${dev.file} (${dev.size} examples) at step ${result.globalStep}: ${metricsLine(result.metrics)}\n`,
      );
    }
    if (result.bestCheckpoint !== undefined) {
      const saved = options.loadBest ? " (its weights are the saved model's)" : "";
      io.stdout.write(`best checkpoint by ${options.metric}: ${result.bestCheckpoint}${saved}\n`);
    }
    io.stdout.write(`saved to ${options.out} (labels: ${model.labelNames.join(", ")})\n`);
  } finally {
    stop.release();
    model.dispose();
  }
}

/** Declares `ltgbert finetune`: its arguments and options, and the action that runs finetune. */
export function register(program: Command, context: CliContext): Command {
  const command = program
    .command("finetune")
    .description(
      "fine-tune a classifier, a tagger, a question-answering or a multiple-choice model (a masked LM gets a new head) on a train split, evaluate it on a dev split, save it for Python and Node",
    )
    .option("--model <dir>", `the model to start from: ${MODEL_DIR_HELP}`, "default")
    .option(
      "--data <path>",
      `a training file (.tsv, .csv or .jsonl), or a directory holding ${splitNames(TRAIN_NAMES)} and ${splitNames(DEV_NAMES)}`,
    )
    .option("--train <file>", "training file (instead of the --data directory's)")
    .option("--dev <file>", "dev file, evaluated during and after training (instead of the --data directory's)")
    .requiredOption("--out <dir>", "output directory: checkpoints, train_log.jsonl, and the final model")
    .option("--epochs <n>", "passes over the training data", positiveInteger, 3)
    .option("--max-steps <n>", "optimizer steps in all (overrides --epochs)", positiveInteger);
  optimizerOptions(batchSizeOption(command, 16, "examples"), {
    lr: 5e-5,
    lrText: "5e-5",
    warmupRatio: 0,
    weightDecay: 0,
  });
  maxLengthOption(command)
    .option("--seed <n>", "seed of the data order, dropout and a new head", nonNegativeInteger, 42)
    .option("--eval-every <n>", "evaluate every n steps (default: at each epoch's end)", positiveInteger)
    .option("--save-every <n>", "write a checkpoint every n steps (default: at each epoch's end)", positiveInteger)
    .option("--save-total-limit <n>", "keep at most n checkpoints, never the best (default: all)", positiveInteger)
    .addOption(
      choiceOption(
        "--metric <name>",
        "dev metric that picks the best checkpoint (loss: lower is better; f1: entity F1 of BIO tags or SQuAD's F1; pearson, spearman: regression)",
        ["accuracy", "macroF1", "mcc", "loss", "f1", "exactMatch", "pearson", "spearman"],
        "accuracy",
      ),
    )
    .option("--load-best", "save the best checkpoint's weights as the final model, not the last step's")
    .addOption(
      choiceOption(
        "--task <name>",
        "what to train (default: token-classification for .conllu data or a tagger, question-answering for SQuAD JSON or a QA model, multiple-choice for ARC-style JSONL or a multiple-choice model, regression for a TSV with a score column (STS-B) or a regression model, else sequence-classification)",
        ["sequence-classification", "token-classification", "question-answering", "multiple-choice", "regression"],
      ),
    )
    .option(
      "--tag-column <name>",
      "token classification, CoNLL-U: the column of the tags (upos, xpos, deprel, a number 1-10, or misc:<Key> such as misc:NER; default upos)",
    )
    .option(
      "--doc-stride <n>",
      "question answering: context tokens neighbouring windows share (default 128; --max-length is the window, default 384)",
      nonNegativeInteger,
    );
  columnOptions(command, true)
    .option(
      "--num-labels <n>",
      "labels of a new head (default: the number of labels in the training data)",
      positiveInteger,
    )
    .addOption(choiceOption("--head <kind>", "head put on a masked LM (default: linear)", ["linear", "mlp"]))
    .option("--labels <names>", "comma-separated names of the label ids 0, 1, ... (saved as id2label)")
    .option(
      "--random-init",
      "start from random weights (seeded by --seed) in the model's architecture, with its tokenizer: the baseline a transfer is measured against",
    );
  tokenizerOption(command);
  threadsOption(command);
  resumeOption(deviceOption(command));
  return jsonOption(distributedOptions(command)).action(async (options: FinetuneOptions) => {
    await runDistributed(options, context.io, context.argv, (io) => finetune(options, io));
  });
}
