// What `finetune` and `evaluate` do for every task head other than sequence
// classification (tagging, question answering, multiple choice): read the
// splits, load the model (a masked LM gets a new head, a model of the task
// goes on training, or random weights in its architecture), train with the
// Trainer and report; or load a fine-tuned model and score it. Each task
// says only what differs (tagging.ts, qa.ts, choice.ts).
import path from "node:path";
import type { LtgBertConfigInput } from "../config.js";
import { LtgBertError } from "../errors.js";
import type { LoadOptions } from "../model.js";
import type { Tokenizer } from "../tokenizer.js";
import type { TrainableModel } from "../train/trainer.js";
import { fixed, printJson, usageError, type CliIo } from "./common.js";
import type { FinetuneOptions } from "./finetune.js";
import { checkOutput, TrainingStop } from "./interrupt.js";
import { currentGroup } from "./distributed.js";
import { KIND_NAMES, modelKind, resolveModelDir, type ModelKind } from "./model-dir.js";
import { runtime } from "./runtime.js";
import { findSplits } from "./splits.js";

/** A model class of a task head, as the commands load it. */
export interface TaskModelClass<M> {
  fromPretrained(dir: string, options?: LoadOptions & { numLabels?: number }): Promise<M>;
  fromConfig(config: LtgBertConfigInput, options?: LoadOptions & { numLabels?: number }): Promise<M>;
}

/** What a task's commands need to know of it. */
export interface TaskCommand<M extends TrainableModel, Data, Metrics> {
  /** The --task name ("token-classification"). */
  task: string;
  /** Its model kind in config.json ("token_classification"). */
  kind: ModelKind;
  /** Its head, for messages ("token-classification head"). */
  head: string;
  modelClass: () => Promise<TaskModelClass<M>>;
  /** finetune options that mean nothing for it. */
  notFor: readonly (keyof FinetuneOptions)[];
  /** --metric values it takes; the first is its default (and stands for "accuracy", the option's default). */
  metrics: readonly string[];
  read(file: string, options: TaskReadOptions): Promise<Data>;
  /** The data's file and size for the JSON summary ({ file, examples, … }). */
  summary(data: Data): Record<string, unknown>;
  /** The data's size in words ("9 sentences, 184 tagged words"). */
  size(data: Data): string;
  /** Labels of a new head, from the training data (where the head has labels). */
  numLabels?(train: Data, options: FinetuneOptions): number;
  /** config.json values of a new head (a regression head's problem_type). */
  headConfig?(options: FinetuneOptions): Partial<LtgBertConfigInput>;
  /** The Trainer options of this task beyond the common ones. */
  trainerOptions(options: { tagColumn?: string; docStride?: number }): Record<string, unknown>;
  line(metrics: Metrics): string;
  /** What the last output line adds after "saved to <dir>". */
  saved?(model: M): string;
}

/** The options a task's reader may use: the column options of the commands. */
export interface TaskReadOptions {
  tagColumn?: string;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
}

function optionName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Attaches --tokenizer's tokenizer, and insists on one. */
async function requireTokenizer(
  model: { tokenizer: Tokenizer | null; setTokenizer(t: Tokenizer): unknown },
  dir: string,
  tokenizerDir: string | undefined,
) {
  const { Tokenizer } = await runtime();
  if (tokenizerDir !== undefined) model.setTokenizer(await Tokenizer.fromPretrained(tokenizerDir));
  if (model.tokenizer === null) {
    throw new LtgBertError(
      "LTGBERT_FILE_NOT_FOUND",
      `${path.join(dir, "tokenizer.json")}: no such file; the model directory has no tokenizer (name one with --tokenizer <dir>)`,
    );
  }
}

