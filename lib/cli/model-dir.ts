// Model directories as the CLI takes them: the word "default" for the
// shipped model, the weights file a directory holds, and whether it is a
// masked LM or a classifier.
import { existsSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { readConfigFile } from "../files.js";
import { DEFAULT_MODEL_DIR } from "../default-model.js";
import { LtgBertError } from "../errors.js";

export { DEFAULT_MODEL_DIR };

/**
 * The directory a command's model argument names: "default" is the shipped
 * model (`<package root>/models/default`), anything else a path, returned
 * as it is (loading names it when it is missing). A folder called "default"
 * in the working directory is `./default`.
 */
export function resolveModelDir(dir: string): string {
  if (dir !== "default") return dir;
  const found = existsSync(DEFAULT_MODEL_DIR) && statSync(DEFAULT_MODEL_DIR).isDirectory();
  if (!found) {
    throw new LtgBertError(
      "LTGBERT_FILE_NOT_FOUND",
      `${DEFAULT_MODEL_DIR}: the default model is not installed (no such directory); give a model directory instead`,
    );
  }
  return DEFAULT_MODEL_DIR;
}

export interface WeightsInfo {
  /** The file the model loads: model.safetensors, its sharded index, or pytorch_model.bin. */
  file: string;
  format: "safetensors" | "safetensors (sharded)" | "pytorch";
  /** Every file holding weights: the file itself, or the index's shards. */
  files: string[];
  bytes: number;
}

/** The weights file of a model directory, chosen as the loader chooses it. */
export async function findWeights(dir: string): Promise<WeightsInfo> {
  const size = async (file: string): Promise<number | null> => {
    const info = await stat(file).catch(() => null);
    return info?.isFile() ? info.size : null;
  };
  const safetensors = path.join(dir, "model.safetensors");
  const single = await size(safetensors);
  if (single !== null) return { file: safetensors, format: "safetensors", files: [safetensors], bytes: single };

  const index = path.join(dir, "model.safetensors.index.json");
  if ((await size(index)) !== null) {
    let shards: string[];
    try {
      const json = JSON.parse(await readFile(index, "utf8")) as { weight_map?: Record<string, string> };
      shards = [...new Set(Object.values(json.weight_map ?? {}))].map((s) => path.join(dir, s));
    } catch (error) {
      throw new LtgBertError("LTGBERT_BAD_CHECKPOINT", `${index}: not valid JSON: ${(error as Error).message}`);
    }
    let bytes = 0;
    for (const shard of shards) {
      const n = await size(shard);
      if (n === null) throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${shard}: no such file (named by ${index})`);
      bytes += n;
    }
    return { file: index, format: "safetensors (sharded)", files: shards, bytes };
  }

  const bin = path.join(dir, "pytorch_model.bin");
  const binSize = await size(bin);
  if (binSize !== null) return { file: bin, format: "pytorch", files: [bin], bytes: binSize };
  throw new LtgBertError(
    "LTGBERT_FILE_NOT_FOUND",
    `${dir}: no weights (looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin)`,
  );
}

export type ModelKind =
  | "masked_lm"
  | "sequence_classification"
  | "regression"
  | "token_classification"
  | "question_answering"
  | "multiple_choice"
  | "encoder";

/** A model kind in words, for messages ("a tagger (token classification)"). */
export const KIND_NAMES: Record<ModelKind, string> = {
  masked_lm: "a masked LM",
  sequence_classification: "a sequence classifier",
  regression: 'a regression model (sequence classification, problem_type "regression")',
  token_classification: "a tagger (token classification)",
  question_answering: "a question-answering model",
  multiple_choice: "a multiple-choice model",
  encoder: "a bare encoder (LtgBertModel)",
};

/**
 * Which model a directory holds (a masked LM, a head, the bare encoder): config.json's
 * `architectures`, or, where it names neither, the checkpoint's head keys.
 */
export async function modelKind(dir: string): Promise<{ kind: ModelKind; config: Record<string, unknown> }> {
  const config = await readConfigFile(path.join(dir, "config.json"));
  const names = Array.isArray(config.architectures) ? config.architectures.map(String) : [];
  if (names.some((n) => /SequenceClassification$/i.test(n)))
    return { kind: config.problem_type === "regression" ? "regression" : "sequence_classification", config };
  if (names.some((n) => /TokenClassification$/i.test(n))) return { kind: "token_classification", config };
  if (names.some((n) => /QuestionAnswering$/i.test(n))) return { kind: "question_answering", config };
  if (names.some((n) => /MultipleChoice$/i.test(n))) return { kind: "multiple_choice", config };
  if (names.some((n) => /^LtgBertModel$/.test(n))) return { kind: "encoder", config };
  if (names.some((n) => /MaskedLM$/i.test(n))) return { kind: "masked_lm", config };
  const { readCheckpointInfo } = await import("../system.js");
  const keys = (await readCheckpointInfo((await findWeights(dir)).file)).map((e) => e.key);
  const classifier = keys.some((k) => /(^|\.)(head\.nonlinearity\.|classifier\.(weight|bias)$)/.test(k));
  return { kind: classifier ? "sequence_classification" : "masked_lm", config };
}
