// The Trainer's question-answering task: SQuAD files (v1.1 or v2.0) read
// and checked whole, every context cut into overlapping windows once
// (encodeQuestionAnswering), seeded epochs of batches of windows, and
// evaluation as SQuAD reports it: the best span of each question over its
// windows (extractAnswers), scored by exact match and F1 against the gold
// answers.
import { invalidArgument, LtgBertError } from "../errors.js";
import type { LtgBertForQuestionAnswering, QuestionAnsweringInputs } from "../model.js";
import type { Tokenizer } from "../tokenizer.js";
import { encodeQuestionAnswering, extractAnswers, type QuestionAnsweringEncoding } from "../tasks/preprocess.js";
import { readSquad, type SquadDataset } from "../tasks/readers.js";
import { squadMetrics } from "../tasks/metrics.js";
import {
  epochSeed,
  PlannedCursor,
  resumePosition,
  TaskData,
  shuffledBatches,
  type Task,
  type TaskRun,
} from "./task.js";

/** What `evaluate` gives for a question-answering model. */
export interface QuestionAnsweringEvalMetrics {
  /** Mean loss (start and end cross-entropy averaged) per window. */
  loss: number;
  /** SQuAD's exact match and F1, 0–100 as its script reports them. */
  exactMatch: number;
  f1: number;
  /** Questions evaluated. */
  samples: number;
  /** Windows they were cut into. */
  windows: number;
}

/** The task's options, resolved. */
export interface QuestionAnsweringSettings {
  trainData: SquadDataset | string;
  evalData: SquadDataset | string | undefined;
  batchSize: number;
  evalBatchSize: number;
  seed: number;
  maxLength: number;
  docStride: number;
  maxQuestionLength: number;
  maxAnswerLength: number;
  nBest: number;
}

function isSquad(value: unknown): value is SquadDataset {
  const d = value as SquadDataset;
  return typeof value === "object" && value !== null && Array.isArray(d.examples) && typeof d.file === "string";
}

/** Throws unless `value` is a SquadDataset or a non-empty path. */
export function checkSquadData(name: string, value: unknown): void {
  if (typeof value === "string" ? value === "" : !isSquad(value))
    throw invalidArgument(name, "a SquadDataset (readSquad's) or a SQuAD JSON file path", value);
}

/** Rows `rows` of an encoding, trimmed to the longest of them. */
export function windowsBatch(enc: QuestionAnsweringEncoding, rows: readonly number[], withPositions: boolean) {
  const [, T] = enc.inputIds.shape;
  let width = 0;
  for (const r of rows) {
    let n = T;
    while (n > 0 && enc.attentionMask.data[r * T + n - 1] === 0) n--;
    width = Math.max(width, n);
  }
  const ids = new Int32Array(rows.length * width);
  const mask = new Int32Array(rows.length * width);
  rows.forEach((r, i) => {
    ids.set(enc.inputIds.data.subarray(r * T, r * T + width), i * width);
    mask.set(enc.attentionMask.data.subarray(r * T, r * T + width), i * width);
  });
  const batch: QuestionAnsweringInputs = {
    inputIds: { data: ids, shape: [rows.length, width] },
    attentionMask: { data: mask, shape: [rows.length, width] },
  };
  if (withPositions) {
    batch.startPositions = Int32Array.from(rows, (r) => enc.startPositions[r]);
    batch.endPositions = Int32Array.from(rows, (r) => enc.endPositions[r]);
  }
  return { batch, width };
}

/** @internal The Trainer's question-answering task. */
export class QuestionAnsweringTask implements Task<QuestionAnsweringEvalMetrics> {
  readonly #data: TaskData<SquadDataset>;

  constructor(
    private readonly model: LtgBertForQuestionAnswering,
    readonly settings: QuestionAnsweringSettings,
  ) {
    this.#data = new TaskData((d) => this.#read(d), settings.trainData, settings.evalData);
  }

  get hasEvalData(): boolean {
    return this.settings.evalData !== undefined;
  }

