// The Trainer's sequence-classification task: labelled datasets read and
// checked whole, seeded epochs of padded batches, and evaluation by
// accuracy, macro-F1 and MCC.
import { makeBatches, readDataset, type Batches, type Dataset, type ReadDatasetOptions } from "../data.js";
import { invalidArgument, LtgBertError } from "../errors.js";
import { classificationMetrics } from "../metrics.js";
import type { LtgBertForSequenceClassification } from "../model.js";
import type { Tokenizer } from "../tokenizer.js";
import {
  resumePosition,
  gatherItemValues,
  shardOf,
  type Cursor,
  type CursorBatch,
  type EvalShard,
  type Task,
  type TaskRun,
} from "./task.js";

/** What `evaluate` gives for a classifier. */
export interface EvalMetrics {
  /** Mean cross-entropy per example. */
  loss: number;
  accuracy: number;
  macroF1: number;
  mcc: number;
  /** Examples evaluated. */
  samples: number;
}

/** The classification task's options, resolved. */
export interface ClassificationSettings {
  trainData: Dataset | string;
  evalData: Dataset | string | undefined;
  readOptions: Omit<ReadDatasetOptions, "numLabels"> | undefined;
  batchSize: number;
  evalBatchSize: number;
  seed: number;
  maxLength: number;
  groupByLength: boolean;
}

function isDataset(value: unknown): value is Dataset {
  const d = value as Dataset;
  return (
    typeof value === "object" &&
    value !== null &&
    Array.isArray(d.texts) &&
    d.labels instanceof Int32Array &&
    d.lines instanceof Int32Array &&
    Array.isArray(d.labelNames) &&
    d.labels.length === d.texts.length
  );
}

/** Throws unless `value` is a Dataset or a non-empty path. */
export function checkData(name: string, value: unknown): void {
  if (typeof value === "string" ? value === "" : !isDataset(value))
    throw invalidArgument(name, "a Dataset (readDataset's) or a data file path", value);
}

/** True when a dataset's labels are names ("negative", …) rather than the ids "0", "1", …. */
function hasNamedLabels(dataset: Dataset): boolean {
  return dataset.labelNames.some((name, i) => name !== String(i));
}

function badData(file: string, line: number | null, message: string): LtgBertError {
  return new LtgBertError("LTGBERT_BAD_DATA", `${file}${line === null ? "" : `:${line}`}: ${message}`);
}

/**
 * Fits a dataset's labels to the model: label names are mapped to the ids
 * of `reference` when one is given; otherwise ids are checked against
 * `numLabels` and named labels must be exactly `numLabels` names.
 */
function fitLabels(dataset: Dataset, numLabels: number, reference: readonly string[] | null): Dataset {
  const names = dataset.labelNames;
  const named = hasNamedLabels(dataset);
  const quoted = (list: readonly string[]): string => list.map((n) => JSON.stringify(n)).join(", ");
  if (named && reference !== null && names.join("\u0000") !== reference.join("\u0000")) {
    const labels = new Int32Array(dataset.size);
    dataset.labels.forEach((id, i) => {
      const target = reference.indexOf(names[id]);
      if (target < 0) {
        throw badData(
          dataset.file,
          dataset.lines[i],
          `label ${JSON.stringify(names[id])} is not one of the model's labels (${quoted(reference)})`,
        );
      }
      labels[i] = target;
    });
    return { ...dataset, labels, labelNames: [...reference] };
  }
  dataset.labels.forEach((id, i) => {
    if (id < 0 || id >= numLabels) {
      const value = named && names[id] !== undefined ? `${JSON.stringify(names[id])} (id ${id})` : String(id);
      throw badData(
        dataset.file,
        dataset.lines[i],
        `label ${value} is outside [0, ${numLabels}) (numLabels ${numLabels})`,
      );
    }
  });
  if (named && reference === null && names.length !== numLabels) {
    throw badData(
      dataset.file,
      null,
      `${names.length} label name${names.length === 1 ? "" : "s"} (${quoted(names)}), but the model has numLabels ${numLabels}`,
    );
  }
  return dataset;
}

interface Prepared {
  train: Dataset;
  eval: Dataset | null;
  /** The train set's label names, when its labels are names rather than ids. */
  labelNames: string[] | null;
}

/** Epochs of seeded batches of a labelled dataset, from (epoch, batch in epoch). */
class ClassificationCursor implements Cursor {
  #epoch: number;
  #batchInEpoch: number;
  #batches: Batches | null;

  readonly #task: ClassificationTask;
  readonly #train: Dataset;
  readonly #tokenizer: Tokenizer;
  readonly #batchesPerEpoch: number;

  constructor(
    task: ClassificationTask,
    train: Dataset,
    tokenizer: Tokenizer,
    batchesPerEpoch: number,
    epoch: number,
    batchInEpoch: number,
    first: Batches,
  ) {
    this.#task = task;
    this.#train = train;
    this.#tokenizer = tokenizer;
    this.#batchesPerEpoch = batchesPerEpoch;
    this.#epoch = epoch;
    this.#batchInEpoch = batchInEpoch;
    this.#batches = epoch === 0 ? first : null;
  }

  async next(): Promise<CursorBatch> {
    this.#batches ??= await makeBatches(this.#train, this.#tokenizer, this.#task.planOptions(this.#epoch));
    const { inputIds, attentionMask, labels } = this.#batches.at(this.#batchInEpoch++);
    const last = this.#batchInEpoch === this.#batches.length;
    if (last) {
      this.#epoch++;
      this.#batchInEpoch = 0;
      this.#batches = null;
    }
    return { batch: { inputIds, attentionMask, labels }, rows: labels.length, last };
  }

