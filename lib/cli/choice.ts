// Multiple choice on the command line: `finetune --task multiple-choice`,
// and `evaluate` and `predict` for a multiple-choice model: ARC's JSONL (or CSV) questions, accuracy
// beside the chance level of the same questions, and the chosen key per
// question as the data writes it.
import { readFile } from "node:fs/promises";
import type { LtgBertForMultipleChoice } from "../model.js";
import type { MultipleChoiceDataset } from "../tasks/readers.js";
import type { MultipleChoiceEvalMetrics } from "../train/trainer.js";
import { emitPredictions, fixed, usageError, type CliIo } from "./common.js";
import { runtime } from "./runtime.js";
import { loadTaskModel, type TaskCommand } from "./task-run.js";

/** Whether a file is multiple-choice JSON lines: its first line has `question.choices` (ARC's layout). */
export async function isChoiceFile(file: string): Promise<boolean> {
  if (!/\.(jsonl|ndjson)$/i.test(file)) return false;
  try {
    const first = (await readFile(file, "utf8")).split("\n").find((l) => l.trim() !== "");
    const row = JSON.parse(first ?? "") as { question?: { choices?: unknown } };
    return Array.isArray(row.question?.choices);
  } catch {
    return false;
  }
}

export function choiceMetricsLine(m: MultipleChoiceEvalMetrics): string {
  return `loss ${fixed(m.loss)}, accuracy ${fixed(m.accuracy)} (chance ${fixed(m.chance)}, ${m.samples} questions)`;
}

export const MULTIPLE_CHOICE: TaskCommand<LtgBertForMultipleChoice, MultipleChoiceDataset, MultipleChoiceEvalMetrics> =
  {
    task: "multiple-choice",
    kind: "multiple_choice",
    head: "multiple-choice head",
    modelClass: async () => (await runtime()).LtgBertForMultipleChoice,
    notFor: ["textColumn", "textPairColumn", "labelColumn", "labels", "numLabels", "head", "tagColumn", "docStride"],
    metrics: ["accuracy", "loss"],
    read: async (file) => (await runtime()).readMultipleChoice(file),
    summary: (d) => ({ file: d.file, examples: d.examples.length }),
    size: (d) => `${d.examples.length} questions`,
    trainerOptions: () => ({}),
    line: choiceMetricsLine,
  };

export async function predictMultipleChoice(
  dir: string,
  args: string[],
  options: { file?: string; output?: string; batchSize: number; tokenizer?: string; device: string; json?: boolean },
  io: CliIo,
): Promise<void> {
  const { readMultipleChoice } = await runtime();
  if (options.file === undefined || args.length > 0)
    throw usageError("--file: a multiple-choice model answers the questions of a data file (--file <file>)");
  const dataset = await readMultipleChoice(options.file);
  const model = await loadTaskModel(await MULTIPLE_CHOICE.modelClass(), dir, options);
  try {
    const ranked = await model.choose(dataset.examples, { batchSize: options.batchSize });
    const records = dataset.examples.map((e, i) => ({ id: e.id, choice: e.choiceLabels[ranked[i][0].index] }));
    await emitPredictions(io, options, {
      model: dir,
      task: MULTIPLE_CHOICE.task,
      what: "choices",
      records,
      predictions: dataset.examples.map((e, i) => ({
        id: e.id,
        choice: records[i].choice,
        ranking: ranked[i].map((r) => ({ key: e.choiceLabels[r.index], choice: r.choice, score: r.score })),
      })),
      line: (r) => `${r.id}\t${r.choice}`,
    });
  } finally {
    model.dispose();
  }
}