  async #read(data: SquadDataset | string): Promise<SquadDataset> {
    const dataset = typeof data === "string" ? await readSquad(data) : data;
    if (dataset.examples.length === 0) throw new LtgBertError("LTGBERT_BAD_DATA", `${dataset.file}: no questions`);
    return dataset;
  }

  encode(tokenizer: Tokenizer, data: SquadDataset): Promise<QuestionAnsweringEncoding> {
    const s = this.settings;
    return encodeQuestionAnswering(tokenizer, data.examples, {
      maxLength: s.maxLength,
      docStride: s.docStride,
      maxQuestionLength: s.maxQuestionLength,
    });
  }

  async prepare(tokenizer: Tokenizer): Promise<TaskRun> {
    const train = await this.#data.train();
    const evalData = await this.#data.eval();
    const enc = await this.encode(tokenizer, train);
    const F = enc.example.length;
    const batchesPerEpoch = Math.ceil(F / this.settings.batchSize);
    const s = this.settings;
    return {
      batchesPerEpoch,
      args: {
        task: "question_answering",
        maxLength: s.maxLength,
        docStride: s.docStride,
        maxQuestionLength: s.maxQuestionLength,
        maxAnswerLength: s.maxAnswerLength,
        nBest: s.nBest,
        trainData: train.file,
        trainExamples: train.examples.length,
        trainWindows: F,
        evalData: evalData?.file ?? null,
        evalExamples: evalData?.examples.length ?? null,
      },
      resumeKeys: ["maxLength", "docStride", "maxQuestionLength"],
      open: async (position, file) =>
        new PlannedCursor(
          batchesPerEpoch,
          resumePosition(position, file, batchesPerEpoch),
          (epoch) => shuffledBatches(F, this.settings.batchSize, epochSeed(this.settings.seed, epoch)),
          async (rows) => windowsBatch(enc, rows, true).batch,
        ),
      beforeTrain: () => {},
    };
  }

  async evaluate(tokenizer: Tokenizer, data?: unknown): Promise<QuestionAnsweringEvalMetrics> {
    if (data !== undefined) checkSquadData("data", data);
    const dataset = await this.#data.forEvaluate(data as SquadDataset | string | undefined);
    const { answers, loss, windows } = await this.predict(tokenizer, dataset, true);
    const predictions = new Map(dataset.examples.map((e, i) => [e.id, answers[i].text]));
    const m = squadMetrics(predictions, dataset.examples);
    return { loss, exactMatch: m.exactMatch, f1: m.f1, samples: dataset.examples.length, windows };
  }

  /** The best answer of every question, and the mean window loss where the data has answers. */
  async predict(tokenizer: Tokenizer, dataset: SquadDataset, withLoss: boolean) {
    const enc = await this.encode(tokenizer, dataset);
    const [F, T] = enc.inputIds.shape;
    const start = new Float32Array(F * T).fill(-Infinity);
    const end = new Float32Array(F * T).fill(-Infinity);
    let lossSum = 0;
    const size = this.settings.evalBatchSize;
    for (let from = 0; from < F; from += size) {
      const rows = Array.from({ length: Math.min(size, F - from) }, (_, i) => from + i);
      const { batch, width } = windowsBatch(enc, rows, withLoss);
      const out = await this.model.forward(batch);
      if (withLoss) lossSum += out.loss! * rows.length;
      rows.forEach((r, i) => {
        start.set(out.startLogits.data.subarray(i * width, (i + 1) * width), r * T);
        end.set(out.endLogits.data.subarray(i * width, (i + 1) * width), r * T);
      });
    }
    const allowImpossible = dataset.examples.some((e) => e.isImpossible);
    const answers = extractAnswers(
      dataset.examples,
      enc,
      { data: start, shape: [F, T] },
      { data: end, shape: [F, T] },
      { nBest: this.settings.nBest, maxAnswerLength: this.settings.maxAnswerLength, allowImpossible },
    );
    return { answers, loss: withLoss ? lossSum / F : NaN, windows: F };
  }

  evalLog(metrics: QuestionAnsweringEvalMetrics): Record<string, number> {
    return {
      eval_loss: metrics.loss,
      eval_exact_match: metrics.exactMatch,
      eval_f1: metrics.f1,
      eval_windows: metrics.windows,
      eval_samples: metrics.samples,
    };
  }
}
