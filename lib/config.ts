// config.json: reading, defaults, overrides and validation. Keys stay
// snake_case, as Hugging Face writes them, so a config round-trips unchanged.
import os from "node:os";
import { describe, LtgBertError } from "./errors.js";
import { addon } from "./native.js";

export type PositionQkSplit = "per_head" | "global";
export type ClassifierHead = "linear" | "mlp";
export type ProblemType = "single_label_classification" | "multi_label_classification" | "regression";
/** Which head a model has (the native model's `task`). */
export type ModelTask =
  "masked_lm" | "sequence_classification" | "base" | "token_classification" | "question_answering" | "multiple_choice";

/** Outputs of the MLP head per position it reads (none for the masked LM and the bare encoder). */
export function headOutputsOf(config: Pick<LtgBertConfig, "num_labels">, task: ModelTask): number {
  switch (task) {
    case "question_answering":
      return 2;
    case "multiple_choice":
      return 1;
    case "sequence_classification":
    case "token_classification":
      return numLabelsOf(config);
    default:
      return 0;
  }
}

/** An LTG-BERT config.json (snake_case, as Python writes it). Unknown keys are kept. */
export interface LtgBertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  max_position_embeddings: number;
  position_bucket_size: number;
  layer_norm_eps: number;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  classifier_dropout?: number | null;
  /** How the relative-position projection is split into query and key halves. */
  position_qk_split: PositionQkSplit;
  model_type?: string;
  architectures?: string[];
  num_labels?: number;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  problem_type?: ProblemType;
  classifier_head?: ClassifierHead;
  pad_token_id?: number;
  [key: string]: unknown;
}

/** What a caller may pass: the required sizes, the rest optional. */
export type LtgBertConfigInput = Partial<LtgBertConfig> &
  Pick<LtgBertConfig, "vocab_size" | "hidden_size" | "num_hidden_layers" | "num_attention_heads" | "intermediate_size">;

/**
 * The values config.json's optional keys take when absent: the native
 * model's own (native/model/config.h), written there once and read here.
 */
const {
  num_labels: DEFAULT_NUM_LABELS,
  problem_type: DEFAULT_PROBLEM_TYPE,
  ...GENERAL_DEFAULTS
} = addon.configDefaults();
const DEFAULTS: Readonly<Record<string, unknown>> = { ...GENERAL_DEFAULTS, model_type: "ltgbert" };

/** A classifier's number of labels: config.json's, else the default. */
export function numLabelsOf(config: Pick<LtgBertConfig, "num_labels">): number {
  return config.num_labels ?? DEFAULT_NUM_LABELS;
}

/** A classifier's problem type: config.json's, else the default. */
export function problemTypeOf(config: Pick<LtgBertConfig, "problem_type">): ProblemType {
  return config.problem_type ?? DEFAULT_PROBLEM_TYPE;
}

const REQUIRED_INTS = [
  "vocab_size",
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
] as const;
const OPTIONAL_INTS = ["max_position_embeddings", "position_bucket_size", "num_labels"] as const;
const PROBABILITIES = ["hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"] as const;

function bad(source: string, key: string, expected: string, actual: unknown): LtgBertError {
  return new LtgBertError("LTGBERT_BAD_CONFIG", `${source}: ${key}: expected ${expected}, got ${describe(actual)}`);
}

/**
 * Merges `overrides` over `raw`, fills defaults and validates every key the
 * model uses. `source` names the file (or "config") in error messages.
 */
export function resolveConfig(
  raw: Record<string, unknown>,
  overrides: Record<string, unknown>,
  source: string,
): LtgBertConfig {
  const merged: Record<string, unknown> = { ...DEFAULTS, ...raw, ...overrides };
  // JSON.parse reads 1e400 as Infinity: no number in a config may be non-finite.
  for (const [key, v] of Object.entries(merged)) {
    if (typeof v === "number" && !Number.isFinite(v)) throw bad(source, key, "a finite number", v);
  }
  for (const key of REQUIRED_INTS) {
    const v = merged[key];
    if (v === undefined) throw bad(source, key, "a positive integer (required)", v);
    if (!Number.isInteger(v) || (v as number) <= 0) throw bad(source, key, "a positive integer", v);
  }
  for (const key of OPTIONAL_INTS) {
    const v = merged[key];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) <= 0))
      throw bad(source, key, "a positive integer", v);
  }
  for (const key of PROBABILITIES) {
    const v = merged[key];
    if (v !== undefined && v !== null && (typeof v !== "number" || v < 0 || v >= 1))
      throw bad(source, key, "a number in [0, 1)", v);
  }
  const eps = merged.layer_norm_eps;
  if (typeof eps !== "number" || !(eps > 0)) throw bad(source, "layer_norm_eps", "a positive number", eps);
  const hidden = merged.hidden_size as number;
  const heads = merged.num_attention_heads as number;
  if (hidden % heads !== 0) {
    throw bad(source, "hidden_size", `a multiple of num_attention_heads (${heads})`, hidden);
  }
  if ((merged.position_bucket_size as number) < 2)
    throw bad(source, "position_bucket_size", "at least 2", merged.position_bucket_size);
  if (merged.position_qk_split !== "per_head" && merged.position_qk_split !== "global") {
    throw bad(source, "position_qk_split", '"per_head" or "global"', merged.position_qk_split);
  }
  if (merged.classifier_head !== undefined && merged.classifier_head !== "linear" && merged.classifier_head !== "mlp") {
    throw bad(source, "classifier_head", '"linear" or "mlp"', merged.classifier_head);
  }
  const problems = ["single_label_classification", "multi_label_classification", "regression"];
  if (
    merged.problem_type !== undefined &&
    merged.problem_type !== null &&
    !problems.includes(merged.problem_type as string)
  ) {
    throw bad(source, "problem_type", problems.map((p) => `"${p}"`).join(", "), merged.problem_type);
  }
  if (merged.problem_type === null) delete merged.problem_type;
  for (const [key, most] of Object.entries(HARD_LIMITS)) {
    const v = merged[key];
    if (typeof v === "number" && v > most) throw bad(source, key, `at most ${most}`, v);
  }
  if (merged.id2label !== undefined) {
    const labels = merged.id2label;
    if (typeof labels !== "object" || labels === null || Array.isArray(labels))
      throw bad(source, "id2label", "an object", labels);
    if (merged.num_labels === undefined) merged.num_labels = Object.keys(labels).length;
  }
  return merged as LtgBertConfig;
}

