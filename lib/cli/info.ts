// `ltgbert info`: what a model directory holds: architecture, config,
// parameter count, weights, tokenizer, and what it was trained on.
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { LtgBertError } from "../errors.js";
import {
  type CliContext,
  type CliIo,
  configSizes,
  fixed,
  formatBytes,
  jsonOption,
  MODEL_DIR_HELP,
  printJson,
} from "./common.js";
import { passesText } from "./model-card.js";
import { findWeights, modelKind, resolveModelDir } from "./model-dir.js";
import { runtime } from "./runtime.js";

export interface InfoOptions {
  json?: boolean;
}

type Json = Record<string, unknown>;

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** A JSON object file, or null when absent; unreadable or not an object is an error naming it. */
async function readJsonObject(file: string): Promise<Json | null> {
  if (!(await exists(file))) return null;
  try {
    const value: unknown = JSON.parse(await readFile(file, "utf8"));
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Json;
    throw new Error("expected a JSON object");
  } catch (error) {
    throw new LtgBertError("LTGBERT_BAD_CONFIG", `${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** The first `# ` heading of a model card, after any YAML front matter. */
async function modelCardTitle(file: string): Promise<string | null> {
  if (!(await exists(file))) return null;
  let text = await readFile(file, "utf8");
  if (text.startsWith("---")) {
    const end = text.indexOf("\n---", 3);
    if (end >= 0) text = text.slice(end + 4);
  }
  const heading = /^#\s+(.+?)\s*#*\s*$/m.exec(text);
  return heading ? heading[1] : null;
}

async function tokenizerInfo(dir: string): Promise<Json | null> {
  const file = path.join(dir, "tokenizer.json");
  if (!(await exists(file))) return null;
  const { Tokenizer } = await runtime();
  const tok = await Tokenizer.fromPretrained(dir);
  const raw = (await readJsonObject(file)) ?? {};
  const model = raw.model as { type?: unknown } | undefined;
  const special = (id: number): { token: string | null; id: number } => ({ token: tok.idToToken(id), id });
  return {
    file,
    type: typeof model?.type === "string" ? model.type : null,
    vocabSize: tok.vocabSize,
    modelMaxLength: tok.modelMaxLength,
    lowercase: tok.lowercase,
    specialTokens: {
      cls: special(tok.clsTokenId),
      sep: special(tok.sepTokenId),
      pad: special(tok.padTokenId),
      mask: special(tok.maskTokenId),
      unk: special(tok.unkTokenId),
    },
  };
}

/** What a Trainer run left: its arguments and where it ended. */
function trainingInfo(dir: string, args: Json | null, state: Json | null): Json | null {
  if (args === null && state === null) return null;
  const history = Array.isArray(state?.log_history) ? (state.log_history as Json[]) : [];
  const lastEval = [...history].reverse().find((e) => typeof e.eval_loss === "number") ?? null;
  // A masked-LM run trains on text files: its evaluation has a perplexity, not macro-F1 and MCC.
  const maskedLM = typeof args?.sequenceLength === "number";
  const position = (state?.data_position ?? null) as Json | null;
  return {
    task: maskedLM ? "masked_lm" : "sequence_classification",
    trainData: args?.trainData ?? null,
    trainExamples: args?.trainExamples ?? null,
    trainBytes: Array.isArray(args?.trainBytes) ? (args.trainBytes as number[]).reduce((a, b) => a + b, 0) : null,
    evalData: args?.evalData ?? null,
    evalExamples: args?.evalExamples ?? null,
    steps: state?.global_step ?? args?.totalSteps ?? null,
    epochs: state?.epoch ?? null,
    batchSize: args?.batchSize ?? null,
    sequenceLength: args?.sequenceLength ?? null,
    passes:
      maskedLM && typeof position?.epoch === "number" && typeof position.batch_in_epoch === "number"
        ? { complete: position.epoch, batches: position.batch_in_epoch }
        : null,
    learningRate: args?.learningRate ?? null,
    seed: args?.seed ?? null,
    metricForBestModel: state?.metric_for_best_model ?? null,
    bestMetric: state?.best_metric ?? null,
    bestCheckpoint: state?.best_model_checkpoint ?? null,
    // Checkpoints are often deleted once a run is done: say whether this one is still beside the model.
    bestCheckpointKept:
      typeof state?.best_model_checkpoint === "string"
        ? existsSync(path.join(dir, path.basename(state.best_model_checkpoint)))
        : null,
    lastEval:
      lastEval === null
        ? null
        : maskedLM
          ? {
              step: lastEval.step,
              loss: lastEval.eval_loss,
              accuracy: lastEval.eval_accuracy,
              perplexity: lastEval.eval_perplexity,
              tokens: lastEval.eval_tokens,
              examples: lastEval.eval_samples,
            }
          : {
              step: lastEval.step,
              loss: lastEval.eval_loss,
              accuracy: lastEval.eval_accuracy,
              macroF1: lastEval.eval_macro_f1,
              mcc: lastEval.eval_mcc,
              examples: lastEval.eval_samples,
            },
    args,
  };
}

/** What the model itself says: its architecture, config, head, labels, size and weights. */
async function modelFacts(dir: string) {
  const { LtgBertForMaskedLM, LtgBertForSequenceClassification, problemTypeOf } = await runtime();
  const { kind, config: raw } = await modelKind(dir);
  // Checkpoints cannot tell the two splits apart; without the key the
  // package takes per_head, which a checkpoint of LTG's BabyLM code does not want.
  const splitAssumed = !("position_qk_split" in raw);
  const weights = await findWeights(dir);
  const model =
    kind === "masked_lm"
      ? await LtgBertForMaskedLM.fromPretrained(dir, { tokenizer: false })
      : await LtgBertForSequenceClassification.fromPretrained(dir, { tokenizer: false });
  let parameters: number;
  try {
    parameters = model.numParameters();
  } finally {
    model.dispose();
  }
  const c = model.config;
  const classifier = model instanceof LtgBertForSequenceClassification;
  const head = classifier ? (c.classifier_head ?? "linear") : "masked_lm";
  const numLabels = classifier ? model.numLabels : null;
  return {
    architecture: classifier ? LtgBertForSequenceClassification.architecture : LtgBertForMaskedLM.architecture,
    c,
    config: {
      ...configSizes(c),
      positionQkSplit: c.position_qk_split,
      positionQkSplitAssumed: splitAssumed,
      head,
      numLabels,
      problemType: classifier ? problemTypeOf(c) : null,
    },
    labels: classifier ? model.labelNames : null,
    parameters,
    weights,
  };
}

type ModelFacts = Awaited<ReturnType<typeof modelFacts>>;

export async function info(modelName: string, options: InfoOptions, io: CliIo): Promise<void> {
  const { TRAINER_STATE_FILE, TRAINING_ARGS_FILE } = await runtime();
  const dir = resolveModelDir(modelName);
  const model = await modelFacts(dir);
  const tokenizer = await tokenizerInfo(dir);
  const training = trainingInfo(
    dir,
    await readJsonObject(path.join(dir, TRAINING_ARGS_FILE)),
    await readJsonObject(path.join(dir, TRAINER_STATE_FILE)),
  );
  const cardFile = path.join(dir, "README.md");
  const title = await modelCardTitle(cardFile);

  if (options.json) {
    const { architecture, config, labels, parameters, weights } = model;
    printJson(io, {
      dir,
      architecture,
      config,
      labels,
      parameters,
      weights,
      tokenizer,
      training,
      modelCard: title === null && !(await exists(cardFile)) ? null : { file: cardFile, title },
    });
    return;
  }
  const line = (name: string, value: string): unknown => io.stdout.write(`  ${name.padEnd(13)} ${value}\n`);
  io.stdout.write(`${dir}\n`);
  printModel(line, model);
  printTokenizer(line, tokenizer);
  printTraining(line, training);
  if (title !== null) line("model card", `${cardFile}: ${title}`);
}

/** Prints one `  name         value` line of the report. */
type Line = (name: string, value: string) => unknown;

function printModel(line: Line, model: ModelFacts): void {
  const { architecture, c, config, labels, weights } = model;
  line(
    "architecture",
    labels !== null
      ? `${architecture} (${config.head} head, ${config.numLabels} labels: ${labels.join(", ")})`
      : architecture,
  );
  line(
    "size",
    `vocab ${c.vocab_size}, hidden ${c.hidden_size}, ${c.num_hidden_layers} layers, ${c.num_attention_heads} heads of ${c.hidden_size / c.num_attention_heads}, intermediate ${c.intermediate_size}`,
  );
  line(
    "positions",
    `max ${c.max_position_embeddings}, bucket ${c.position_bucket_size}, q/k split ${c.position_qk_split}` +
      (config.positionQkSplitAssumed
        ? ' (not in config.json, so assumed; checkpoints of LTG\'s BabyLM code need "position_qk_split": "global")'
        : ""),
  );
  line("parameters", model.parameters.toLocaleString("en-US"));
  line(
    "weights",
    `${weights.file} (${weights.format}${weights.files.length > 1 ? `, ${weights.files.length} shards` : ""}, ${formatBytes(weights.bytes)})`,
  );
}

function printTokenizer(line: Line, tokenizer: Json | null): void {
  if (tokenizer === null) {
    line("tokenizer", "none (no tokenizer.json)");
    return;
  }
  const s = tokenizer.specialTokens as Record<string, { token: string | null; id: number }>;
  const specials = Object.values(s)
    .map((t) => `${t.token} ${t.id}`)
    .join(", ");
  line(
    "tokenizer",
    `${tokenizer.file}: ${tokenizer.type ?? "unknown model"}, vocab ${tokenizer.vocabSize}${tokenizer.lowercase === true ? ", lowercases" : ""}; ${specials}`,
  );
}

function printTraining(line: Line, training: Json | null): void {
  if (training === null) {
    line("trained", "no trainer_state.json or training_args.json");
    return;
  }
  const t = training;
  const list = (files: unknown): string => (Array.isArray(files) ? files.join(", ") : String(files ?? "?"));
  const e = t.lastEval as Record<string, number> | null;
  if (t.task === "masked_lm") {
    const bytes = typeof t.trainBytes === "number" ? ` (${t.trainBytes.toLocaleString("en-US")} bytes)` : "";
    const held = t.evalData === null ? "" : `, evaluated on ${list(t.evalData)}`;
    line("trained on", `${list(t.trainData)}${bytes}${held}`);
    const passes = t.passes === null ? "" : ` (${passesText(t.passes as { complete: number; batches: number })})`;
    line(
      "training",
      `${t.steps ?? "?"} steps${passes}, batch ${t.batchSize ?? "?"} × ${t.sequenceLength} tokens, learning rate ${t.learningRate ?? "?"}, seed ${t.seed ?? "?"}`,
    );
    if (e !== null) {
      line(
        "last eval",
        `step ${e.step}: masked-token loss ${fixed(e.loss)}, accuracy ${fixed(e.accuracy)}, perplexity ${fixed(e.perplexity, 2)}`,
      );
    }
  } else {
    const data = `${t.trainData ?? "?"} (${t.trainExamples ?? "?"} examples)`;
    const dev = t.evalData === null ? "" : `, evaluated on ${t.evalData} (${t.evalExamples ?? "?"} examples)`;
    line("trained on", `${data}${dev}`);
    const epochs = typeof t.epochs === "number" ? fixed(t.epochs, 2) : "?";
    line(
      "training",
      `${t.steps ?? "?"} steps, ${epochs} epochs, batch ${t.batchSize ?? "?"}, learning rate ${t.learningRate ?? "?"}, seed ${t.seed ?? "?"}`,
    );
    if (e !== null) {
      line(
        "last eval",
        `step ${e.step}: loss ${fixed(e.loss)}, accuracy ${fixed(e.accuracy)}, macro-F1 ${fixed(e.macroF1)}, MCC ${fixed(e.mcc)}`,
      );
    }
  }
  if (typeof t.bestMetric === "number")
    line(
      "best",
      `${t.metricForBestModel} ${fixed(t.bestMetric)} (${t.bestCheckpoint ?? "?"}${t.bestCheckpointKept === false ? ", not kept" : ""})`,
    );
}

/** Declares `ltgbert info`: its arguments and options, and the action that runs info. */
export function register(program: Command, context: CliContext): Command {
  const command = program
    .command("info")
    .description("show a model directory: architecture, config, parameters, weights, tokenizer, training")
    .argument("<model-dir>", MODEL_DIR_HELP);
  return jsonOption(command).action(async (dir: string, options: InfoOptions) => {
    await info(dir, options, context.io);
  });
}
