// The training loop around model.trainStep: seeded epochs of batches,
// gradient accumulation, evaluation, checkpoints that a run resumes from
// exactly, cancellation by AbortSignal, a JSON-lines log and a progress bar.
// What the data is (labelled examples, or raw text for the masked LM) is the
// task's business (classification-task.ts, mlm-task.ts).
import { EventEmitter } from "node:events";
import { appendFile, readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { SingleBar } from "cli-progress";
import type { CorpusOptions } from "./corpus.js";
import type { Dataset, ReadDatasetOptions } from "../data.js";
import { problemTypeOf } from "../config.js";
import { describe, invalidArgument, LtgBertError } from "../errors.js";
import { boolean, choicesText, integer, isInteger, nonEmptyString, number, object, oneOf } from "../validate.js";
import {
  LtgBertForMaskedLM,
  LtgBertForMultipleChoice,
  LtgBertForQuestionAnswering,
  LtgBertForSequenceClassification,
  LtgBertForTokenClassification,
} from "../model.js";
import type { Optimizer, ScheduleKind, TrainStepResult } from "./optimizer.js";
import { makeDirectory, replaceDirectory, writeFileAtomic } from "../save.js";
import { Tokenizer } from "../tokenizer.js";
import { checkData, ClassificationTask, type EvalMetrics } from "./classification-task.js";
import { MaskedLMTask, textFiles, type MaskedLMEvalMetrics } from "./mlm-task.js";
import { checkTaggingData, TaggingTask, type TaggingEvalMetrics } from "./tagging-task.js";
import { checkSquadData, QuestionAnsweringTask, type QuestionAnsweringEvalMetrics } from "./qa-task.js";
import { checkChoiceData, MultipleChoiceTask, type MultipleChoiceEvalMetrics } from "./choice-task.js";
import { checkRegressionData, RegressionTask, type RegressionEvalMetrics } from "./regression-task.js";
import type {
  MultipleChoiceDataset,
  ReadRegressionOptions,
  RegressionDataset,
  ReadConlluOptions,
  ReadMultipleChoiceOptions,
  SquadDataset,
  TaggingDataset,
} from "../tasks/readers.js";
import type { Cursor, EvalShard, Task } from "./task.js";
import { ProcessGroup, shardRows } from "./distributed.js";

export type { EvalMetrics } from "./classification-task.js";
export type { MaskedLMEvalMetrics } from "./mlm-task.js";
export type { TaggingEvalMetrics } from "./tagging-task.js";
export type { QuestionAnsweringEvalMetrics } from "./qa-task.js";
export type { MultipleChoiceEvalMetrics } from "./choice-task.js";
export type { RegressionEvalMetrics } from "./regression-task.js";

/** The evaluation value that picks a classifier's best checkpoint. */
export type MetricName = "accuracy" | "loss" | "macroF1" | "mcc";
/** The evaluation value that picks a masked LM's best checkpoint. */
export type MaskedLMMetricName = "loss" | "accuracy" | "perplexity";
/** The evaluation value that picks a tagger's best checkpoint ("f1": entity F1, BIO tags only). */
export type TaggingMetricName = "accuracy" | "loss" | "f1";
/** The evaluation value that picks a question-answering model's best checkpoint. */
export type QuestionAnsweringMetricName = "f1" | "exactMatch" | "loss";
/** The evaluation value that picks a multiple-choice model's best checkpoint. */
export type MultipleChoiceMetricName = "accuracy" | "loss";
/** The evaluation value that picks a regression model's best checkpoint. */
export type RegressionMetricName = "pearson" | "spearman" | "loss";

/** The models the Trainer trains. */
export type TrainableModel =
  | LtgBertForSequenceClassification
  | LtgBertForTokenClassification
  | LtgBertForQuestionAnswering
  | LtgBertForMultipleChoice
  | LtgBertForMaskedLM;

/** Options of every Trainer, whatever the task. */
export interface TrainerBaseOptions<Metrics = EvalMetrics> {
  /** Default: `model.tokenizer`. Attached to the model when training starts, so that checkpoints carry it. */
  tokenizer?: Tokenizer;
  /** Passes over the training data (default 3); `maxSteps` overrides it. */
  epochs?: number;
  /** Optimizer steps in all, however many epochs that takes. */
  maxSteps?: number;
  /** Examples (sequences) per batch (default 16). One step takes `gradientAccumulationSteps` batches. */
  batchSize?: number;
  /** Default: `batchSize` (times the ranks of `processGroup`: the global batch). */
  evalBatchSize?: number;
  /** Peak learning rate (default 5e-5). */
  learningRate?: number;
  /** Warmup as a fraction of all steps, rounded; `warmupSteps` wins when both are given. Default 0. */
  warmupRatio?: number;
  warmupSteps?: number;
  /** Default "linear" (to 0 at the last step). */
  schedule?: ScheduleKind;
  /** AdamW's decoupled weight decay (not on biases and LayerNorm parameters). Default 0. */
  weightDecay?: number;
  /** Clip gradients to this global norm; 0: no clipping. Default 1. */
  maxGradNorm?: number;
  /** Batches whose gradients add up into one optimizer step. Default 1. */
  gradientAccumulationSteps?: number;
  /** Evaluate every this many steps. Default: at the end of each epoch. */
  evalEvery?: number;
  /** Write a checkpoint every this many steps. Default: at the end of each epoch. */
  saveEvery?: number;
  /** Where checkpoints, the log and the final model go. */
  outputDir: string;
  /** Seed of the data order, of the masking and of dropout (default 42). The weights' initialisation is the model's. */
  seed?: number;
  /** Aborting it stops training after the step in flight, with a checkpoint. */
  signal?: AbortSignal;
  /** Keep at most this many checkpoints: the oldest go, never the best nor the newest. Default: all. */
  saveTotalLimit?: number;
  /** At the end, load the best checkpoint's weights before saving the model. Default false. */
  loadBestModelAtEnd?: boolean;
  /** Write a log entry every this many steps (default 1). */
  logEvery?: number;
  /** A progress bar on stderr: "auto" (default) when stderr is a terminal; true also elsewhere (a line every 2 s); false never. */
  progress?: boolean | "auto";
  /**
   * Data-parallel training with the other ranks of this group: each rank
   * trains on its share of every global batch of `batchSize` × ranks ×
   * `gradientAccumulationSteps` rows (the batch order is the one a single
   * process with that batch would see), the gradients are averaged, and
   * rank 0 alone writes checkpoints, the log, the progress bar and the
   * final model. A stop (`signal`) on any rank stops every rank after the
   * same step. Resuming needs the same number of ranks.
   */
  processGroup?: ProcessGroup;
  /** The same as `trainer.on("step", …)`. */
  onStep?: (event: StepEvent) => void;
  /** The same as `trainer.on("evaluate", …)`. */
  onEvaluate?: (event: EvaluateEvent<Metrics>) => void;
  /** The same as `trainer.on("save", …)`. */
  onSave?: (event: SaveEvent) => void;
  /** The same as `trainer.on("log", …)`. */
  onLog?: (entry: LogEntry) => void;
}

/** Options of `new Trainer(classifier, options)`. */
export interface TrainerOptions extends TrainerBaseOptions<EvalMetrics> {
  /** A dataset, or a CSV/TSV/JSON-lines file that `readDataset` reads. */
  trainData: Dataset | string;
  /** Evaluated every `evalEvery` steps (default: at each epoch's end) and at the last step. */
  evalData?: Dataset | string;
  /**
   * How to read `trainData` and `evalData` when they are paths: columns,
   * format, `labelMap`. The model's `numLabels` is passed for you.
   */
  readOptions?: Omit<ReadDatasetOptions, "numLabels">;
  /** Tokens per example, longer ones cut. Default and maximum: the model's `max_position_embeddings`. */
  maxLength?: number;
  /** Batch examples of similar length together (see `planBatches`). Default false. */
  groupByLength?: boolean;
  /**
   * What picks the best checkpoint: "accuracy" (default), "macroF1", "mcc"
   * (higher is better) or "loss" (lower). It is judged at steps that both
   * evaluate and save (with `loadBestModelAtEnd`, every evaluation saves).
   */
  metricForBestModel?: MetricName;
}

/** Options of `new Trainer(tagger, options)`: sentences with a tag per word. */
export interface TaggingTrainerOptions extends TrainerBaseOptions<TaggingEvalMetrics> {
  /** A TaggingDataset, or a file: CoNLL-U (`.conllu`) or one `word<TAB>tag` per line with empty lines between sentences. */
  trainData: TaggingDataset | string;
  /** Evaluated every `evalEvery` steps (default: at each epoch's end) and at the last step. */
  evalData?: TaggingDataset | string;
  /** For CoNLL-U files: the column of the tags (UPOS by default), as `readConllu` takes it. */
  readOptions?: ReadConlluOptions;
  /** Tokens per sentence; a sentence that does not fit is an error. Default and maximum: the model's `max_position_embeddings`. */
  maxLength?: number;
  /** Train every subword of a word on its tag, not just the first (default false). Predictions read the first. */
  labelAllSubwords?: boolean;
  /** "accuracy" (default), "loss", or "f1" (entities; BIO tags only). */
  metricForBestModel?: TaggingMetricName;
}

/** Options of `new Trainer(qa, options)`: SQuAD-style questions about contexts. */
export interface QuestionAnsweringTrainerOptions extends TrainerBaseOptions<QuestionAnsweringEvalMetrics> {
  /** A SquadDataset, or a SQuAD JSON file (v1.1 or v2.0). */
  trainData: SquadDataset | string;
  evalData?: SquadDataset | string;
  /** Tokens per window, [CLS] and both [SEP] included (default 384, at most max_position_embeddings). */
  maxLength?: number;
  /** Context tokens neighbouring windows share (default 128). */
  docStride?: number;
  /** Question tokens kept (default 64). */
  maxQuestionLength?: number;
  /** The most tokens a predicted answer may have (default 30). */
  maxAnswerLength?: number;
  /** Start and end candidates per window when predicting (default 20). */
  nBest?: number;
  /** "f1" (default), "exactMatch" or "loss". */
  metricForBestModel?: QuestionAnsweringMetricName;
}

/** Options of `new Trainer(multipleChoice, options)`: questions with 2 or more choices. */
export interface MultipleChoiceTrainerOptions extends TrainerBaseOptions<MultipleChoiceEvalMetrics> {
  /** A MultipleChoiceDataset, or a file readMultipleChoice reads (ARC's JSONL, or CSV). */
  trainData: MultipleChoiceDataset | string;
  evalData?: MultipleChoiceDataset | string;
  readOptions?: ReadMultipleChoiceOptions;
  /** Tokens per question-and-choice pair, longer ones cut (default: max_position_embeddings). */
  maxLength?: number;
  /** "accuracy" (default) or "loss". */
  metricForBestModel?: MultipleChoiceMetricName;
}

/**
 * Options of `new Trainer(regressor, options)`: sentence pairs with a score,
 * for a sequence classifier whose `problem_type` is "regression" and
 * `num_labels` 1 (give the Trainer `RegressionEvalMetrics` as its second type
 * argument for the metrics' type).
 */
export interface RegressionTrainerOptions extends TrainerBaseOptions<RegressionEvalMetrics> {
  /** A RegressionDataset, or a TSV file readRegressionTsv reads (GLUE's STS-B layout). */
  trainData: RegressionDataset | string;
  evalData?: RegressionDataset | string;
  /** Columns and the score range, as `readRegressionTsv` takes them. */
  readOptions?: ReadRegressionOptions;
  /** Tokens per sentence pair, longer ones cut (default: max_position_embeddings). */
  maxLength?: number;
  /** "pearson" (default), "spearman" (higher is better) or "loss" (mean squared error; lower). */
  metricForBestModel?: RegressionMetricName;
}

/**
 * Options of `new Trainer(maskedLM, options)`: raw text streamed through
 * `MaskedLMCorpus` (see it for the packing, shuffling and masking).
 */
export interface MaskedLMTrainerOptions
  extends
    TrainerBaseOptions<MaskedLMEvalMetrics>,
    Pick<
      CorpusOptions,
      | "maskProbability"
      | "maxSpanLength"
      | "randomProbability"
      | "keepProbability"
      | "replacement"
      | "shuffle"
      | "shuffleBuffer"
      | "documentBoundary"
      | "readChunkSize"
    > {
  /** Text files, read in order as one stream each epoch. */
  trainData: string | readonly string[];
  /** Held-out text files, packed the same way and masked with the run's seed: the same positions at every evaluation. */
  evalData?: string | readonly string[];
  /** Tokens per sequence, [CLS] and [SEP] included. Default 128; at most the model's `max_position_embeddings`. */
  sequenceLength?: number;
  /** "loss" (default), "perplexity" (lower is better) or "accuracy" (higher). */
  metricForBestModel?: MaskedLMMetricName;
}

// (In this order: a sequence classifier has every member of a tagger and
// more, and a tagger every member of a masked LM, so each would pass for
// the next one structurally.)
/** The metrics of the model's task. */
export type MetricsOf<M extends TrainableModel> = M extends LtgBertForSequenceClassification
  ? EvalMetrics
  : M extends LtgBertForTokenClassification
    ? TaggingEvalMetrics
    : M extends LtgBertForQuestionAnswering
      ? QuestionAnsweringEvalMetrics
      : M extends LtgBertForMultipleChoice
        ? MultipleChoiceEvalMetrics
        : MaskedLMEvalMetrics;
/** The Trainer options of the model's task. */
export type TrainerOptionsOf<M extends TrainableModel> = M extends LtgBertForSequenceClassification
  ? TrainerOptions | RegressionTrainerOptions
  : M extends LtgBertForTokenClassification
    ? TaggingTrainerOptions
    : M extends LtgBertForQuestionAnswering
      ? QuestionAnsweringTrainerOptions
      : M extends LtgBertForMultipleChoice
        ? MultipleChoiceTrainerOptions
        : MaskedLMTrainerOptions;
/** What `evaluate(data)` takes for the model's task. */
export type EvalDataOf<M extends TrainableModel> = M extends LtgBertForSequenceClassification
  ? Dataset | RegressionDataset | string
  : M extends LtgBertForTokenClassification
    ? TaggingDataset | string
    : M extends LtgBertForQuestionAnswering
      ? SquadDataset | string
      : M extends LtgBertForMultipleChoice
        ? MultipleChoiceDataset | string
        : string | readonly string[];

/** What one optimizer step did. */
export interface StepEvent {
  /** Optimizer steps so far, this one included. */
  step: number;
  /**
   * Epochs done, fractional: 1.25 is a quarter into the second epoch. (For
   * a masked-LM stream trained for `maxSteps`, whose batches per epoch are
   * not counted, the fraction is that of the bytes read.)
   */
  epoch: number;
  /** Mean loss of the step's batches. */
  loss: number;
  learningRate: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Examples of this step per second of its wall time. */
  samplesPerSecond: number;
}

export interface EvaluateEvent<Metrics = EvalMetrics> {
  step: number;
  epoch: number;
  metrics: Metrics;
}

export interface SaveEvent {
  step: number;
  /** The checkpoint folder, `outputDir/checkpoint-<step>`. */
  checkpoint: string;
  /** True when this checkpoint is now the best. */
  best: boolean;
}

/**
 * One entry of `train_log.jsonl` and of trainer_state.json's `log_history`,
 * with Hugging Face's key names: a step's `loss` (mean since the previous
 * entry), `grad_norm`, `learning_rate`, `samples_per_second`, or an
 * evaluation's `eval_loss`, `eval_accuracy`, then `eval_macro_f1`,
 * `eval_mcc` (classification) or `eval_perplexity`, `eval_tokens` (masked
 * LM), and `eval_samples`; always `step` and `epoch`.
 */
export type LogEntry = Record<string, number>;

/** How a `train()` call ended. */
export type TrainResult<Metrics = EvalMetrics> = TrainCompleted<Metrics> | TrainInterrupted;

export interface TrainCompleted<Metrics = EvalMetrics> {
  interrupted: false;
  globalStep: number;
  /** Epochs done, fractional. */
  epochs: number;
  /** Mean step loss over every step of the run, resumed ones included. */
  trainLoss: number;
  /** The last evaluation's. */
  metrics?: Metrics;
  /** The best checkpoint's folder, when evaluations picked one. */
  bestCheckpoint?: string;
  outputDir: string;
}

export interface TrainInterrupted {
  interrupted: true;
  globalStep: number;
  epochs: number;
  /** The checkpoint to resume from; null when the signal was aborted before any step. */
  checkpoint: string | null;
  outputDir: string;
}

export interface TrainOptions {
  /** A checkpoint folder, or true for the newest `checkpoint-<step>` in `outputDir`. */
  resumeFrom?: string | true;
}

export interface TrainerEvents<Metrics = EvalMetrics> {
  step: [StepEvent];
  evaluate: [EvaluateEvent<Metrics>];
  save: [SaveEvent];
  log: [LogEntry];
}

/** The files a training run writes besides the model's. */
export const TRAINER_STATE_FILE = "trainer_state.json";
export const TRAINING_ARGS_FILE = "training_args.json";
export const TRAIN_LOG_FILE = "train_log.jsonl";

const METRICS: readonly MetricName[] = ["accuracy", "loss", "macroF1", "mcc"];
const MLM_METRICS: readonly MaskedLMMetricName[] = ["loss", "perplexity", "accuracy"];
const TAGGING_METRICS: readonly TaggingMetricName[] = ["accuracy", "loss", "f1"];
const QA_METRICS: readonly QuestionAnsweringMetricName[] = ["f1", "exactMatch", "loss"];
const CHOICE_METRICS: readonly MultipleChoiceMetricName[] = ["accuracy", "loss"];
const REGRESSION_METRICS: readonly RegressionMetricName[] = ["pearson", "spearman", "loss"];
const LOWER_IS_BETTER = new Set(["loss", "perplexity"]);
const SCHEDULES: readonly ScheduleKind[] = ["linear", "cosine", "constant", "constant_with_warmup"];
const CHECKPOINT = /^checkpoint-(\d+)$/;
/** Options that fix the data order and the batches: a resumed run must keep them (and the task's own). */
const RESUME_KEYS = ["batchSize", "gradientAccumulationSteps", "seed", "worldSize"] as const;

interface Resolved {
  /** Ranks training together (1 without a process group). */
  worldSize: number;
  epochs: number;
  maxSteps: number | null;
  batchSize: number;
  evalBatchSize: number;
  learningRate: number;
  warmupRatio: number | null;
  warmupSteps: number | null;
  schedule: ScheduleKind;
  weightDecay: number;
  maxGradNorm: number;
  gradientAccumulationSteps: number;
  evalEvery: number | null;
  saveEvery: number | null;
  outputDir: string;
  seed: number;
  metricForBestModel: string;
  saveTotalLimit: number | null;
  loadBestModelAtEnd: boolean;
  logEvery: number;
  progress: boolean | "auto";
}

/** Where a run stands: what trainer_state.json holds. */
interface RunState {
  globalStep: number;
  /** Where the next batch starts: the task's `data_position`. */
  position: Record<string, unknown>;
  /** Epochs done, fractional. */
  epochs: number;
  lossSum: number;
  logHistory: LogEntry[];
  bestMetric: number | null;
  bestCheckpoint: string | null;
}

/** `maxLength`: an integer from 1 to the model's max_position_embeddings (the default). */
function maxLengthOption(value: unknown, maxPositions: number): number {
  const maxLength = integer("options.maxLength", value ?? maxPositions, 1);
  if (maxLength > maxPositions)
    throw invalidArgument(
      "options.maxLength",
      `at most the model's max_position_embeddings (${maxPositions})`,
      maxLength,
    );
  return maxLength;
}

function round(value: number): number {
  return Number(value.toPrecision(12));
}

/**
 * Trains a model with AdamW, a warmup-and-decay schedule, evaluation,
 * checkpoints that `train({ resumeFrom })` continues from exactly (the same
 * weights as a run straight through), and an AbortSignal that stops it
 * cleanly. The task is chosen by the model:
 *
 * - **Sequence classification** (`LtgBertForSequenceClassification`,
 *   `TrainerOptions`): epochs of seeded batches from a labelled dataset.
 *   Every data file is read and checked before the first step; a bad row is
 *   an LTGBERT_BAD_DATA error naming file, line and value, and nothing in
 *   `outputDir` has been touched by then. `evaluate` gives loss, accuracy,
 *   macro-F1 and MCC.
 * - **Masked LM** (`LtgBertForMaskedLM`, `MaskedLMTrainerOptions`): raw text
 *   files streamed through `MaskedLMCorpus`: packed into sequences of
 *   `sequenceLength`, shuffled in bounded blocks, span-masked as LTG-BERT's
 *   pretraining masks (`maskTokens`). A corpus larger than memory trains.
 *   With `epochs` (and no `maxSteps`) one pass counts the batches of an
 *   epoch first, for the schedule. `evaluate` gives the masked tokens'
 *   loss, accuracy and perplexity. The checkpoint's data position holds
 *   the stream's place (file, byte offset, the tokens carried over, the
 *   shuffling block); the masks of batch i of epoch e are drawn from a
 *   stream seeded by (seed, e, i), so a resumed run masks as the
 *   uninterrupted one does.
 * - **Token classification** (`LtgBertForTokenClassification`,
 *   `TaggingTrainerOptions`): tagged sentences, labels on each word's first
 *   subword; word accuracy, and entity P/R/F1 for BIO tags.
 * - **Question answering** (`LtgBertForQuestionAnswering`,
 *   `QuestionAnsweringTrainerOptions`): SQuAD files, contexts cut into
 *   overlapping windows; SQuAD exact match and F1.
 * - **Multiple choice** (`LtgBertForMultipleChoice`,
 *   `MultipleChoiceTrainerOptions`): questions batched by choice count;
 *   accuracy and chance. See docs/tasks.md for these three.
 *
 * What it writes in `outputDir`: `checkpoint-<step>/` (the model as
 * `savePretrained` writes it, `optimizer.safetensors`, `trainer_state.json`,
 * `training_args.json`; written as `checkpoint-<step>.tmp` and renamed when
 * complete), `train_log.jsonl` (one line per log entry: every `logEvery`
 * steps and every evaluation), and at the end the final model (the best one
 * with `loadBestModelAtEnd`) with its trainer_state.json and
 * training_args.json.
 *
 * Events (also as the `on…` options): "step" after each optimizer step,
 * "log" for each log entry, "evaluate" after each evaluation, "save" after
 * each checkpoint. Listeners run synchronously inside the loop.
 *
 * @example
 * const model = await LtgBertForSequenceClassification.fromPretrained("./babylm-checkpoint", { numLabels: 2 });
 * const trainer = new Trainer(model, { trainData: "sst2/train.tsv", evalData: "sst2/dev.tsv",
 *   outputDir: "./sst2-run", epochs: 3, batchSize: 32, learningRate: 5e-5, warmupRatio: 0.1 });
 * trainer.on("evaluate", ({ step, metrics }) => console.log(step, metrics.accuracy));
 * const result = await trainer.train();           // or train({ resumeFrom: true }) after a stop
 * await trainer.evaluate();                        // { loss, accuracy, macroF1, mcc, samples }
 *
 * @example
 * const mlm = await LtgBertForMaskedLM.fromConfig(config);
 * const pretrain = new Trainer(mlm, { trainData: ["corpus/part-1.txt", "corpus/part-2.txt"], evalData: "held-out.txt",
 *   tokenizer, outputDir: "./pretrain", maxSteps: 10000, batchSize: 64, sequenceLength: 128,
 *   learningRate: 1e-3, warmupRatio: 0.01, evalEvery: 1000, saveEvery: 1000 });
 * await pretrain.train();                           // evaluate(): { loss, accuracy, perplexity, samples, tokens }
 */
export class Trainer<
  M extends TrainableModel = LtgBertForSequenceClassification,
  Metrics extends object = MetricsOf<M>,
> extends EventEmitter<TrainerEvents<Metrics>> {
  /** The model being trained. */
  readonly model: M;
  readonly #o: Resolved;
  readonly #options: TrainerBaseOptions<Metrics>;
  readonly #task: Task<Metrics>;
  #running = false;

  constructor(model: M, options: TrainerOptionsOf<M>) {
    super();
    const masked = model instanceof LtgBertForMaskedLM;
    const tagging = model instanceof LtgBertForTokenClassification;
    const qa = model instanceof LtgBertForQuestionAnswering;
    const choice = model instanceof LtgBertForMultipleChoice;
    if (!masked && !tagging && !qa && !choice && !(model instanceof LtgBertForSequenceClassification)) {
      throw invalidArgument(
        "model",
        "an LtgBertForSequenceClassification, LtgBertForTokenClassification, LtgBertForQuestionAnswering, LtgBertForMultipleChoice or LtgBertForMaskedLM",
        model,
      );
    }
    object("options", options);
    let regression = false;
    if (!masked && !tagging && !qa && !choice) {
      const problem = problemTypeOf(model.config);
      regression = problem === "regression";
      if (problem === "multi_label_classification") {
        throw new LtgBertError(
          "LTGBERT_INVALID_ARGUMENT",
          `model: the Trainer trains single-label classifiers and regression models; this model's problem_type is ${JSON.stringify(problem)}`,
        );
      }
    }
    this.model = model;
    this.#options = options as TrainerBaseOptions<Metrics>;
    const kind = masked
      ? "masked_lm"
      : tagging
        ? "token_classification"
        : qa
          ? "question_answering"
          : choice
            ? "multiple_choice"
            : regression
              ? "regression"
              : "sequence_classification";
    const base = this.#resolve(options as TrainerBaseOptions<Metrics>, kind);
    this.#o = base;
    if (regression) {
      const o = options as RegressionTrainerOptions;
      checkRegressionData("options.trainData", o.trainData);
      if (o.evalData !== undefined) checkRegressionData("options.evalData", o.evalData);
      if (o.readOptions !== undefined) object("options.readOptions", o.readOptions, "readRegressionTsv's options");
      this.#task = new RegressionTask(model as LtgBertForSequenceClassification, {
        trainData: o.trainData,
        evalData: o.evalData,
        readOptions: o.readOptions,
        batchSize: base.batchSize * base.worldSize,
        evalBatchSize: base.evalBatchSize,
        seed: base.seed,
        maxLength: maxLengthOption(o.maxLength, model.config.max_position_embeddings),
      }) as unknown as Task<Metrics>;
    } else if (choice) {
      const o = options as MultipleChoiceTrainerOptions;
      checkChoiceData("options.trainData", o.trainData);
      if (o.evalData !== undefined) checkChoiceData("options.evalData", o.evalData);
      if (o.readOptions !== undefined) object("options.readOptions", o.readOptions, "readMultipleChoice's options");
      this.#task = new MultipleChoiceTask(model as LtgBertForMultipleChoice, {
        trainData: o.trainData,
        evalData: o.evalData,
        readOptions: o.readOptions,
        batchSize: base.batchSize * base.worldSize,
        evalBatchSize: base.evalBatchSize,
        seed: base.seed,
        maxLength: maxLengthOption(o.maxLength, model.config.max_position_embeddings),
      }) as unknown as Task<Metrics>;
    } else if (qa) {
      const o = options as QuestionAnsweringTrainerOptions;
      checkSquadData("options.trainData", o.trainData);
      if (o.evalData !== undefined) checkSquadData("options.evalData", o.evalData);
      const maxLength = maxLengthOption(
        o.maxLength ?? Math.min(384, model.config.max_position_embeddings),
        model.config.max_position_embeddings,
      );
      this.#task = new QuestionAnsweringTask(model as LtgBertForQuestionAnswering, {
        trainData: o.trainData,
        evalData: o.evalData,
        batchSize: base.batchSize * base.worldSize,
        evalBatchSize: base.evalBatchSize,
        seed: base.seed,
        maxLength,
        docStride: integer("options.docStride", o.docStride ?? 128, 0),
        maxQuestionLength: integer("options.maxQuestionLength", o.maxQuestionLength ?? 64, 1),
        maxAnswerLength: integer("options.maxAnswerLength", o.maxAnswerLength ?? 30, 1),
        nBest: integer("options.nBest", o.nBest ?? 20, 1),
      }) as unknown as Task<Metrics>;
    } else if (tagging) {
      const o = options as TaggingTrainerOptions;
      checkTaggingData("options.trainData", o.trainData);
      if (o.evalData !== undefined) checkTaggingData("options.evalData", o.evalData);
      if (o.readOptions !== undefined) object("options.readOptions", o.readOptions, "readConllu's options");
      this.#task = new TaggingTask(model as LtgBertForTokenClassification, {
        trainData: o.trainData,
        evalData: o.evalData,
        readOptions: o.readOptions,
        batchSize: base.batchSize * base.worldSize,
        evalBatchSize: base.evalBatchSize,
        seed: base.seed,
        maxLength: maxLengthOption(o.maxLength, model.config.max_position_embeddings),
        labelAllSubwords: boolean("options.labelAllSubwords", o.labelAllSubwords ?? false),
      }) as unknown as Task<Metrics>;
    } else if (masked) {
      const o = options as MaskedLMTrainerOptions;
      const trainData = textFiles("options.trainData", o.trainData);
      const evalData = o.evalData === undefined ? undefined : textFiles("options.evalData", o.evalData);
      const maxPositions = model.config.max_position_embeddings;
      const sequenceLength = integer("options.sequenceLength", o.sequenceLength ?? Math.min(128, maxPositions), 3);
      if (sequenceLength > maxPositions) {
        throw invalidArgument(
          "options.sequenceLength",
          `at most the model's max_position_embeddings (${maxPositions})`,
          sequenceLength,
        );
      }
      const corpus: CorpusOptions = {
        sequenceLength,
        maskProbability: o.maskProbability,
        maxSpanLength: o.maxSpanLength,
        randomProbability: o.randomProbability,
        keepProbability: o.keepProbability,
        replacement: o.replacement,
        shuffle: o.shuffle,
        shuffleBuffer: o.shuffleBuffer,
        documentBoundary: o.documentBoundary,
        readChunkSize: o.readChunkSize,
      };
      this.#task = new MaskedLMTask(
        model,
        {
          trainData,
          evalData,
          batchSize: base.batchSize * base.worldSize,
          evalBatchSize: base.evalBatchSize,
          seed: base.seed,
          corpus,
        },
        base.maxSteps !== null,
      ) as unknown as Task<Metrics>;
    } else {
      const o = options as TrainerOptions;
      checkData("options.trainData", o.trainData);
      if (o.evalData !== undefined) checkData("options.evalData", o.evalData);
      if (o.readOptions !== undefined) object("options.readOptions", o.readOptions, "readDataset's options");
      const maxLength = maxLengthOption(o.maxLength, model.config.max_position_embeddings);
      const groupByLength = boolean("options.groupByLength", o.groupByLength ?? false);
      this.#task = new ClassificationTask(model as LtgBertForSequenceClassification, {
        trainData: o.trainData,
        evalData: o.evalData,
        readOptions: o.readOptions,
        batchSize: base.batchSize * base.worldSize,
        evalBatchSize: base.evalBatchSize,
        seed: base.seed,
        maxLength,
        groupByLength,
      }) as unknown as Task<Metrics>;
    }
    if (options.onStep) this.on("step", options.onStep);
    if (options.onEvaluate) this.on("evaluate", options.onEvaluate as (e: EvaluateEvent<Metrics>) => void);
    if (options.onSave) this.on("save", options.onSave);
    if (options.onLog) this.on("log", options.onLog);
  }

  #resolve(
    o: TrainerBaseOptions<Metrics>,
    kind:
      | "masked_lm"
      | "token_classification"
      | "question_answering"
      | "multiple_choice"
      | "regression"
      | "sequence_classification",
  ): Resolved {
    if (o.tokenizer !== undefined && !(o.tokenizer instanceof Tokenizer))
      throw invalidArgument("options.tokenizer", "a Tokenizer", o.tokenizer);
    nonEmptyString("options.outputDir", o.outputDir, "a folder path");
    if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
      throw invalidArgument("options.signal", "an AbortSignal", o.signal);
    for (const key of ["onStep", "onEvaluate", "onSave", "onLog"] as const) {
      if (o[key] !== undefined && typeof o[key] !== "function")
        throw invalidArgument(`options.${key}`, "a function", o[key]);
    }
    const schedule = oneOf("options.schedule", o.schedule ?? "linear", SCHEDULES, choicesText(SCHEDULES, ", "));
    const metrics: readonly string[] = {
      masked_lm: MLM_METRICS,
      token_classification: TAGGING_METRICS,
      question_answering: QA_METRICS,
      multiple_choice: CHOICE_METRICS,
      regression: REGRESSION_METRICS,
      sequence_classification: METRICS,
    }[kind];
    const metric = (o as { metricForBestModel?: string }).metricForBestModel ?? metrics[0];
    oneOf("options.metricForBestModel", metric, metrics, choicesText(metrics, ", "));
    const progress = o.progress ?? "auto";
    if (progress !== "auto" && typeof progress !== "boolean")
      throw invalidArgument("options.progress", 'true, false or "auto"', progress);
    const batchSize = integer("options.batchSize", o.batchSize ?? 16, 1);
    const optional = (name: keyof TrainerBaseOptions, min: number): number | null =>
      o[name] === undefined ? null : integer(`options.${name}`, o[name], min);
    if (o.processGroup !== undefined && !(o.processGroup instanceof ProcessGroup))
      throw invalidArgument("options.processGroup", "a ProcessGroup", o.processGroup);
    return {
      worldSize: o.processGroup?.worldSize ?? 1,
      epochs: integer("options.epochs", o.epochs ?? 3, 1),
      maxSteps: optional("maxSteps", 1),
      batchSize,
      // The global batch: with a process group, the evaluation's batches
      // (which the ranks share out) are those of one process.
      evalBatchSize: integer(
        "options.evalBatchSize",
        o.evalBatchSize ?? batchSize * (o.processGroup?.worldSize ?? 1),
        1,
      ),
      learningRate: number("options.learningRate", o.learningRate ?? 5e-5, { min: 0 }),
      warmupRatio:
        o.warmupRatio === undefined ? null : number("options.warmupRatio", o.warmupRatio, { min: 0, max: 1 }),
      warmupSteps: optional("warmupSteps", 0),
      schedule,
      weightDecay: number("options.weightDecay", o.weightDecay ?? 0, { min: 0 }),
      maxGradNorm: number("options.maxGradNorm", o.maxGradNorm ?? 1, { min: 0 }),
      gradientAccumulationSteps: integer("options.gradientAccumulationSteps", o.gradientAccumulationSteps ?? 1, 1),
      evalEvery: optional("evalEvery", 1),
      saveEvery: optional("saveEvery", 1),
      outputDir: o.outputDir,
      seed: integer("options.seed", o.seed ?? 42, 0),
      metricForBestModel: metric,
      saveTotalLimit: optional("saveTotalLimit", 1),
      loadBestModelAtEnd: boolean("options.loadBestModelAtEnd", o.loadBestModelAtEnd ?? false),
      logEvery: integer("options.logEvery", o.logEvery ?? 1, 1),
      progress,
    };
  }

  /** Whether this process writes: always without a process group, rank 0 with one. */
  get #leader(): boolean {
    return (this.#options.processGroup?.rank ?? 0) === 0;
  }

  /** The tokenizer in use: the option's, else the model's. */
  get tokenizer(): Tokenizer | null {
    return this.#options.tokenizer ?? this.model.tokenizer;
  }

  #requireTokenizer(): Tokenizer {
    const tokenizer = this.tokenizer;
    if (tokenizer === null) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        "Trainer: no tokenizer; pass options.tokenizer (Tokenizer.fromPretrained(dir)) or load the model from a directory that has a tokenizer.json",
      );
    }
    if (tokenizer.vocabSize > this.model.config.vocab_size) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        `${tokenizer.file}: the tokenizer has ${tokenizer.vocabSize} tokens, more than the model's vocab_size ${this.model.config.vocab_size}`,
      );
    }
    return tokenizer;
  }

  /**
   * Evaluates the model on `data` (default: `evalData`), in eval mode.
   * A classifier: mean loss, accuracy, macro-F1 and MCC (see
   * `classificationMetrics`), in batches of `evalBatchSize` grouped by
   * length. A masked LM: the loss, accuracy and perplexity of the masked
   * tokens, the text packed as for training and masked with the run's seed
   * (the same positions every time).
   */
  async evaluate(data?: EvalDataOf<M>): Promise<Metrics> {
    const tokenizer = this.#requireTokenizer();
    return this.#task.evaluate(tokenizer, data);
  }

  /**
   * Trains until `maxSteps` (or `epochs`) is reached or `signal` aborts.
   * With `resumeFrom`, first restores a checkpoint's weights, optimizer
   * (moments, schedule position, dropout random state) and data position,
   * so the run continues exactly as if it had never stopped; the batch
   * size, accumulation, seed, the task's data options (length grouping and
   * maxLength; or sequence length, masking, shuffling) and the training
   * data must be those of the run that wrote it.
   *
   * Resolves (never rejects) on an abort, after writing a checkpoint for the
   * step in flight (an evaluation due at that step is skipped).
   */
  async train(options: TrainOptions = {}): Promise<TrainResult<Metrics>> {
    object("options", options);
    const { resumeFrom } = options;
    if (resumeFrom !== undefined && resumeFrom !== true && (typeof resumeFrom !== "string" || resumeFrom === ""))
      throw invalidArgument("options.resumeFrom", "a checkpoint folder or true (the newest in outputDir)", resumeFrom);
    if (this.#running) throw new LtgBertError("LTGBERT_BUSY", "Trainer.train: already running; await it first");
    this.#running = true;
    try {
      return await this.#train(resumeFrom);
    } finally {
      this.#running = false;
    }
  }

  async #train(resumeFrom: string | true | undefined): Promise<TrainResult<Metrics>> {
    const o = this.#o;
    const tokenizer = this.#requireTokenizer();
    const run = await this.#task.prepare(tokenizer);
    const { batchesPerEpoch } = run;
    const stepsPerEpoch = batchesPerEpoch === null ? null : Math.ceil(batchesPerEpoch / o.gradientAccumulationSteps);
    const totalSteps = o.maxSteps ?? o.epochs * stepsPerEpoch!;
    const warmupSteps = o.warmupSteps ?? (o.warmupRatio === null ? 0 : Math.round(o.warmupRatio * totalSteps));
    const args = this.#trainingArgs(run.args, tokenizer, totalSteps, warmupSteps);

    let state: RunState = {
      globalStep: 0,
      position: {},
      epochs: 0,
      lossSum: 0,
      logHistory: [],
      bestMetric: null,
      bestCheckpoint: null,
    };
    const checkpointDir = resumeFrom === undefined ? null : await this.#findCheckpoint(resumeFrom);
    let saved: Record<string, unknown> | null = null;
    if (checkpointDir !== null) {
      const read = await this.#readState(checkpointDir, args, [...RESUME_KEYS, ...run.resumeKeys]);
      state = read.state;
      saved = read.position;
    }
    const cursor = await run.open(saved, path.join(checkpointDir ?? o.outputDir, TRAINER_STATE_FILE));
    try {
      state = { ...state, position: cursor.position(), epochs: cursor.epochs() };
      return await this.#loop(cursor, state, run.beforeTrain, {
        tokenizer,
        totalSteps,
        warmupSteps,
        stepsPerEpoch,
        args,
        checkpointDir,
      });
    } finally {
      await cursor.close();
    }
  }

  /**
   * The run itself, step by step: restore the checkpoint resumed from, open
   * the log, then train, log, evaluate and save until totalSteps or an abort;
   * at the end, save the model and the run's state in outputDir.
   */
  async #loop(
    cursor: Cursor,
    start: RunState,
    beforeTrain: () => void,
    run: {
      tokenizer: Tokenizer;
      totalSteps: number;
      warmupSteps: number;
      stepsPerEpoch: number | null;
      args: Record<string, unknown>;
      checkpointDir: string | null;
    },
  ): Promise<TrainResult<Metrics>> {
    const o = this.#o;
    const { tokenizer, totalSteps, warmupSteps, stepsPerEpoch, args, checkpointDir } = run;
    const group = this.#options.processGroup;
    let state = start;
    const signal = this.#options.signal;
    if (signal?.aborted) return this.#interrupted(state.globalStep, state.epochs, null);

    // From here on the model and outputDir change.
    beforeTrain();
    if (this.model.tokenizer !== tokenizer) this.model.tokenizer = tokenizer;
    const optimizer = this.model.createOptimizer({
      learningRate: o.learningRate,
      weightDecay: o.weightDecay,
      maxGradNorm: o.maxGradNorm,
      schedule: { kind: o.schedule, warmupSteps, totalSteps },
      seed: o.seed,
      ...(group ? { processGroup: group } : {}),
    });
    let bar: SingleBar | null = null;
    try {
      // What every rank must share, checked before the first step.
      await group?.agree("the model's configuration, the run's steps and options", {
        config: this.model.config,
        totalSteps,
        warmupSteps,
        stepsPerEpoch,
        seed: o.seed,
        batchSize: o.batchSize,
        gradientAccumulationSteps: o.gradientAccumulationSteps,
        learningRate: o.learningRate,
        evalEvery: o.evalEvery,
        saveEvery: o.saveEvery,
        resumedAt: state.globalStep,
      });
      bar = this.#leader ? await this.#progressBar() : null;
      if (checkpointDir !== null) await this.#restore(checkpointDir, optimizer, state.globalStep);
      const log = await this.#openLog(state.logHistory);

      bar?.start(totalSteps, state.globalStep, { epoch: state.epochs.toFixed(2), loss: "-" });
      let lastMetrics: Metrics | undefined;
      let lastCheckpoint: { step: number; dir: string } | null = null;
      const interval = { loss: 0, steps: 0 };
      while (state.globalStep < totalSteps) {
        const { result, samples, epochEnded, seconds } = await this.#trainStep(cursor, optimizer);
        state = {
          ...state,
          globalStep: result.step,
          position: cursor.position(),
          epochs: cursor.epochs(),
          lossSum: state.lossSum + result.loss,
        };
        const step = state.globalStep;
        const epoch = state.epochs;
        await this.#reportStep(step, epoch, { result, samples, seconds }, { interval, totalSteps, bar, log });

        // A stop on any rank stops them all after this step.
        const aborted = group
          ? (await group.allReduceSum([signal?.aborted ? 1 : 0]))[0] > 0
          : (signal?.aborted ?? false);
        const evalDue = o.evalEvery === null ? epochEnded : step % o.evalEvery === 0;
        const evaluated =
          this.#task.hasEvalData && !aborted && (evalDue || step === totalSteps)
            ? await this.#evaluateStep(step, epoch, tokenizer, log)
            : null;
        if (evaluated !== null) lastMetrics = evaluated;
        const saveDue = o.saveEvery === null ? epochEnded : step % o.saveEvery === 0;
        if (saveDue || aborted || (o.loadBestModelAtEnd && evaluated !== null)) {
          state = await this.#saveStep(state, evaluated, optimizer, args, stepsPerEpoch);
          lastCheckpoint = { step, dir: path.join(o.outputDir, `checkpoint-${step}`) };
        }
        if (aborted) return this.#interrupted(step, epoch, lastCheckpoint?.step === step ? lastCheckpoint.dir : null);
      }
      const completed = await this.#complete(state, args, stepsPerEpoch, lastMetrics);
      await group?.barrier();
      return completed;
    } finally {
      bar?.stop();
      optimizer.dispose();
    }
  }

  /** What `train` resolves to when an abort stopped it. */
  #interrupted(globalStep: number, epochs: number, checkpoint: string | null): TrainInterrupted {
    return { interrupted: true, globalStep, epochs, checkpoint, outputDir: this.#o.outputDir };
  }

  /** Loads the weights and optimizer state of the checkpoint resumed from, which must be at the run state's step. */
  async #restore(checkpointDir: string, optimizer: Optimizer, globalStep: number): Promise<void> {
    await this.model.loadStateDict(checkpointDir);
    await optimizer.load(checkpointDir);
    if (optimizer.step !== globalStep) {
      throw new LtgBertError(
        "LTGBERT_BAD_CHECKPOINT",
        `${checkpointDir}: optimizer.safetensors is at step ${optimizer.step}, ${TRAINER_STATE_FILE} at ${globalStep}`,
      );
    }
  }

  /**
   * Creates outputDir, clears what an interrupted save left there, and
   * rewrites train_log.jsonl from `history`; returns the function that logs
   * an entry (into `history`, the file, and a "log" event).
   */
  async #openLog(history: LogEntry[]): Promise<(entry: LogEntry) => Promise<void>> {
    const o = this.#o;
    if (!this.#leader) {
      return async (entry) => {
        history.push(entry);
        this.emit("log", entry);
      };
    }
    await makeDirectory(o.outputDir);
    await this.#removeLeftovers();
    const logFile = path.join(o.outputDir, TRAIN_LOG_FILE);
    await writeFileAtomic(logFile, history.map((e) => `${JSON.stringify(e)}\n`).join(""));
    return async (entry) => {
      history.push(entry);
      await appendFile(logFile, `${JSON.stringify(entry)}\n`);
      this.emit("log", entry);
    };
  }

  /** One optimizer step: up to gradientAccumulationSteps batches, never past its epoch's end. */
  async #trainStep(
    cursor: Cursor,
    optimizer: Optimizer,
  ): Promise<{ result: TrainStepResult; samples: number; epochEnded: boolean; seconds: number }> {
    const started = performance.now();
    const micro = [];
    let samples = 0;
    let epochEnded = false;
    const group = this.#options.processGroup;
    while (micro.length < this.#o.gradientAccumulationSteps && !epochEnded) {
      const next = await cursor.next();
      micro.push(group ? shardRows(next.batch, group.rank, group.worldSize) : next.batch);
      samples += next.rows;
      epochEnded = next.last;
    }
    // The task's batches are the inputs of its own model class.
    const model = this.model as unknown as { trainStep(b: unknown[], o: Optimizer): Promise<TrainStepResult> };
    const result = await model.trainStep(micro, optimizer);
    return { result, samples, epochEnded, seconds: (performance.now() - started) / 1000 };
  }

  /**
   * Tells of a step: a "step" event, the progress bar, and every logEvery
   * steps (and at the last) a log entry with the mean loss since the last.
   */
  async #reportStep(
    step: number,
    epoch: number,
    taken: { result: TrainStepResult; samples: number; seconds: number },
    report: {
      interval: { loss: number; steps: number };
      totalSteps: number;
      bar: SingleBar | null;
      log: (entry: LogEntry) => Promise<void>;
    },
  ): Promise<void> {
    const { result, samples, seconds } = taken;
    const { interval } = report;
    this.emit("step", {
      step,
      epoch,
      loss: result.loss,
      learningRate: result.learningRate,
      gradNorm: result.gradNorm,
      samplesPerSecond: samples / seconds,
    });
    report.bar?.update(step, { epoch: epoch.toFixed(2), loss: result.loss.toFixed(4) });
    interval.loss += result.loss;
    interval.steps++;
    if (step % this.#o.logEvery === 0 || step === report.totalSteps) {
      await report.log({
        step,
        epoch: round(epoch),
        loss: interval.loss / interval.steps,
        grad_norm: result.gradNorm,
        learning_rate: result.learningRate,
        samples_per_second: round(samples / seconds),
      });
      interval.loss = 0;
      interval.steps = 0;
    }
  }

  /** Evaluates on the eval data, logs the metrics and emits "evaluate". */
  async #evaluateStep(
    step: number,
    epoch: number,
    tokenizer: Tokenizer,
    log: (entry: LogEntry) => Promise<void>,
  ): Promise<Metrics> {
    // With a process group each rank evaluates its share of the data (the
    // question-answering task, whose answers need every window of a
    // question, evaluates the whole of it on every rank).
    const group = this.#options.processGroup;
    const shard: EvalShard | undefined = group && {
      rank: group.rank,
      world: group.worldSize,
      gather: (value) => group.allGatherJson(value),
    };
    const evaluated = await this.#task.evaluate(tokenizer, undefined, shard);
    await log({ step, epoch: round(epoch), ...this.#task.evalLog(evaluated) });
    this.emit("evaluate", { step, epoch, metrics: evaluated });
    return evaluated;
  }

  /**
   * Writes checkpoint-<step> (marking it best when `evaluated` beats the
   * best metric so far), emits "save" and rotates old checkpoints; returns
   * the run state with the best metric updated.
   */
  async #saveStep(
    state: RunState,
    evaluated: Metrics | null,
    optimizer: Optimizer,
    args: Record<string, unknown>,
    stepsPerEpoch: number | null,
  ): Promise<RunState> {
    const o = this.#o;
    const step = state.globalStep;
    const dir = path.join(o.outputDir, `checkpoint-${step}`);
    let best = false;
    if (evaluated !== null) {
      const value = (evaluated as unknown as Record<string, number>)[o.metricForBestModel];
      const lowerIsBetter = LOWER_IS_BETTER.has(o.metricForBestModel);
      if (state.bestMetric === null || (lowerIsBetter ? value < state.bestMetric : value > state.bestMetric)) {
        state = { ...state, bestMetric: value, bestCheckpoint: dir };
        best = true;
      }
    }
    await this.#writeCheckpoint(dir, optimizer, this.#stateJson(state, args, stepsPerEpoch), args);
    this.emit("save", { step, checkpoint: dir, best });
    await this.#rotateCheckpoints(dir, state.bestCheckpoint);
    return state;
  }

  /** After the last step: the final (or best) weights, trainer_state.json and training_args.json in outputDir. */
  async #complete(
    state: RunState,
    args: Record<string, unknown>,
    stepsPerEpoch: number | null,
    lastMetrics: Metrics | undefined,
  ): Promise<TrainCompleted<Metrics>> {
    const o = this.#o;
    if (this.#leader) {
      if (o.loadBestModelAtEnd && state.bestCheckpoint !== null) await this.model.loadStateDict(state.bestCheckpoint);
      await this.model.savePretrained(o.outputDir);
      await writeFileAtomic(path.join(o.outputDir, TRAINER_STATE_FILE), this.#stateJson(state, args, stepsPerEpoch));
      await writeFileAtomic(path.join(o.outputDir, TRAINING_ARGS_FILE), `${JSON.stringify(args, null, 2)}\n`);
    }
    return {
      interrupted: false,
      globalStep: state.globalStep,
      epochs: state.epochs,
      trainLoss: state.lossSum / Math.max(1, state.globalStep),
      ...(lastMetrics === undefined ? {} : { metrics: lastMetrics }),
      ...(state.bestCheckpoint === null ? {} : { bestCheckpoint: state.bestCheckpoint }),
      outputDir: o.outputDir,
    };
  }

  async #progressBar(): Promise<SingleBar | null> {
    const wanted = this.#o.progress === "auto" ? process.stderr.isTTY === true : this.#o.progress;
    if (!wanted) return null;
    // Loaded only when a bar is shown, so that it stays out of other processes' heaps.
    const { Presets, SingleBar } = await import("cli-progress");
    return new SingleBar(
      {
        stream: process.stderr,
        format:
          "training |{bar}| step {value}/{total} | epoch {epoch} | loss {loss} | {duration_formatted} < {eta_formatted}",
        hideCursor: true,
        etaBuffer: 50,
        // Asked for explicitly: a line every few seconds where stderr is no terminal.
        noTTYOutput: this.#o.progress === true,
      },
      Presets.shades_classic,
    );
  }

  /** The resolved options, JSON-serialisable: training_args.json. */
  #trainingArgs(
    data: Record<string, unknown>,
    tokenizer: Tokenizer,
    totalSteps: number,
    warmupSteps: number,
  ): Record<string, unknown> {
    const { progress: _progress, ...resolved } = this.#o;
    void _progress;
    return { ...resolved, warmupSteps, totalSteps, ...data, tokenizer: tokenizer.file };
  }

  /** trainer_state.json: Hugging Face's keys, and where in the data the next step starts. */
  #stateJson(state: RunState, args: Record<string, unknown>, stepsPerEpoch: number | null): string {
    const o = this.#o;
    const json = {
      global_step: state.globalStep,
      epoch: round(state.epochs),
      max_steps: args.totalSteps,
      num_train_epochs:
        o.maxSteps === null ? o.epochs : stepsPerEpoch === null ? null : Math.ceil(o.maxSteps / stepsPerEpoch),
      train_batch_size: o.batchSize,
      gradient_accumulation_steps: o.gradientAccumulationSteps,
      logging_steps: o.logEvery,
      eval_steps: o.evalEvery,
      save_steps: o.saveEvery,
      metric_for_best_model: o.metricForBestModel,
      best_metric: state.bestMetric,
      best_model_checkpoint: state.bestCheckpoint,
      log_history: state.logHistory,
      data_position: state.position,
      train_loss_sum: state.lossSum,
    };
    return `${JSON.stringify(json, null, 2)}\n`;
  }

  async #findCheckpoint(resumeFrom: string | true): Promise<string> {
    if (resumeFrom !== true) {
      const found = await stat(resumeFrom).catch(() => null);
      if (!found?.isDirectory())
        throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${resumeFrom}: no such checkpoint folder`);
      return resumeFrom;
    }
    const entries = await readdir(this.#o.outputDir, { withFileTypes: true }).catch(() => []);
    const steps = entries
      .filter((e) => e.isDirectory() && CHECKPOINT.test(e.name))
      .map((e) => Number(CHECKPOINT.exec(e.name)![1]))
      .sort((a, b) => b - a);
    if (steps.length === 0) {
      throw new LtgBertError(
        "LTGBERT_FILE_NOT_FOUND",
        `${this.#o.outputDir}: no checkpoint-<step> folder to resume from`,
      );
    }
    return path.join(this.#o.outputDir, `checkpoint-${steps[0]}`);
  }

  /**
   * Reads a checkpoint's trainer_state.json and checks that this run can
   * continue it exactly; its data position is for the task to check.
   */
  async #readState(
    dir: string,
    args: Record<string, unknown>,
    resumeKeys: readonly string[],
  ): Promise<{ state: RunState; position: Record<string, unknown> }> {
    const read = async (name: string): Promise<Record<string, unknown>> => {
      const file = path.join(dir, name);
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${file}: cannot be read (a checkpoint folder has one)`, {
          cause: error,
        });
      }
      try {
        const value: unknown = JSON.parse(text);
        if (typeof value === "object" && value !== null && !Array.isArray(value))
          return value as Record<string, unknown>;
        throw new Error(`expected a JSON object, got ${describe(value)}`);
      } catch (error) {
        throw new LtgBertError("LTGBERT_BAD_CHECKPOINT", `${file}: ${(error as Error).message}`, { cause: error });
      }
    };
    const saved = await read(TRAINING_ARGS_FILE);
    // Checkpoints from before data parallelism were of one process.
    saved.worldSize ??= 1;
    for (const key of resumeKeys) {
      if (JSON.stringify(saved[key]) !== JSON.stringify(args[key])) {
        throw new LtgBertError(
          "LTGBERT_INVALID_ARGUMENT",
          `${path.join(dir, TRAINING_ARGS_FILE)}: ${key} was ${describe(saved[key])}, now ${describe(args[key])}; an exact resume needs the same ${resumeKeys.join(", ")} and training data`,
        );
      }
    }
    const json = await read(TRAINER_STATE_FILE);
    const file = path.join(dir, TRAINER_STATE_FILE);
    const position = json.data_position as Record<string, unknown> | undefined;
    if (
      !isInteger(json.global_step, 0) ||
      typeof position !== "object" ||
      position === null ||
      Array.isArray(position) ||
      !Array.isArray(json.log_history)
    ) {
      throw new LtgBertError(
        "LTGBERT_BAD_CHECKPOINT",
        `${file}: expected global_step, log_history and data_position { epoch, batch_in_epoch, batches_per_epoch }`,
      );
    }
    const best = json.best_metric;
    const bestCheckpoint = json.best_model_checkpoint;
    return {
      state: {
        globalStep: json.global_step as number,
        position,
        epochs: typeof json.epoch === "number" ? json.epoch : 0,
        lossSum: typeof json.train_loss_sum === "number" ? json.train_loss_sum : 0,
        logHistory: json.log_history as LogEntry[],
        bestMetric: typeof best === "number" ? best : null,
        bestCheckpoint: typeof bestCheckpoint === "string" ? bestCheckpoint : null,
      },
      position,
    };
  }

  /** Removes the `checkpoint-<step>.tmp` folders a crashed run left behind. */
  async #removeLeftovers(): Promise<void> {
    const entries = await readdir(this.#o.outputDir, { withFileTypes: true });
    for (const e of entries) {
      if (e.isDirectory() && /^checkpoint-\d+\.tmp$/.test(e.name))
        await rm(path.join(this.#o.outputDir, e.name), { recursive: true, force: true });
    }
  }

  async #writeCheckpoint(
    dir: string,
    optimizer: Optimizer,
    stateJson: string,
    args: Record<string, unknown>,
  ): Promise<void> {
    const temp = `${dir}.tmp`;
    // Only rank 0 writes; the others take part in the optimizer's save,
    // which gathers their random states.
    if (!this.#leader) {
      await optimizer.save(temp);
      return;
    }
    await rm(temp, { recursive: true, force: true });
    await this.model.savePretrained(temp);
    await optimizer.save(temp);
    await writeFileAtomic(path.join(temp, TRAINER_STATE_FILE), stateJson);
    await writeFileAtomic(path.join(temp, TRAINING_ARGS_FILE), `${JSON.stringify(args, null, 2)}\n`);
    await replaceDirectory(temp, dir);
  }

  /** Deletes the oldest checkpoints beyond `saveTotalLimit`, never the best nor the newest. */
  async #rotateCheckpoints(newest: string, best: string | null): Promise<void> {
    const limit = this.#o.saveTotalLimit;
    if (limit === null || !this.#leader) return;
    const entries = await readdir(this.#o.outputDir, { withFileTypes: true });
    const all = entries
      .filter((e) => e.isDirectory() && CHECKPOINT.test(e.name))
      .map((e) => ({ name: e.name, step: Number(CHECKPOINT.exec(e.name)![1]) }))
      .sort((a, b) => a.step - b.step);
    const keep = new Set([path.basename(newest), best === null ? "" : path.basename(best)]);
    let excess = all.length - limit;
    for (const { name } of all) {
      if (excess <= 0) break;
      if (keep.has(name)) continue;
      await rm(path.join(this.#o.outputDir, name), { recursive: true, force: true });
      excess--;
    }
  }
}
