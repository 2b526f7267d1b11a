// The Trainer's multiple-choice task: questions with their choices (ARC's
// JSONL, or CSV) read and checked whole, batches of questions with the same
// number of choices (a [B, C, T] batch needs one C), seeded epochs, and
// evaluation by accuracy beside the chance level of the same questions.
import { shuffle } from "../data.js";
import { invalidArgument, LtgBertError } from "../errors.js";
import type { LtgBertForMultipleChoice, MultipleChoiceInputs } from "../model.js";
import type { Tokenizer } from "../tokenizer.js";
import { encodeMultipleChoice, groupByChoiceCount } from "../tasks/preprocess.js";
import { readMultipleChoice, type MultipleChoiceDataset, type ReadMultipleChoiceOptions } from "../tasks/readers.js";
import { multipleChoiceMetrics } from "../tasks/metrics.js";
import {
  epochSeed,
  PlannedCursor,
  resumePosition,
  gatherItemValues,
  shardOf,
  TaskData,
  type EvalShard,
  type Task,
  type TaskRun,
} from "./task.js";

/** What `evaluate` gives for a multiple-choice model. */
export interface MultipleChoiceEvalMetrics {
  /** Mean cross-entropy over the choices, per question. */
  loss: number;
  accuracy: number;
  /** The accuracy of guessing: the mean of 1 / (choices) over the questions. */
  chance: number;
  /** Questions evaluated. */
  samples: number;
}

export interface MultipleChoiceSettings {
  trainData: MultipleChoiceDataset | string;
  evalData: MultipleChoiceDataset | string | undefined;
  readOptions: ReadMultipleChoiceOptions | undefined;
  batchSize: number;
  evalBatchSize: number;
  seed: number;
  maxLength: number;
}

function isChoiceDataset(value: unknown): value is MultipleChoiceDataset {
  const d = value as MultipleChoiceDataset;
  return typeof value === "object" && value !== null && Array.isArray(d.examples) && typeof d.maxChoices === "number";
}

/** Throws unless `value` is a MultipleChoiceDataset or a non-empty path. */
export function checkChoiceData(name: string, value: unknown): void {
  if (typeof value === "string" ? value === "" : !isChoiceDataset(value))
    throw invalidArgument(name, "a MultipleChoiceDataset (readMultipleChoice's) or a data file path", value);
}

/** The batches of an epoch: questions shuffled, split by choice count, cut into batches, and the batches shuffled. */
export function choiceBatches(data: MultipleChoiceDataset, batchSize: number, seed: number | null): number[][] {
  const n = data.examples.length;
  const order =
    seed === null
      ? Int32Array.from({ length: n }, (_, i) => i)
      : shuffle(
          Int32Array.from({ length: n }, (_, i) => i),
          seed,
        );
  const groups = groupByChoiceCount([...order].map((i) => data.examples[i]));
  const batches: number[][] = [];
  for (const [, members] of [...groups].sort((a, b) => a[0] - b[0])) {
    const questions = members.map((m) => order[m]);
    for (let i = 0; i < questions.length; i += batchSize) batches.push(questions.slice(i, i + batchSize));
  }
  if (seed === null) return batches;
  const permutation = shuffle(
    Int32Array.from(batches, (_, i) => i),
    (seed ^ 0x5bd1e995) >>> 0,
  );
  return [...permutation].map((i) => batches[i]);
}

/** @internal The Trainer's multiple-choice task. */
export class MultipleChoiceTask implements Task<MultipleChoiceEvalMetrics> {
  readonly #data: TaskData<MultipleChoiceDataset>;

  constructor(
    private readonly model: LtgBertForMultipleChoice,
    readonly settings: MultipleChoiceSettings,
  ) {
    this.#data = new TaskData((d) => this.#read(d), settings.trainData, settings.evalData);
  }

  get hasEvalData(): boolean {
    return this.settings.evalData !== undefined;
  }

  async #read(data: MultipleChoiceDataset | string): Promise<MultipleChoiceDataset> {
    const d = typeof data === "string" ? await readMultipleChoice(data, this.settings.readOptions) : data;
    if (d.examples.length === 0) throw new LtgBertError("LTGBERT_BAD_DATA", `${d.file}: no questions`);
    return d;
  }

  /** Questions `rows` (all with one number of choices) as a [B, C, T] batch. */
  async encode(
    tokenizer: Tokenizer,
    data: MultipleChoiceDataset,
    rows: readonly number[],
    withLabels: boolean,
  ): Promise<MultipleChoiceInputs> {
    const examples = rows.map((r) => data.examples[r]);
    const enc = await encodeMultipleChoice(tokenizer, examples, { maxLength: this.settings.maxLength });
    return {
      inputIds: enc.inputIds,
      attentionMask: enc.attentionMask,
      ...(withLabels ? { labels: Int32Array.from(examples, (e) => e.label) } : {}),
    };
  }

  async prepare(tokenizer: Tokenizer): Promise<TaskRun> {
    const train = await this.#data.train();
    const evalData = await this.#data.eval();
    const batchesPerEpoch = choiceBatches(train, this.settings.batchSize, null).length;
    return {
      batchesPerEpoch,
      args: {
        task: "multiple_choice",
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
          (epoch) => choiceBatches(train, this.settings.batchSize, epochSeed(this.settings.seed, epoch)),
          (rows) => this.encode(tokenizer, train, rows, true),
        ),
      beforeTrain: () => {},
    };
  }

  async evaluate(tokenizer: Tokenizer, data?: unknown, shard?: EvalShard): Promise<MultipleChoiceEvalMetrics> {
    if (data !== undefined) checkChoiceData("data", data);
    const dataset = await this.#data.forEvaluate(data as MultipleChoiceDataset | string | undefined);
    const { choices, loss } = await this.predict(tokenizer, dataset, shard);
    const m = multipleChoiceMetrics(
      choices,
      dataset.examples.map((e) => e.label),
      dataset.examples.map((e) => e.choices.length),
    );
    return { loss, accuracy: m.accuracy, chance: m.chance, samples: m.total };
  }

  /** The chosen option of every question (its index), and the mean loss. */
  async predict(
    tokenizer: Tokenizer,
    dataset: MultipleChoiceDataset,
    shard?: EvalShard,
  ): Promise<{ choices: Int32Array; loss: number }> {
    const choices = new Int32Array(dataset.examples.length);
    let lossSum = 0;
    const mine: number[] = []; // (question, choice) pairs of this shard
    for (const rows of shardOf(choiceBatches(dataset, this.settings.evalBatchSize, null), shard)) {
      const batch = await this.encode(tokenizer, dataset, rows, true);
      const out = await this.model.forward(batch);
      lossSum += out.loss! * rows.length;
      const C = dataset.examples[rows[0]].choices.length;
      rows.forEach((r, i) => {
        let best = 0;
        for (let c = 1; c < C; c++) if (out.logits.data[i * C + c] > out.logits.data[i * C + best]) best = c;
        choices[r] = best;
        mine.push(r, best);
      });
    }
    lossSum = await gatherItemValues(shard, lossSum, mine, choices);
    return { choices, loss: lossSum / dataset.examples.length };
  }

  evalLog(metrics: MultipleChoiceEvalMetrics): Record<string, number> {
    return {
      eval_loss: metrics.loss,
      eval_accuracy: metrics.accuracy,
      eval_chance: metrics.chance,
      eval_samples: metrics.samples,
    };
  }
}