/**
 * Bounds no real LTG-BERT comes near, checked before anything is allocated
 * (a config is untrusted input): a deeper or wider model is refused with
 * LTGBERT_BAD_CONFIG naming the key. Memory is bounded separately
 * (checkModelMemory).
 */
export const HARD_LIMITS = {
  num_hidden_layers: 1024,
  num_attention_heads: 4096,
  max_position_embeddings: 65_536,
  position_bucket_size: 65_536,
} as const;

/** Bytes a model of this config takes in memory, and its parameter count. */
export function estimateModelBytes(config: LtgBertConfig, task: ModelTask): { bytes: number; parameters: number } {
  const d = config.hidden_size;
  const layers = config.num_hidden_layers;
  const positions = config.max_position_embeddings;
  const labels = headOutputsOf(config, task);
  // Parameters, as the reference's modules hold them.
  const word = config.vocab_size * d + (task === "masked_lm" ? config.vocab_size : 0);
  const relative = (2 * config.position_bucket_size - 1) * d + 2 * d;
  const attention = 4 * d * d + 6 * d;
  const feedForward = 3 * d * config.intermediate_size;
  // The masked-LM head and the MLP heads have a dense layer; the linear
  // classifier has none, but counting it errs on the safe side.
  const head = task === "base" ? 0 : task === "masked_lm" ? d * d + d : d * d + d + (d + 1) * labels;
  const parameters = word + relative + layers * (attention + feedForward) + head;
  // Each layer keeps a (positions, positions) table of int64 bucket indices
  // and builds it through a few temporaries of the same size; a layer's
  // modules and tensors cost some kilobytes of bookkeeping besides.
  const table = positions * positions * 8;
  const bytes = parameters * 4 + layers * (table + 16 * 1024) + 4 * table;
  return { bytes, parameters };
}

/** The sizes of the 98M-parameter base model: what "too large" is measured against. */
const BASE_SIZES: Record<string, number> = {
  vocab_size: 16_384,
  hidden_size: 768,
  num_hidden_layers: 12,
  intermediate_size: 2048,
  max_position_embeddings: 512,
  position_bucket_size: 32,
  num_labels: 2,
};

/**
 * Refuses, before anything is allocated, a model that would not fit: more
 * bytes than `maxMemory` (default: the machine's memory). The error names the
 * config key to blame (the one whose value, brought down to the base model's,
 * shrinks the model most) and the bytes the whole would need.
 */
export function checkModelMemory(
  config: LtgBertConfig,
  task: ModelTask,
  source: string,
  maxMemory: number | undefined,
): void {
  const limit = maxMemory ?? os.totalmem();
  const { bytes } = estimateModelBytes(config, task);
  if (bytes <= limit) return;
  let blame = "vocab_size";
  let smallest = bytes;
  for (const [key, base] of Object.entries(BASE_SIZES)) {
    const value = config[key];
    if (typeof value !== "number" || value <= base) continue;
    const shrunk = estimateModelBytes({ ...config, [key]: base }, task).bytes;
    if (shrunk < smallest) [blame, smallest] = [key, shrunk];
  }
  const where = maxMemory === undefined ? "this machine's memory" : "options.maxMemory";
  const gb = (n: number): string => `${(n / 1e9).toFixed(n < 1e8 ? 3 : 1)} GB`;
  throw new LtgBertError(
    "LTGBERT_BAD_CONFIG",
    `${source}: ${blame}: ${String(config[blame])} makes a model of ${gb(bytes)}, more than ${where} (${gb(limit)})`,
  );
}