/** Loads a fine-tuned model of the task, with its tokenizer (or --tokenizer's), for `evaluate` and `predict`. */
export async function loadTaskModel<M extends TrainableModel>(
  cls: TaskModelClass<M>,
  dir: string,
  options: { device: string; tokenizer?: string },
): Promise<M> {
  const model = await cls.fromPretrained(dir, { device: options.device, tokenizer: options.tokenizer === undefined });
  try {
    await requireTokenizer(model, dir, options.tokenizer);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

type Start = "transferred" | "continued" | "random";

async function loadForTraining<M extends TrainableModel, Data, Metrics>(
  spec: TaskCommand<M, Data, Metrics>,
  dir: string,
  train: Data,
  options: FinetuneOptions,
): Promise<{ model: M; start: Start }> {
  const { Tokenizer } = await runtime();
  const cls = await spec.modelClass();
  const { kind, config } = await modelKind(dir);
  if (kind !== "masked_lm" && kind !== "encoder" && kind !== spec.kind)
    throw usageError(`--task ${spec.task}: ${dir} is ${KIND_NAMES[kind]}; start from a masked LM or an encoder`);
  const labels = spec.numLabels === undefined ? {} : { numLabels: spec.numLabels(train, options) };
  const head = spec.headConfig === undefined || kind === spec.kind ? {} : { config: spec.headConfig(options) };
  if (options.randomInit === true) {
    const model = await cls.fromConfig(config as LtgBertConfigInput, {
      ...labels,
      ...head,
      seed: options.seed,
      device: options.device,
    });
    if (options.tokenizer === undefined) model.setTokenizer(await Tokenizer.fromPretrained(dir));
    return { model, start: "random" };
  }
  const own = kind === spec.kind;
  const model = await cls.fromPretrained(dir, {
    ...(own ? {} : { ...labels, ...head, strict: false, seed: options.seed }),
    device: options.device,
    tokenizer: options.tokenizer === undefined,
  });
  if (!own && model.loadReport !== null && model.loadReport.loaded.length === 0) {
    model.dispose();
    throw new LtgBertError("LTGBERT_BAD_CHECKPOINT", `${dir}: none of the checkpoint's tensors fit the model`);
  }
  return { model, start: own ? "continued" : "transferred" };
}

/** `ltgbert finetune --task <spec.task>`. */
export async function finetuneTask<M extends TrainableModel, Data, Metrics>(
  spec: TaskCommand<M, Data, Metrics>,
  options: FinetuneOptions,
  io: CliIo,
): Promise<void> {
  const { applyThreads, Trainer } = await runtime();
  applyThreads(options.threads);
  const dir = resolveModelDir(options.model);
  if (path.resolve(options.out) === path.resolve(dir))
    throw usageError(`--out: ${options.out} is the model directory; write the fine-tuned model elsewhere`);
  for (const key of spec.notFor) {
    if (options[key] !== undefined) throw usageError(`${optionName(key)}: not for ${spec.task.replace("-", " ")}`);
  }
  const metric = options.metric === "accuracy" && !spec.metrics.includes("accuracy") ? spec.metrics[0] : options.metric;
  if (!spec.metrics.includes(metric))
    throw usageError(`--metric: ${spec.task} picks by ${spec.metrics.join(", ")}; got ${metric}`);
  const splits = await findSplits(options);
  await checkOutput(options.out, options.resume === true);
  const train = await spec.read(splits.train, options);
  const dev = splits.dev === null ? null : await spec.read(splits.dev, options);

  const { model, start } = await loadForTraining(spec, dir, train, options);
  const stop = new TrainingStop(io);
  try {
    await requireTokenizer(model, dir, options.tokenizer);
    const bar = io.stderr.isTTY === true;
    const trainer = new Trainer(
      model as never,
      {
        trainData: train,
        ...(dev === null ? {} : { evalData: dev }),
        ...spec.trainerOptions(options),
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
        metricForBestModel: metric,
        loadBestModelAtEnd: options.loadBest === true,
        signal: stop.signal,
        processGroup: currentGroup(),
        progress: bar,
      } as never,
    );
    if (!bar) {
      trainer.on("evaluate", ({ step, epoch, metrics }) =>
        io.stderr.write(`step ${step} (epoch ${epoch.toFixed(2)}): dev ${spec.line(metrics as Metrics)}\n`),
      );
    }
    if (dev === null && !options.json)
      io.stderr.write("no dev split: training without evaluation (name one with --dev)\n");
    stop.listen();
    const result = await trainer.train(options.resume ? { resumeFrom: true } : {});
    const summary = {
      task: spec.task,
      model: dir,
      transferred: start === "transferred",
      randomInit: start === "random",
      ...("numLabels" in model ? { numLabels: model.numLabels, labels: model.labelNames } : {}),
      train: spec.summary(train),
      dev: dev === null ? null : spec.summary(dev),
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
        ? `masked LM ${dir} with a new ${spec.head}`
        : start === "random"
          ? `random weights in ${dir}'s architecture`
          : dir;
    io.stdout.write(
      `fine-tuned ${from} on ${(summary.train as { file: string }).file} (${spec.size(train)}): ${result.globalStep} steps, ${fixed(result.epochs, 2)} epochs, train loss ${fixed(result.trainLoss)}\n`,
    );
    if (result.metrics !== undefined && dev !== null) {
      io.stdout.write(
        `dev ${(summary.dev as { file: string }).file} at step ${result.globalStep}: ${spec.line(result.metrics as Metrics)}\n`,
      );
    }
    if (result.bestCheckpoint !== undefined) {
      const saved = options.loadBest ? " (its weights are the saved model's)" : "";
      io.stdout.write(`best checkpoint by ${metric}: ${result.bestCheckpoint}${saved}\n`);
    }
    io.stdout.write(`saved to ${options.out}${spec.saved === undefined ? "" : ` ${spec.saved(model)}`}\n`);
  } finally {
    stop.release();
    model.dispose();
  }
}

/** `ltgbert evaluate` for a model of the task: the Trainer's evaluation of `file`, which writes nothing. */
export async function evaluateTask<M extends TrainableModel, Data, Metrics>(
  spec: TaskCommand<M, Data, Metrics>,
  dir: string,
  file: string,
  options: {
    batchSize: number;
    maxLength?: number;
    tokenizer?: string;
    device: string;
    json?: boolean;
    docStride?: number;
  } & TaskReadOptions,
  io: CliIo,
): Promise<void> {
  const { Trainer } = await runtime();
  const data = await spec.read(file, options);
  const model = await loadTaskModel(await spec.modelClass(), dir, options);
  try {
    const trainer = new Trainer(
      model as never,
      {
        trainData: data,
        ...spec.trainerOptions(options),
        outputDir: dir,
        evalBatchSize: options.batchSize,
        maxLength: options.maxLength,
        progress: false,
      } as never,
    );
    const m = (await trainer.evaluate(data as never)) as Metrics;
    if (options.json) {
      const examples = (m as Metrics & { samples: number }).samples;
      printJson(io, { model: dir, data: file, task: spec.task, examples, metrics: m });
      return;
    }
    io.stdout.write(`${dir} on ${file} (${spec.size(data)})\n  ${spec.line(m)}\n`);
  } finally {
    model.dispose();
  }
}

/** The task command of a model kind, or null for the kinds that are not a task head of their own. */
export async function taskCommandOf(kind: ModelKind): Promise<TaskCommand<TrainableModel, unknown, unknown> | null> {
  const spec =
    kind === "token_classification"
      ? (await import("./tagging.js")).TAGGING
      : kind === "question_answering"
        ? (await import("./qa.js")).QUESTION_ANSWERING
        : kind === "multiple_choice"
          ? (await import("./choice.js")).MULTIPLE_CHOICE
          : kind === "regression"
            ? (await import("./regression.js")).REGRESSION
            : null;
  return spec as TaskCommand<TrainableModel, unknown, unknown> | null;
}
