// Question answering on the command line: `finetune --task
// question-answering`, and `evaluate` and `predict` for a QA model: SQuAD JSON files (v1.1, v2.0),
// contexts cut into overlapping windows, scored by SQuAD's exact match and
// F1 (0–100), answers written one JSON object per question.
import { readFile } from "node:fs/promises";
import type { LtgBertForQuestionAnswering } from "../model.js";
import type { SquadDataset } from "../tasks/readers.js";
import type { QuestionAnsweringEvalMetrics } from "../train/trainer.js";
import { emitPredictions, fixed, usageError, type CliIo } from "./common.js";
import { runtime } from "./runtime.js";
import { loadTaskModel, type TaskCommand } from "./task-run.js";

/** Whether a file is SQuAD JSON: one JSON object whose `data` lists articles with `paragraphs`. */
export async function isSquadFile(file: string): Promise<boolean> {
  if (!/\.json$/i.test(file)) return false;
  try {
    const json = JSON.parse(await readFile(file, "utf8")) as { data?: { paragraphs?: unknown }[] };
    return Array.isArray(json.data) && json.data.length > 0 && Array.isArray(json.data[0]?.paragraphs);
  } catch {
    return false;
  }
}

export function qaMetricsLine(m: QuestionAnsweringEvalMetrics): string {
  const loss = Number.isFinite(m.loss) ? `loss ${fixed(m.loss)}, ` : "";
  return `${loss}exact match ${fixed(m.exactMatch, 2)}, F1 ${fixed(m.f1, 2)} (${m.samples} questions, ${m.windows} windows)`;
}

export const QUESTION_ANSWERING: TaskCommand<LtgBertForQuestionAnswering, SquadDataset, QuestionAnsweringEvalMetrics> =
  {
    task: "question-answering",
    kind: "question_answering",
    head: "question-answering head",
    modelClass: async () => (await runtime()).LtgBertForQuestionAnswering,
    notFor: ["textColumn", "textPairColumn", "labelColumn", "labels", "numLabels", "head", "tagColumn"],
    metrics: ["f1", "exactMatch", "loss"],
    read: async (file) => (await runtime()).readSquad(file),
    summary: (d) => ({ file: d.file, examples: d.examples.length }),
    size: (d) => `${d.examples.length} questions`,
    trainerOptions: (options) => (options.docStride === undefined ? {} : { docStride: options.docStride }),
    line: qaMetricsLine,
  };

export async function predictQuestionAnswering(
  dir: string,
  args: string[],
  options: {
    file?: string;
    output?: string;
    batchSize: number;
    maxLength?: number;
    docStride?: number;
    tokenizer?: string;
    device: string;
    json?: boolean;
  },
  io: CliIo,
): Promise<void> {
  const { readSquad } = await runtime();
  if (options.file === undefined || args.length > 0)
    throw usageError("--file: a question-answering model answers the questions of a SQuAD JSON file (--file <file>)");
  const dataset = await readSquad(options.file);
  const model = await loadTaskModel(await QUESTION_ANSWERING.modelClass(), dir, options);
  try {
    const answers = await model.answer(dataset.examples, {
      batchSize: options.batchSize,
      maxLength: options.maxLength,
      docStride: options.docStride,
      allowImpossible: dataset.examples.some((e) => e.isImpossible),
    });
    const records = dataset.examples.map((e, i) => ({ id: e.id, answer: answers[i].text }));
    await emitPredictions(io, options, {
      model: dir,
      task: QUESTION_ANSWERING.task,
      what: "answers",
      records,
      predictions: dataset.examples.map((e, i) => ({ id: e.id, ...answers[i] })),
      line: (r) => `${r.id}\t${r.answer}`,
    });
  } finally {
    model.dispose();
  }
}