  position(): Record<string, unknown> {
    return { epoch: this.#epoch, batch_in_epoch: this.#batchInEpoch, batches_per_epoch: this.#batchesPerEpoch };
  }

  epoch(): number {
    return this.#epoch;
  }

  epochs(): number {
    return this.#epoch + this.#batchInEpoch / this.#batchesPerEpoch;
  }

  async close(): Promise<void> {}
}

/** @internal The Trainer's classification task. */
export class ClassificationTask implements Task<EvalMetrics> {
  #prepared: Promise<Prepared> | null = null;

  readonly #model: LtgBertForSequenceClassification;
  readonly #o: ClassificationSettings;

  constructor(model: LtgBertForSequenceClassification, o: ClassificationSettings) {
    this.#model = model;
    this.#o = o;
  }

  get hasEvalData(): boolean {
    return this.#o.evalData !== undefined;
  }

  planOptions(epoch: number): Parameters<typeof makeBatches>[2] {
    return {
      batchSize: this.#o.batchSize,
      maxLength: this.#o.maxLength,
      seed: this.#o.seed,
      epoch,
      shuffle: true,
      groupByLength: this.#o.groupByLength,
    };
  }

  /** The model's label names when config.json names them (not "LABEL_i"), else null. */
  #modelLabelNames(): string[] | null {
    const names = this.#model.labelNames;
    return names.every((name, i) => name === `LABEL_${i}`) ? null : names;
  }

  /** Reads (once) and checks every data file, before anything is written. */
  #prepare(): Promise<Prepared> {
    this.#prepared ??= (async () => {
      const numLabels = this.#model.numLabels;
      const trainRaw = await this.#read(this.#o.trainData);
      const train = fitLabels(trainRaw, numLabels, hasNamedLabels(trainRaw) ? this.#modelLabelNames() : null);
      const labelNames = hasNamedLabels(train) ? train.labelNames : null;
      const evalData = this.#o.evalData === undefined ? null : await this.#readEval(this.#o.evalData, labelNames);
      return { train, eval: evalData, labelNames };
    })();
    this.#prepared.catch(() => (this.#prepared = null));
    return this.#prepared;
  }

  async #read(data: Dataset | string): Promise<Dataset> {
    if (typeof data !== "string") return data;
    return readDataset(data, { ...(this.#o.readOptions ?? {}), numLabels: this.#model.numLabels });
  }

  async #readEval(data: Dataset | string, trainNames: string[] | null): Promise<Dataset> {
    const dataset = await this.#read(data);
    const reference = hasNamedLabels(dataset) ? (trainNames ?? this.#modelLabelNames()) : null;
    return fitLabels(dataset, this.#model.numLabels, reference);
  }

  async prepare(tokenizer: Tokenizer): Promise<TaskRun> {
    const { train, eval: evalData, labelNames } = await this.#prepare();
    // Tokenizing now also means a text the tokenizer cannot take fails before any write.
    const first = await makeBatches(train, tokenizer, this.planOptions(0));
    const batchesPerEpoch = first.length;
    return {
      batchesPerEpoch,
      args: {
        maxLength: this.#o.maxLength,
        groupByLength: this.#o.groupByLength,
        trainData: train.file,
        trainExamples: train.size,
        evalData: evalData?.file ?? null,
        evalExamples: evalData?.size ?? null,
        readOptions: this.#o.readOptions ?? {},
      },
      resumeKeys: ["groupByLength", "maxLength"],
      open: async (position, file) => {
        const { epoch, batchInEpoch } = resumePosition(position, file, batchesPerEpoch);
        return new ClassificationCursor(this, train, tokenizer, batchesPerEpoch, epoch, batchInEpoch, first);
      },
      beforeTrain: () => {
        if (labelNames !== null) this.#model.setLabelNames(labelNames);
      },
    };
  }

  async evaluate(tokenizer: Tokenizer, data?: unknown, shard?: EvalShard): Promise<EvalMetrics> {
    if (data !== undefined) checkData("data", data);
    const prepared = await this.#prepare();
    const dataset =
      data === undefined ? prepared.eval : await this.#readEval(data as Dataset | string, prepared.labelNames);
    if (dataset === null) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        "Trainer.evaluate: no data; pass evalData to the Trainer or a dataset to evaluate()",
      );
    }
    const batches = await makeBatches(dataset, tokenizer, {
      batchSize: this.#o.evalBatchSize,
      maxLength: this.#o.maxLength,
      shuffle: false,
      groupByLength: true,
    });
    const k = this.#model.numLabels;
    const predictions = new Int32Array(dataset.size);
    let lossSum = 0;
    const mine: number[] = []; // (index, prediction) pairs of this shard
    for (const b of shardOf([...Array(batches.length).keys()], shard)) {
      const { inputIds, attentionMask, labels, indices } = batches.at(b);
      const out = await this.#model.forward({ inputIds, attentionMask, labels }, { hiddenStates: false });
      lossSum += out.loss! * labels.length;
      indices.forEach((index, r) => {
        let best = 0;
        for (let c = 1; c < k; c++) if (out.logits.data[r * k + c] > out.logits.data[r * k + best]) best = c;
        predictions[index] = best;
        mine.push(index, best);
      });
    }
    lossSum = await gatherItemValues(shard, lossSum, mine, predictions);
    const metrics = classificationMetrics(predictions, dataset.labels, k);
    return { loss: lossSum / dataset.size, ...metrics, samples: dataset.size };
  }

  evalLog(metrics: EvalMetrics): Record<string, number> {
    return {
      eval_loss: metrics.loss,
      eval_accuracy: metrics.accuracy,
      eval_macro_f1: metrics.macroF1,
      eval_mcc: metrics.mcc,
      eval_samples: metrics.samples,
    };
  }
}
