// What the Trainer's loop needs from a task (sequence classification, masked
// LM): its data as a cursor over batches whose position goes into
// checkpoints, and its evaluation. The loop itself (steps, logging,
// checkpoints, resume) is the same for every task.
import type { ForwardInputs, MultipleChoiceInputs, QuestionAnsweringInputs } from "../model.js";
import type { Tokenizer } from "../tokenizer.js";
import { shuffle } from "../data.js";
import { LtgBertError } from "../errors.js";
import { isInteger } from "../validate.js";

/** A training batch and what the loop reports about it. */
export interface CursorBatch {
  batch: ForwardInputs | QuestionAnsweringInputs | MultipleChoiceInputs;
  /** Sequences in it (for samples per second). */
  rows: number;
  /** True when it is its epoch's last batch: an optimizer step never spans two epochs. */
  last: boolean;
}

/** Training batches in order, from a position a checkpoint saved. */
export interface Cursor {
  next(): Promise<CursorBatch>;
  /** trainer_state.json's `data_position`: where the next batch starts. */
  position(): Record<string, unknown>;
  /** The epoch of the next batch (whole number). */
  epoch(): number;
  /** Epochs done, fractional. */
  epochs(): number;
  /** Frees what it holds open (files). */
  close(): Promise<void>;
}

/** One training run's data, read and checked before anything is written. */
export interface TaskRun {
  /** Null when unknown without a pass over the data (a stream trained for `maxSteps`). */
  batchesPerEpoch: number | null;
  /** The data's part of training_args.json. */
  args: Record<string, unknown>;
  /** training_args.json keys that a resumed run must share with the run it continues. */
  resumeKeys: readonly string[];
  /** Checks a checkpoint's `data_position` (`file` names it in errors) and returns a cursor there; null: the start. */
  open(position: Record<string, unknown> | null, file: string): Promise<Cursor>;
  /** Changes the model may need once training starts (label names). */
  beforeTrain(): void;
}

/**
 * One rank's part of a data-parallel evaluation: it runs every world-th
 * batch from its rank (`shardOf`), and the parts come together through
 * `gather`, so that every rank ends with the metrics of the whole data.
 */
export interface EvalShard {
  readonly rank: number;
  readonly world: number;
  /** Every rank's value, in rank order. */
  gather<T>(value: T): Promise<T[]>;
}

/** The items a shard runs: every world-th from its rank; all of them without a shard. */
export function shardOf<T>(items: readonly T[], shard: EvalShard | undefined): T[] {
  return shard === undefined ? [...items] : items.filter((_, i) => i % shard.world === shard.rank);
}

/**
 * The end of a sharded evaluation whose results are one number per item:
 * gathers every rank's (item, value) pairs into `values` and returns the
 * sum of the ranks' loss sums. Without a shard, `lossSum` as it is.
 */
export async function gatherItemValues(
  shard: EvalShard | undefined,
  lossSum: number,
  pairs: number[],
  values: { [index: number]: number },
): Promise<number> {
  if (shard === undefined) return lossSum;
  let total = 0;
  for (const part of await shard.gather({ lossSum, pairs })) {
    total += part.lossSum;
    for (let i = 0; i < part.pairs.length; i += 2) values[part.pairs[i]] = part.pairs[i + 1];
  }
  return total;
}

/** A task: its data and its evaluation. `M` is its metrics. */
export interface Task<M> {
  prepare(tokenizer: Tokenizer): Promise<TaskRun>;
  /** With `shard`, this rank evaluates its share and the ranks combine their parts. */
  evaluate(tokenizer: Tokenizer, data?: unknown, shard?: EvalShard): Promise<M>;
  /** Whether `evaluate` has data without an argument. */
  readonly hasEvalData: boolean;
  /** The log entry's keys of an evaluation (`eval_loss`, …). */
  evalLog(metrics: M): Record<string, number>;
}

/** The seed of epoch `epoch`'s order, from the run's seed. */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed, 0x9e3779b1) ^ (epoch + 1)) >>> 0;
}

/**
 * Checks a checkpoint's `data_position` ({ epoch, batch_in_epoch,
 * batches_per_epoch }, `file` names it in errors) against this run's
 * batches per epoch; null is the start.
 */
