// The Trainer's regression task: sentence pairs with a real-valued score
// (STS-B's TSV) read and checked whole, seeded epochs of batches, the mean
// squared error as the loss, and evaluation by Pearson and Spearman.
import { invalidArgument, LtgBertError } from "../errors.js";
import type { ForwardInputs, LtgBertForSequenceClassification } from "../model.js";
import type { Tokenizer } from "../tokenizer.js";
import { readRegressionTsv, type ReadRegressionOptions, type RegressionDataset } from "../tasks/readers.js";
import { regressionMetrics } from "../tasks/metrics.js";
import {
  epochSeed,
  PlannedCursor,
  resumePosition,
  gatherItemValues,
  shardOf,
  shuffledBatches,
  TaskData,
  type EvalShard,
  type Task,
  type TaskRun,
} from "./task.js";

/** What `evaluate` gives for a regression model. */
export interface RegressionEvalMetrics {
  /** Mean squared error per example (the training loss). */
  loss: number;
  /** Pearson correlation of the predicted and gold scores. */
  pearson: number;
  /** Spearman (rank) correlation of the predicted and gold scores. */
  spearman: number;
  /** Examples evaluated. */
  samples: number;
}

export interface RegressionSettings {
  trainData: RegressionDataset | string;
  evalData: RegressionDataset | string | undefined;
  readOptions: ReadRegressionOptions | undefined;
  batchSize: number;
  evalBatchSize: number;
  seed: number;
  maxLength: number;
}

function isRegressionDataset(value: unknown): value is RegressionDataset {
  const d = value as RegressionDataset;
  return typeof value === "object" && value !== null && Array.isArray(d.examples) && d.problemType === "regression";
}

/** Throws unless `value` is a RegressionDataset or a non-empty path. */
export function checkRegressionData(name: string, value: unknown): void {
  if (typeof value === "string" ? value === "" : !isRegressionDataset(value))
    throw invalidArgument(name, "a RegressionDataset (readRegressionTsv's) or a data file path", value);
}

/** @internal The Trainer's regression task: one output, the score. */
export class RegressionTask implements Task<RegressionEvalMetrics> {
  readonly #data: TaskData<RegressionDataset>;

  constructor(
    private readonly model: LtgBertForSequenceClassification,
    readonly settings: RegressionSettings,
  ) {
    if (model.numLabels !== 1) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        `model: the Trainer trains regression models with one output (num_labels 1, a score); this one has num_labels ${model.numLabels}`,
      );
    }
    this.#data = new TaskData((d) => this.#read(d), settings.trainData, settings.evalData);
  }

  get hasEvalData(): boolean {
    return this.settings.evalData !== undefined;
  }

  async #read(data: RegressionDataset | string): Promise<RegressionDataset> {
    return typeof data === "string" ? readRegressionTsv(data, this.settings.readOptions) : data;
  }

  /** Pairs `rows` of `data` as a padded batch, with their scores as Float32 labels when asked. */
  async encode(
    tokenizer: Tokenizer,
    data: RegressionDataset,
    rows: readonly number[],
    withLabels: boolean,
  ): Promise<ForwardInputs> {
    const examples = rows.map((r) => data.examples[r]);
    const enc = await tokenizer.encodeBatch(
      examples.map((e) => [e.sentence1, e.sentence2] as const),
      { maxLength: this.settings.maxLength },
    );
    return {
      inputIds: enc.inputIds,
      attentionMask: enc.attentionMask,
      ...(withLabels ? { labels: Float32Array.from(examples, (e) => e.score) } : {}),
    };
  }

  async prepare(tokenizer: Tokenizer): Promise<TaskRun> {
    const train = await this.#data.train();
    const evalData = await this.#data.eval();
    const batchesPerEpoch = Math.ceil(train.examples.length / this.settings.batchSize);
    return {
      batchesPerEpoch,
      args: {
        task: "regression",
        maxLength: this.settings.maxLength,
        trainData: train.file,
        trainExamples: train.examples.length,
        evalData: evalData?.file ?? null,
        evalExamples: evalData?.examples.length ?? null,
        readOptions: this.settings.readOptions ?? {},
      },
      resumeKeys: ["maxLength"],
      open: async (position, file) =>
        new PlannedCursor(
          batchesPerEpoch,
          resumePosition(position, file, batchesPerEpoch),
          (epoch) =>
            shuffledBatches(train.examples.length, this.settings.batchSize, epochSeed(this.settings.seed, epoch)),
          (rows) => this.encode(tokenizer, train, rows, true),
        ),
      beforeTrain: () => {},
    };
  }

  async evaluate(tokenizer: Tokenizer, data?: unknown, shard?: EvalShard): Promise<RegressionEvalMetrics> {
    if (data !== undefined) checkRegressionData("data", data);
    const dataset = await this.#data.forEvaluate(data as RegressionDataset | string | undefined);
    const { scores, loss } = await this.predict(tokenizer, dataset, shard);
    const m = regressionMetrics(
      scores,
      dataset.examples.map((e) => e.score),
    );
    return { loss, pearson: m.pearson, spearman: m.spearman, samples: dataset.examples.length };
  }

  /** The predicted score of every pair, in order, and the mean squared error. */
  async predict(
    tokenizer: Tokenizer,
    dataset: RegressionDataset,
    shard?: EvalShard,
  ): Promise<{ scores: Float64Array; loss: number }> {
    const scores = new Float64Array(dataset.examples.length);
    let lossSum = 0;
    const mine: number[] = []; // (row, score) pairs of this shard
    for (const rows of shardOf(shuffledBatches(dataset.examples.length, this.settings.evalBatchSize, null), shard)) {
      const batch = await this.encode(tokenizer, dataset, rows, true);
      const out = await this.model.forward(batch, { hiddenStates: false });
      lossSum += out.loss! * rows.length;
      rows.forEach((r, i) => {
        scores[r] = out.logits.data[i];
        mine.push(r, scores[r]);
      });
    }
    lossSum = await gatherItemValues(shard, lossSum, mine, scores);
    return { scores, loss: lossSum / dataset.examples.length };
  }

  evalLog(metrics: RegressionEvalMetrics): Record<string, number> {
    return {
      eval_loss: metrics.loss,
      eval_pearson: metrics.pearson,
      eval_spearman: metrics.spearman,
      eval_samples: metrics.samples,
    };
  }
}
