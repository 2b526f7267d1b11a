// `ltgbert predict`: the label and its probability for each text.
import type { Command } from "commander";
import { writeFile } from "node:fs/promises";
import type { Prediction } from "../model.js";
import type { TextInput } from "../tokenizer.js";
import {
  batchSizeOption,
  type CliContext,
  type CliIo,
  columnOptions,
  deviceOption,
  fixed,
  jsonOption,
  MODEL_DIR_HELP,
  nonNegativeInteger,
  positiveInteger,
  printJson,
  threadsOption,
  tokenizerOption,
  usageError,
} from "./common.js";
import { modelKind, resolveModelDir } from "./model-dir.js";
import { runtime } from "./runtime.js";
import { readLines, readTexts, type TextColumns } from "./texts.js";

export interface PredictOptions extends TextColumns {
  file?: string;
  topK: number;
  batchSize: number;
  tokenizer?: string;
  threads?: number;
  device: string;
  json?: boolean;
  output?: string;
  tagColumn?: string;
  docStride?: number;
}

/** Texts per `predict` call when a progress bar is shown. */
const CHUNK_BATCHES = 8;

export async function predict(modelName: string, args: string[], options: PredictOptions, io: CliIo): Promise<void> {
  const { Presets, SingleBar } = await import("cli-progress");
  const { applyThreads, loadClassifier } = await runtime();
  applyThreads(options.threads);
  const modelDir = resolveModelDir(modelName);
  const { kind } = await modelKind(modelDir);
  if (kind === "token_classification") {
    const { predictTagger } = await import("./tagging.js");
    return predictTagger(modelDir, args, options, io);
  }
  if (kind === "question_answering") {
    const { predictQuestionAnswering } = await import("./qa.js");
    return predictQuestionAnswering(modelDir, args, options, io);
  }
  if (kind === "multiple_choice") {
    const { predictMultipleChoice } = await import("./choice.js");
    return predictMultipleChoice(modelDir, args, options, io);
  }
  if (kind === "regression") {
    const { predictRegression } = await import("./regression.js");
    return predictRegression(modelDir, args, options, io);
  }
  if (options.tagColumn !== undefined) throw usageError("--tag-column: for a tagger (token classification) only");
  const texts: TextInput[] = [...args];
  if (options.file !== undefined) texts.push(...(await readTexts(options.file, options)));
  if (args.length === 0 && options.file === undefined) {
    if (io.stdin.isTTY) io.stderr.write("reading texts from stdin, one per line (end with Ctrl-D)\n");
    texts.push(...(await readLines(io.stdin)));
  }
  if (texts.length === 0)
    throw usageError("no texts: give them as arguments, in a file with --file, or one per line on stdin");

  const { dir, model } = await loadClassifier(modelName, options);
  try {
    const k = Math.min(options.topK, model.numLabels);
    // With a terminal to show it on, predict in chunks and show how far it got.
    const chunk = options.batchSize * CHUNK_BATCHES;
    const bar =
      io.stderr.isTTY === true && texts.length > chunk
        ? new SingleBar(
            { stream: process.stderr, format: "predicting |{bar}| {value}/{total} texts | {eta_formatted}" },
            Presets.shades_classic,
          )
        : null;
    const predictions: Prediction[] = [];
    bar?.start(texts.length, 0);
    try {
      for (let start = 0; start < texts.length; start += bar === null ? texts.length : chunk) {
        const part = texts.slice(start, bar === null ? texts.length : start + chunk);
        predictions.push(...(await model.predict(part, { batchSize: options.batchSize, topK: k })));
        bar?.update(predictions.length);
      }
    } finally {
      bar?.stop();
    }

    const records = predictions.map((p, i) => {
      const input = texts[i];
      return {
        text: typeof input === "string" ? input : input[0],
        ...(typeof input === "string" ? {} : { textPair: input[1] }),
        label: p.label,
        labelId: p.labelId,
        score: p.score,
        ...(k > 1 ? { top: p.top } : {}),
      };
    });
    if (options.output !== undefined) {
      await writeFile(options.output, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
      if (!options.json) {
        io.stderr.write(`wrote ${records.length} predictions to ${options.output}\n`);
        return;
      }
    }
    if (options.json) {
      printJson(io, {
        model: dir,
        ...(options.output === undefined ? {} : { output: options.output }),
        predictions: records,
      });
      return;
    }
    // One line per text: label and probability (the k best with --top-k), then the text, tab-separated.
    predictions.forEach((p, i) => {
      const input = texts[i];
      const text = typeof input === "string" ? input : input.join("\t");
      const labels = p.top!.map((r) => `${r.label}\t${fixed(r.score)}`).join("\t");
      io.stdout.write(`${labels}\t${text}\n`);
    });
  } finally {
    model.dispose();
  }
}

/** Declares `ltgbert predict`: its arguments and options, and the action that runs predict. */
export function register(program: Command, context: CliContext): Command {
  const command = program
    .command("predict")
    .description("classify texts (a label and its probability per text), or tag sentences' words with a tagger")
    .argument("<model-dir>", MODEL_DIR_HELP)
    .argument("[texts...]", "texts to classify (default: --file, else stdin, one text per line)")
    .option(
      "--file <file>",
      "texts to classify: one per line, or the text column(s) of a .csv, .tsv or .jsonl data file",
    )
    .option("--top-k <n>", "show the k most probable labels", positiveInteger, 1)
    .option(
      "--output <file>",
      "write one JSON object per text (a tagger: per sentence, words and labels; a QA model: per question of its SQuAD --file, id and answer) to this file",
    )
    .option(
      "--tag-column <name>",
      "a tagger's --file in CoNLL-U: the column read along (tags are not needed; default upos)",
    )
    .option(
      "--doc-stride <n>",
      "a question-answering model's window overlap in tokens (default 128)",
      nonNegativeInteger,
    );
  batchSizeOption(command, 32, "texts");
  columnOptions(command, false);
  tokenizerOption(command);
  threadsOption(command);
  deviceOption(command);
  return jsonOption(command).action(async (dir: string, texts: string[], options: PredictOptions) => {
    await predict(dir, texts, options, context.io);
  });
}