export function resumePosition(
  position: Record<string, unknown> | null,
  file: string,
  batchesPerEpoch: number,
): { epoch: number; batchInEpoch: number } {
  if (position === null) return { epoch: 0, batchInEpoch: 0 };
  if (!isInteger(position.epoch, 0) || !isInteger(position.batch_in_epoch, 0)) {
    throw new LtgBertError(
      "LTGBERT_BAD_CHECKPOINT",
      `${file}: expected global_step, log_history and data_position { epoch, batch_in_epoch, batches_per_epoch }`,
    );
  }
  if (position.batches_per_epoch !== batchesPerEpoch) {
    throw new LtgBertError(
      "LTGBERT_INVALID_ARGUMENT",
      `${file}: the run had ${String(position.batches_per_epoch)} batches per epoch, this one has ${batchesPerEpoch}; an exact resume needs the same training data and batch size`,
    );
  }
  return { epoch: position.epoch as number, batchInEpoch: position.batch_in_epoch as number };
}

/**
 * Epochs of batches whose rows an epoch's plan lists (seeded by epoch), each
 * encoded when it is due: the cursor of the tasks whose data is held whole.
 */
export class PlannedCursor implements Cursor {
  #epoch: number;
  #batchInEpoch: number;
  #plan: number[][] | null = null;

  constructor(
    private readonly batchesPerEpoch: number,
    start: { epoch: number; batchInEpoch: number },
    private readonly planOf: (epoch: number) => number[][],
    private readonly encode: (rows: number[]) => Promise<CursorBatch["batch"]>,
  ) {
    this.#epoch = start.epoch;
    this.#batchInEpoch = start.batchInEpoch;
  }

  async next(): Promise<CursorBatch> {
    this.#plan ??= this.planOf(this.#epoch);
    const rows = this.#plan[this.#batchInEpoch];
    const batch = await this.encode(rows);
    this.#batchInEpoch++;
    const last = this.#batchInEpoch === this.batchesPerEpoch;
    if (last) {
      this.#epoch++;
      this.#batchInEpoch = 0;
      this.#plan = null;
    }
    return { batch, rows: rows.length, last };
  }

  position(): Record<string, unknown> {
    return { epoch: this.#epoch, batch_in_epoch: this.#batchInEpoch, batches_per_epoch: this.batchesPerEpoch };
  }

  epoch(): number {
    return this.#epoch;
  }

  epochs(): number {
    return this.#epoch + this.#batchInEpoch / this.batchesPerEpoch;
  }

  async close(): Promise<void> {}
}

/** Rows 0 … n−1 in a seeded order (or in order, for seed null), cut into batches of `size`. */
export function shuffledBatches(n: number, size: number, seed: number | null): number[][] {
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  const order = seed === null ? rows : shuffle(rows, seed);
  const out: number[][] = [];
  for (let i = 0; i < n; i += size) out.push([...order.subarray(i, i + size)]);
  return out;
}

/**
 * A task's train and eval data, each read once (a failed read is tried
 * again next time), and any other data `evaluate` is given.
 */
export class TaskData<D> {
  #train: Promise<D> | null = null;
  #eval: Promise<D | null> | null = null;

  constructor(
    private readonly read: (data: D | string) => Promise<D>,
    private readonly trainData: D | string,
    private readonly evalData: D | string | undefined,
  ) {}

  train(): Promise<D> {
    this.#train ??= this.read(this.trainData);
    this.#train.catch(() => (this.#train = null));
    return this.#train;
  }

  eval(): Promise<D | null> {
    this.#eval ??= this.evalData === undefined ? Promise.resolve(null) : this.read(this.evalData);
    this.#eval.catch(() => (this.#eval = null));
    return this.#eval;
  }

  /** `data` read, or the eval data without it; an error saying what to pass when there is neither. */
  async forEvaluate(data: D | string | undefined): Promise<D> {
    const dataset = data === undefined ? await this.eval() : await this.read(data);
    if (dataset === null) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        "Trainer.evaluate: no data; pass evalData to the Trainer or a dataset to evaluate()",
      );
    }
    return dataset;
  }
}
