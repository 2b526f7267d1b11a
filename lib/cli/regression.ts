// Regression on the command line: `finetune --task regression` (sentence
// pairs with a score, GLUE's STS-B TSV), and `evaluate` and `predict` for a
// regression model: Pearson and Spearman, and a score per pair.
import { open } from "node:fs/promises";
import type { LtgBertForSequenceClassification } from "../model.js";
import type { ReadRegressionOptions, RegressionDataset } from "../tasks/readers.js";
import type { RegressionEvalMetrics } from "../train/trainer.js";
import { emitPredictions, fixed, usageError, type CliIo } from "./common.js";
import { runtime } from "./runtime.js";
import { loadTaskModel, type TaskCommand, type TaskReadOptions } from "./task-run.js";

/**
 * Whether a file reads as regression data: a `.tsv` whose header has a
 * `score` column and no `label` column (GLUE's STS-B header).
 */
export async function isRegressionFile(file: string): Promise<boolean> {
  if (!/\.tsv$/i.test(file)) return false;
  let handle;
  try {
    handle = await open(file, "r");
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const header = buffer.subarray(0, bytesRead).toString("utf8").split(/\r?\n/, 1)[0].split("\t");
    return header.includes("score") && !header.includes("label");
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

/** The command's column options as readRegressionTsv's: --text-column, --text-pair-column, --label-column. */
function readOptions(options: TaskReadOptions): ReadRegressionOptions {
  return {
    ...(options.textColumn === undefined ? {} : { sentence1Column: options.textColumn }),
    ...(options.textPairColumn === undefined ? {} : { sentence2Column: options.textPairColumn }),
    ...(options.labelColumn === undefined ? {} : { scoreColumn: options.labelColumn }),
  };
}

export function regressionMetricsLine(m: RegressionEvalMetrics): string {
  return `loss (MSE) ${fixed(m.loss)}, Pearson ${fixed(m.pearson)}, Spearman ${fixed(m.spearman)} (${m.samples} pairs)`;
}

export const REGRESSION: TaskCommand<LtgBertForSequenceClassification, RegressionDataset, RegressionEvalMetrics> = {
  task: "regression",
  kind: "regression",
  head: "regression head",
  modelClass: async () => (await runtime()).LtgBertForSequenceClassification,
  notFor: ["labels", "numLabels", "tagColumn", "docStride"],
  metrics: ["pearson", "spearman", "loss"],
  read: async (file, options) => (await runtime()).readRegressionTsv(file, readOptions(options)),
  summary: (d) => ({ file: d.file, examples: d.examples.length, columns: d.columns }),
  size: (d) => `${d.examples.length} pairs`,
  numLabels: () => 1,
  headConfig: (options) => ({ problem_type: "regression", classifier_head: options.head ?? "linear" }),
  trainerOptions: () => ({}),
  line: regressionMetricsLine,
};

export async function predictRegression(
  dir: string,
  args: string[],
  options: {
    file?: string;
    output?: string;
    batchSize: number;
    tokenizer?: string;
    device: string;
    json?: boolean;
  } & TaskReadOptions,
  io: CliIo,
): Promise<void> {
  const { readRegressionTsv } = await runtime();
  if (options.file === undefined || args.length > 0)
    throw usageError("--file: a regression model scores the sentence pairs of a TSV file (--file <file>)");
  // Scores are not needed to predict: a file without a score column (GLUE's test files) is read without.
  const scored = options.labelColumn !== undefined || (await isRegressionFile(options.file));
  const dataset = await readRegressionTsv(options.file, {
    ...readOptions(options),
    ...(scored ? { scoreRange: { min: -Number.MAX_VALUE, max: Number.MAX_VALUE } } : { scoreColumn: null }),
  });
  const model = await loadTaskModel(await REGRESSION.modelClass(), dir, options);
  try {
    const scores = await model.score(
      dataset.examples.map((e) => [e.sentence1, e.sentence2] as const),
      { batchSize: options.batchSize },
    );
    const records = scores.map((score) => ({ score }));
    await emitPredictions(io, options, {
      model: dir,
      task: REGRESSION.task,
      what: "scores",
      records,
      predictions: dataset.examples.map((e, i) => ({
        sentence1: e.sentence1,
        sentence2: e.sentence2,
        score: scores[i],
      })),
      line: (r) => String(r.score),
    });
  } finally {
    model.dispose();
  }
}
