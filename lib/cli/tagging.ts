// Token classification on the command line: `finetune --task
// token-classification`, and `evaluate` and `predict` for a tagger (word
// accuracy, entity figures for BIO tags; words and labels per sentence).
import { readFile } from "node:fs/promises";
import type { LtgBertForTokenClassification } from "../model.js";
import type { ReadConlluOptions, TaggingDataset } from "../tasks/readers.js";
import type { TaggingEvalMetrics } from "../train/trainer.js";
import { emitPredictions, fixed, usageError, type CliIo } from "./common.js";
import { runtime } from "./runtime.js";
import { loadTaskModel, type TaskCommand } from "./task-run.js";
import { readLines } from "./texts.js";

/** The tag column options as readConllu takes them. */
export function conlluOptionsOf(options: { tagColumn?: unknown }): ReadConlluOptions {
  const column = options.tagColumn;
  if (typeof column !== "string") return {};
  if (/^misc:/i.test(column)) return { miscKey: column.slice(5), miscDefault: "O" };
  return { column: /^\d+$/.test(column) ? Number(column) : (column as ReadConlluOptions["column"]) };
}

export function taggingMetricsLine(m: TaggingEvalMetrics): string {
  const entities =
    m.f1 === undefined ? "" : `, entity P ${fixed(m.precision!)} R ${fixed(m.recall!)} F1 ${fixed(m.f1)}`;
  return `loss ${fixed(m.loss)}, accuracy ${fixed(m.accuracy)}${entities} (${m.words} words)`;
}

export const TAGGING: TaskCommand<LtgBertForTokenClassification, TaggingDataset, TaggingEvalMetrics> = {
  task: "token-classification",
  kind: "token_classification",
  head: "token-classification head",
  modelClass: async () => (await runtime()).LtgBertForTokenClassification,
  notFor: ["textColumn", "textPairColumn", "labelColumn", "labels", "head", "docStride"],
  metrics: ["accuracy", "loss", "f1"],
  read: async (file, options) => (await runtime()).readTaggingFile(file, conlluOptionsOf(options)),
  summary: (d) => ({ file: d.file, examples: d.sentences.length, words: d.numTagged }),
  size: (d) => `${d.sentences.length} sentences, ${d.numTagged} tagged words`,
  numLabels: (train, options) => options.numLabels ?? train.tagNames.length,
  trainerOptions: (options) => ({ readOptions: conlluOptionsOf(options) }),
  line: taggingMetricsLine,
  saved: (model) => `(${model.numLabels} tags: ${model.labelNames.join(", ")})`,
};

/** The sentences to tag: a CoNLL-U or word/tag file's words, else one text per line, split into words. */
async function sentencesOf(
  args: string[],
  file: string | undefined,
  options: { tagColumn?: string },
  io: CliIo,
): Promise<(string | string[])[]> {
  const { readTaggingFile } = await runtime();
  const out: (string | string[])[] = [...args];
  if (file !== undefined) {
    if (/\.(conllu?|tsv)$/i.test(file)) {
      const dataset = await readTaggingFile(file, conlluOptionsOf(options));
      out.push(...dataset.sentences.map((s) => s.words));
    } else {
      out.push(...(await readFile(file, "utf8")).split(/\r?\n/).filter((l) => l.trim() !== ""));
    }
  }
  if (args.length === 0 && file === undefined) {
    if (io.stdin.isTTY) io.stderr.write("reading sentences from stdin, one per line (end with Ctrl-D)\n");
    out.push(...(await readLines(io.stdin)));
  }
  return out;
}

export async function predictTagger(
  dir: string,
  args: string[],
  options: {
    file?: string;
    output?: string;
    batchSize: number;
    tokenizer?: string;
    device: string;
    json?: boolean;
    tagColumn?: string;
  },
  io: CliIo,
): Promise<void> {
  const sentences = await sentencesOf(args, options.file, options, io);
  if (sentences.length === 0)
    throw usageError("no sentences: give them as arguments, in a file with --file, or one per line on stdin");
  const model = await loadTaskModel(await TAGGING.modelClass(), dir, options);
  try {
    const tagged = await model.tag(sentences, { batchSize: options.batchSize });
    // Without --output and --json: one line per sentence, word/LABEL pairs (the probabilities are in --json).
    await emitPredictions(io, options, {
      model: dir,
      task: TAGGING.task,
      what: "sentences",
      records: tagged.map((t) => ({ words: t.words, labels: t.labels })),
      predictions: tagged,
      line: (r) => r.words.map((w, i) => `${w}/${r.labels[i]}`).join(" "),
    });
  } finally {
    model.dispose();
  }
}
