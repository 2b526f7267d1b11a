// `ltgbert pretrain`: a masked LM trained from random weights on text files.
// Trains a tokenizer on the corpus unless one is given, builds the model at
// the sizes asked for, runs the Trainer's masked-LM task, and leaves in
// --out the model, its tokenizer, the run's state and a model card
// (README.md). Ctrl-C stops it with a checkpoint that --resume continues.
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { LtgBertError } from "../errors.js";
import { LtgBertForMaskedLM } from "../model.js";
import { getNumThreads } from "../system.js";
import { Tokenizer, trainTokenizer } from "../tokenizer.js";
import {
  Trainer,
  TRAINER_STATE_FILE,
  TRAINING_ARGS_FILE,
  type MaskedLMEvalMetrics,
  type TrainCompleted,
} from "../train/trainer.js";
import { configSizes, fixed, formatBytes, printJson, usageError, type CliIo } from "./common.js";
import { checkOutput, TrainingStop } from "./interrupt.js";
import { applyThreads } from "./load.js";
import {
  commandLine,
  formatDuration,
  passesText,
  pretrainModelCard,
  type Passes,
  textFileFacts,
  type PretrainCardFacts,
  type TextFileFacts,
} from "./model-card.js";
import { findWeights } from "./model-dir.js";

export interface PretrainOptions {
  corpus: string[];
  out: string;
  eval?: string;
  tokenizer?: string;
  vocabSize: number;
  lowercase?: boolean;
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  positionBucketSize: number;
  sequenceLength: number;
  batchSize: number;
  epochs: number;
  maxSteps?: number;
  lr: number;
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  maskProbability: number;
  evalEvery?: number;
  saveEvery?: number;
  saveTotalLimit?: number;
  seed: number;
  threads?: number;
  device: string;
  resume?: boolean;
  cardNotes?: string;
  json?: boolean;
}

/** What the command knows of how it was called, for the model card. */
export interface PretrainContext {
  /** The arguments after `ltgbert`, as the shell passed them. */
  args: readonly string[];
  /** The package's version. */
  version: string;
}

/** The model card's name in --out. */
export const MODEL_CARD_FILE = "README.md";

/** The training loss the card calls final: the mean of this many last steps (fewer in a shorter run). */
const FINAL_LOSS_STEPS = 100;

