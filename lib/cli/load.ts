// Loading what the commands run: a classifier with its tokenizer, and the
// thread count. Imports the native addon, so commands reach it only when they run (runtime.ts).
import path from "node:path";
import { LtgBertError } from "../errors.js";
import { LtgBertForSequenceClassification } from "../model.js";
import { setNumThreads } from "../system.js";
import { Tokenizer } from "../tokenizer.js";
import { KIND_NAMES, modelKind, resolveModelDir } from "./model-dir.js";

export function applyThreads(threads: number | undefined): void {
  if (threads !== undefined) setNumThreads(threads);
}

/** The model's own tokenizer, unless `--tokenizer` names another; one of them must exist. */
export async function attachTokenizer(
  model: LtgBertForSequenceClassification,
  dir: string,
  tokenizerDir: string | undefined,
): Promise<void> {
  if (tokenizerDir !== undefined) model.tokenizer = await Tokenizer.fromPretrained(tokenizerDir);
  if (model.tokenizer === null) {
    throw new LtgBertError(
      "LTGBERT_FILE_NOT_FOUND",
      `${path.join(dir, "tokenizer.json")}: no such file; the model directory has no tokenizer (name one with --tokenizer <dir>)`,
    );
  }
}

export interface LoadedClassifier {
  /** The directory loaded ("default" resolved). */
  dir: string;
  model: LtgBertForSequenceClassification;
}

/**
 * Loads a fine-tuned classifier for `evaluate` and `predict`. A masked LM
 * is refused: its new head would be random.
 */
export async function loadClassifier(
  name: string,
  options: { device: string; tokenizer?: string },
): Promise<LoadedClassifier> {
  const dir = resolveModelDir(name);
  const { kind } = await modelKind(dir);
  if (kind === "masked_lm") {
    throw new LtgBertError(
      "LTGBERT_INVALID_ARGUMENT",
      `${dir}: a masked LM, without a trained classification head; fine-tune it first (ltgbert finetune --model ${name} ...)`,
    );
  }
  if (kind !== "sequence_classification") {
    throw new LtgBertError("LTGBERT_INVALID_ARGUMENT", `${dir}: ${KIND_NAMES[kind]}, not a sequence classifier`);
  }
  const model = await LtgBertForSequenceClassification.fromPretrained(dir, {
    device: options.device,
    tokenizer: options.tokenizer === undefined,
  });
  try {
    await attachTokenizer(model, dir, options.tokenizer);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { dir, model };
}
