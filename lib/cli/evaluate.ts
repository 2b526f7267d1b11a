// `ltgbert evaluate`: a classifier's loss, accuracy, macro-F1 and MCC on a
// labelled data file.
import type { Command } from "commander";
import { stat } from "node:fs/promises";
import { LtgBertError } from "../errors.js";
import { readDataset } from "../data.js";
import {
  batchSizeOption,
  type CliContext,
  type CliIo,
  columnOptions,
  type ColumnOptions,
  deviceOption,
  fixed,
  jsonOption,
  maxLengthOption,
  MODEL_DIR_HELP,
  printJson,
  readOptionsOf,
  threadsOption,
  nonNegativeInteger,
  tokenizerOption,
  usageError,
} from "./common.js";
import { modelKind, resolveModelDir } from "./model-dir.js";
import { runtime } from "./runtime.js";
import { DEV_NAMES, findEvalFile, splitNames } from "./splits.js";

export interface EvaluateOptions extends ColumnOptions {
  data: string;
  batchSize: number;
  maxLength?: number;
  tokenizer?: string;
  threads?: number;
  device: string;
  json?: boolean;
  tagColumn?: string;
  docStride?: number;
}

export async function evaluate(modelName: string, options: EvaluateOptions, io: CliIo): Promise<void> {
  const { applyThreads, loadClassifier, Trainer } = await runtime();
  applyThreads(options.threads);
  const file = await findEvalFile(options.data);
  if ((await stat(file).catch(() => null)) === null)
    throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${file}: no such file (--data)`);
  const modelDir = resolveModelDir(modelName);
  const { kind } = await modelKind(modelDir);
  const { evaluateTask, taskCommandOf } = await import("./task-run.js");
  const spec = await taskCommandOf(kind);
  if (spec !== null) return evaluateTask(spec, modelDir, file, options, io);
  if (options.tagColumn !== undefined) throw usageError("--tag-column: for a tagger (token classification) only");
  const dataset = await readDataset(file, readOptionsOf(options));
  const { dir, model } = await loadClassifier(modelName, options);
  try {
    // The Trainer's evaluation maps the file's label names onto the model's
    // as training does; it writes nothing, so outputDir is never touched.
    const trainer = new Trainer(model, {
      trainData: dataset,
      outputDir: dir,
      evalBatchSize: options.batchSize,
      maxLength: options.maxLength,
      progress: false,
    });
    const m = await trainer.evaluate(dataset);
    if (options.json) {
      printJson(io, {
        model: dir,
        data: file,
        task: "sequence-classification",
        metrics: { loss: m.loss, accuracy: m.accuracy, macroF1: m.macroF1, mcc: m.mcc },
        examples: m.samples,
        loss: m.loss,
        accuracy: m.accuracy,
        macroF1: m.macroF1,
        mcc: m.mcc,
      });
      return;
    }
    io.stdout.write(`${dir} on ${file} (${m.samples} examples)\n`);
    io.stdout.write(`  loss      ${fixed(m.loss)}\n`);
    io.stdout.write(`  accuracy  ${fixed(m.accuracy)}\n`);
    io.stdout.write(`  macro-F1  ${fixed(m.macroF1)}\n`);
    io.stdout.write(`  MCC       ${fixed(m.mcc)}\n`);
  } finally {
    model.dispose();
  }
}

/** Declares `ltgbert evaluate`: its arguments and options, and the action that runs evaluate. */
export function register(program: Command, context: CliContext): Command {
  const command = program
    .command("evaluate")
    .description(
      "evaluate a classifier on labelled data (loss, accuracy, macro-F1, MCC) or a tagger on tagged sentences (word accuracy; entity P/R/F1 for BIO tags)",
    )
    .argument("<model-dir>", MODEL_DIR_HELP)
    .requiredOption(
      "--data <path>",
      `labelled data file (.tsv, .csv or .jsonl; for a tagger .conllu or word<TAB>tag), or a directory holding ${splitNames(DEV_NAMES)}`,
    )
    .option("--tag-column <name>", "a tagger's CoNLL-U tag column (upos, xpos, a number, or misc:<Key>; default upos)")
    .option(
      "--doc-stride <n>",
      "a question-answering model's window overlap in tokens (default 128)",
      nonNegativeInteger,
    );
  batchSizeOption(command, 32, "examples");
  maxLengthOption(command);
  columnOptions(command, true);
  tokenizerOption(command);
  threadsOption(command);
  deviceOption(command);
  return jsonOption(command).action(async (dir: string, options: EvaluateOptions) => {
    await evaluate(dir, options, context.io);
  });
}