/** Checks that a file named by `option` exists and is a file. */
async function requireFile(file: string, option: string): Promise<void> {
  const info = await stat(file).catch(() => null);
  if (info === null) throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${file}: no such file (${option})`);
  if (!info.isFile()) throw new LtgBertError("LTGBERT_INVALID_ARGUMENT", `${file}: not a file (${option})`);
}

/** The sizes and lengths that commander cannot check one option at a time. */
function checkSizes(o: PretrainOptions): void {
  if (o.hiddenSize % o.heads !== 0)
    throw usageError(`--hidden-size: ${o.hiddenSize} is not a multiple of --heads ${o.heads}`);
  if (o.positionBucketSize < 2)
    throw usageError(`--position-bucket-size: expected at least 2, got ${o.positionBucketSize}`);
  if (o.sequenceLength < 3)
    throw usageError(`--sequence-length: expected at least 3 ([CLS], a token, [SEP]), got ${o.sequenceLength}`);
  if (o.sequenceLength > o.maxPositionEmbeddings) {
    throw usageError(
      `--sequence-length: ${o.sequenceLength} is more than --max-position-embeddings ${o.maxPositionEmbeddings}`,
    );
  }
}

/** The newest `checkpoint-<step>` folder in `out`, or an error saying there is none to resume. */
async function newestCheckpoint(out: string): Promise<{ dir: string; step: number }> {
  const entries = await readdir(out, { withFileTypes: true }).catch(() => []);
  const steps = entries
    .filter((e) => e.isDirectory() && /^checkpoint-\d+$/.test(e.name))
    .map((e) => Number(e.name.slice("checkpoint-".length)))
    .sort((a, b) => b - a);
  if (steps.length === 0) {
    throw new LtgBertError(
      "LTGBERT_FILE_NOT_FOUND",
      `${out}: no checkpoint-<step> folder to resume from (--resume continues a run stopped with a checkpoint)`,
    );
  }
  return { dir: path.join(out, `checkpoint-${steps[0]}`), step: steps[0] };
}

/** What the finished run's trainer_state.json says: the final loss, and how far into the corpus it got. */
async function readRunState(out: string): Promise<{ loss: number; lossSteps: number; passes: Passes }> {
  const state = JSON.parse(await readFile(path.join(out, TRAINER_STATE_FILE), "utf8")) as {
    log_history?: Record<string, number>[];
    data_position?: { epoch?: number; batch_in_epoch?: number };
  };
  const losses = (state.log_history ?? []).filter((e) => typeof e.loss === "number").map((e) => e.loss);
  const last = losses.slice(-FINAL_LOSS_STEPS);
  const position = state.data_position ?? {};
  return {
    loss: last.reduce((a, b) => a + b, 0) / Math.max(1, last.length),
    lossSteps: last.length,
    passes: { complete: position.epoch ?? 0, batches: position.batch_in_epoch ?? 0 },
  };
}

function metricsLine(m: MaskedLMEvalMetrics): string {
  return `loss ${fixed(m.loss)}, accuracy ${fixed(m.accuracy)}, perplexity ${fixed(m.perplexity, 2)}`;
}

export async function pretrain(options: PretrainOptions, context: PretrainContext, io: CliIo): Promise<void> {
  const started = performance.now();
  applyThreads(options.threads);
  checkSizes(options);
  // Everything the run reads is checked before anything is written.
  for (const file of options.corpus) await requireFile(file, "--corpus");
  if (options.eval !== undefined) await requireFile(options.eval, "--eval");
  if (options.cardNotes !== undefined) await requireFile(options.cardNotes, "--card-notes");
  if (options.tokenizer !== undefined) await requireFile(path.join(options.tokenizer, "tokenizer.json"), "--tokenizer");
  const notes = options.cardNotes === undefined ? null : await readFile(options.cardNotes, "utf8");
  await checkOutput(options.out, options.resume === true);
  const resumeFrom = options.resume ? await newestCheckpoint(options.out) : null;
  const corpus: TextFileFacts[] = [];
  for (const file of options.corpus) corpus.push(await textFileFacts(file));
  const held = options.eval === undefined ? null : await textFileFacts(options.eval);
  const say = (text: string): void => {
    if (!options.json) io.stderr.write(`${text}\n`);
  };

  // The tokenizer: the one given; a resumed run's own (its checkpoint has it); or one trained on the corpus.
  let tokenizer: Tokenizer;
  let tokenizerSeconds: number | null = null;
  if (options.tokenizer !== undefined) tokenizer = await Tokenizer.fromPretrained(options.tokenizer);
  else if (resumeFrom !== null) tokenizer = await Tokenizer.fromPretrained(resumeFrom.dir);
  else {
    const lowered = options.lowercase === true ? "lowercased " : "";
    say(`training a ${lowered}tokenizer of ${options.vocabSize} tokens on ${options.corpus.join(", ")}`);
    const t0 = performance.now();
    tokenizer = await trainTokenizer(options.corpus, {
      outputDir: options.out,
      vocabSize: options.vocabSize,
      lowercase: options.lowercase === true,
    });
    tokenizerSeconds = (performance.now() - t0) / 1000;
    if (tokenizer.vocabSize < options.vocabSize)
      say(`the corpus gave ${tokenizer.vocabSize} tokens, fewer than the ${options.vocabSize} asked for`);
  }

  const model = await LtgBertForMaskedLM.fromConfig(
    {
      vocab_size: tokenizer.vocabSize,
      hidden_size: options.hiddenSize,
      num_hidden_layers: options.layers,
      num_attention_heads: options.heads,
      intermediate_size: options.intermediateSize,
      max_position_embeddings: options.maxPositionEmbeddings,
      position_bucket_size: options.positionBucketSize,
    },
    { seed: options.seed, device: options.device },
  );
  const stop = new TrainingStop(io);
  try {
    model.setTokenizer(tokenizer);
    const parameters = model.numParameters();
    const bar = io.stderr.isTTY === true;
    const trainer = new Trainer(model, {
      trainData: options.corpus,
      ...(options.eval === undefined ? {} : { evalData: options.eval }),
      tokenizer,
      outputDir: options.out,
      epochs: options.epochs,
      maxSteps: options.maxSteps,
      batchSize: options.batchSize,
      sequenceLength: options.sequenceLength,
      learningRate: options.lr,
      warmupRatio: options.warmupRatio,
      weightDecay: options.weightDecay,
      maxGradNorm: options.maxGradNorm,
      maskProbability: options.maskProbability,
      evalEvery: options.evalEvery,
      saveEvery: options.saveEvery,
      saveTotalLimit: options.saveTotalLimit,
      seed: options.seed,
      signal: stop.signal,
      progress: bar,
    });
    // Without a bar (stderr is a file or a pipe) each evaluation is a line.
    if (!bar) {
      trainer.on("evaluate", ({ step, epoch, metrics }) =>
        io.stderr.write(`step ${step} (epoch ${epoch.toFixed(2)}): held-out ${metricsLine(metrics)}\n`),
      );
    }
    say(
      `pretraining ${LtgBertForMaskedLM.architecture} of ${parameters.toLocaleString("en-US")} parameters${resumeFrom === null ? "" : `, resumed from ${resumeFrom.dir}`}`,
    );

    stop.listen();
    const trainStarted = performance.now();
    const result = await trainer.train(resumeFrom === null ? {} : { resumeFrom: resumeFrom.dir });
    const trainingSeconds = (performance.now() - trainStarted) / 1000;
    if (result.interrupted) throw stop.exit(result, options.out, options.json ? { output: options.out } : null);
    await finish(result as TrainCompleted<MaskedLMEvalMetrics>, {
      options,
      context,
      io,
      model,
      parameters,
      tokenizer,
      corpus,
      held,
      notes,
      resumedFrom: resumeFrom?.step ?? null,
      seconds: { training: trainingSeconds, tokenizer: tokenizerSeconds },
      started,
    });
  } finally {
    stop.release();
    model.dispose();
  }
}

/** After training: the model card, then the summary on stdout. */
async function finish(
  result: TrainCompleted<MaskedLMEvalMetrics>,
  run: {
    options: PretrainOptions;
    context: PretrainContext;
    io: CliIo;
    model: LtgBertForMaskedLM;
    parameters: number;
    tokenizer: Tokenizer;
    corpus: TextFileFacts[];
    held: TextFileFacts | null;
    notes: string | null;
    resumedFrom: number | null;
    seconds: { training: number; tokenizer: number | null };
    started: number;
  },
): Promise<void> {
  const { options, context, io, model, tokenizer } = run;
  const out = options.out;
  const weights = await findWeights(out);
  const { loss, lossSteps, passes } = await readRunState(out);
  const args = JSON.parse(await readFile(path.join(out, TRAINING_ARGS_FILE), "utf8")) as { warmupSteps: number };
  const metrics = result.metrics ?? null;
  const command = commandLine(context.args);
  const cardFile = path.join(out, MODEL_CARD_FILE);
  const seconds = { total: (performance.now() - run.started) / 1000, ...run.seconds };
  const facts: PretrainCardFacts = {
    name: path.basename(path.resolve(out)),
    version: context.version,
    command,
    config: model.config,
    parameters: run.parameters,
    weights: { file: weights.file, bytes: weights.bytes },
    tokenizer: {
      vocabSize: tokenizer.vocabSize,
      source: options.tokenizer ?? null,
      requestedVocabSize: options.tokenizer === undefined ? options.vocabSize : null,
      lowercase: tokenizer.lowercase,
    },
    corpus: run.corpus,
    eval: run.held,
    training: {
      steps: result.globalStep,
      passes,
      batchSize: options.batchSize,
      sequenceLength: options.sequenceLength,
      learningRate: options.lr,
      warmupSteps: args.warmupSteps,
      weightDecay: options.weightDecay,
      maxGradNorm: options.maxGradNorm,
      maskProbability: options.maskProbability,
      seed: options.seed,
      resumedFrom: run.resumedFrom,
    },
    loss: { final: loss, finalSteps: lossSteps, mean: result.trainLoss },
    metrics,
    seconds,
    threads: getNumThreads(),
    device: options.device,
    nodeVersion: process.version,
    finished: new Date().toISOString(),
    notes: run.notes,
  };
  await writeFile(cardFile, pretrainModelCard(facts));

  const c = model.config;
  if (options.json) {
    printJson(io, {
      output: out,
      modelCard: cardFile,
      command,
      version: context.version,
      interrupted: false,
      resumed: run.resumedFrom !== null,
      resumedFrom: run.resumedFrom,
      corpus: run.corpus,
      eval: run.held,
      tokenizer: {
        file: path.join(out, "tokenizer.json"),
        vocabSize: tokenizer.vocabSize,
        trained: options.tokenizer === undefined,
        source: options.tokenizer ?? null,
        lowercase: tokenizer.lowercase,
      },
      config: configSizes(c),
      parameters: run.parameters,
      weights: { file: weights.file, bytes: weights.bytes },
      steps: result.globalStep,
      epochs: result.epochs,
      warmupSteps: args.warmupSteps,
      trainLoss: result.trainLoss,
      passes,
      finalLoss: loss,
      finalLossSteps: lossSteps,
      metrics:
        metrics === null
          ? null
          : {
              loss: metrics.loss,
              accuracy: metrics.accuracy,
              perplexity: metrics.perplexity,
              tokens: metrics.tokens,
              samples: metrics.samples,
            },
      seconds,
      threads: facts.threads,
      device: options.device,
    });
    return;
  }
  const bytes = run.corpus.reduce((sum, f) => sum + f.bytes, 0);
  io.stdout.write(
    `pretrained ${LtgBertForMaskedLM.architecture} (vocab ${c.vocab_size}, hidden ${c.hidden_size}, ${c.num_hidden_layers} layers, ${c.num_attention_heads} heads; ${run.parameters.toLocaleString("en-US")} parameters) on ${run.corpus.length} file${run.corpus.length === 1 ? "" : "s"} (${formatBytes(bytes)}): ${result.globalStep} steps (${passesText(passes)}), final training loss ${fixed(loss)} (mean of the last ${lossSteps} steps)\n`,
  );
  if (metrics !== null && run.held !== null) io.stdout.write(`held-out ${run.held.file}: ${metricsLine(metrics)}\n`);
  io.stdout.write(
    `saved to ${out} (${path.basename(weights.file)} ${formatBytes(weights.bytes)}, tokenizer, ${MODEL_CARD_FILE}) in ${formatDuration(seconds.total)}\n`,
  );
}
