// What the Trainer's loop needs from a task (sequence classification, masked
// LM): its data as a cursor over batches whose position goes into
// checkpoints, and its evaluation. The loop itself (steps, logging,
// checkpoints, resume) is the same for every task.
import type { ForwardInputs, MultipleChoiceInputs, QuestionAnsweringInputs } from "../model.js";
import type { Tokenizer } from "../tokenizer.js";

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

/** A task: its data and its evaluation. `M` is its metrics. */
export interface Task<M> {
  prepare(tokenizer: Tokenizer): Promise<TaskRun>;
  evaluate(tokenizer: Tokenizer, data?: unknown): Promise<M>;
  /** Whether `evaluate` has data without an argument. */
  readonly hasEvalData: boolean;
  /** The log entry's keys of an evaluation (`eval_loss`, …). */
  evalLog(metrics: M): Record<string, number>;
}
