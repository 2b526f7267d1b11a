// `ltgbert evaluate`: a classifier's loss, accuracy, macro-F1 and MCC on a
// labelled data file.
import { readDataset } from "../data.js";
import { Trainer } from "../train/trainer.js";
import { fixed, printJson, readOptionsOf, type CliIo, type ColumnOptions } from "./common.js";
import { applyThreads, loadClassifier } from "./load.js";
import { findEvalFile } from "./splits.js";

export interface EvaluateOptions extends ColumnOptions {
  data: string;
  batchSize: number;
  maxLength?: number;
  tokenizer?: string;
  threads?: number;
  device: string;
  json?: boolean;
}

export async function evaluate(modelName: string, options: EvaluateOptions, io: CliIo): Promise<void> {
  applyThreads(options.threads);
  const file = await findEvalFile(options.data);
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
