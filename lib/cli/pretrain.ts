// `ltgbert pretrain`: a masked LM trained from random weights on text files.
// Trains a tokenizer on the corpus unless one is given, builds the model at
// the sizes asked for, runs the Trainer's masked-LM task, and leaves in
// --out the model, its tokenizer, the run's state and a model card
// (README.md). Ctrl-C stops it with a checkpoint that --resume continues.
import { Option, type Command } from "commander";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { LtgBertError } from "../errors.js";
import type { LtgBertForMaskedLM } from "../model.js";
import type { Tokenizer } from "../tokenizer.js";
import type { MaskedLMEvalMetrics, TrainCompleted } from "../train/trainer.js";
import {
  type CliContext,
  type CliIo,
  configSizes,
  deviceOption,
  fixed,
  formatBytes,
  fraction,
  jsonOption,
  nonNegativeInteger,
  nonNegativeNumber,
  optimizerOptions,
  positiveFraction,
  positiveInteger,
  printJson,
  resumeOption,
  threadsOption,
  usageError,
} from "./common.js";
import { checkOutput, TrainingStop } from "./interrupt.js";
import { currentGroup, distributedOptions, runDistributed, type DistributedCliOptions } from "./distributed.js";
import {
  commandLine,
  formatDuration,
  passesText,
  pretrainModelCard,
  type Passes,
  textFileFacts,
  type EmbeddingFacts,
  type PretrainCardFacts,
  type TextFileFacts,
} from "./model-card.js";
import { findWeights, type WeightsInfo } from "./model-dir.js";
import { runtime } from "./runtime.js";

export interface PretrainOptions extends DistributedCliOptions {
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
  embeddingInit: EmbeddingInit;
  /** Dropout of the hidden states and attention while pretraining; the final config.json says FINETUNE_DROPOUT. */
  dropout: number;
  json?: boolean;
}

/**
 * The dropout the final config.json asks of whoever fine-tunes the model:
 * LTG-BERT's 0.1, whatever the pretraining used (--dropout).
 */
export const FINETUNE_DROPOUT = 0.1;

/** Where the word embeddings start: seeded noise, or vectors from the corpus's document co-occurrence. */
export type EmbeddingInit = "random" | "cooccurrence";

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
  const { TRAINER_STATE_FILE } = await runtime();
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
  const {
    applyThreads,
    DEFAULT_COOCCURRENCE_MIN_COUNT,
    initEmbeddingsFromCooccurrence,
    LtgBertForMaskedLM,
    MaskedLMCorpus,
    Tokenizer,
    Trainer,
    trainTokenizer,
  } = await runtime();
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
  else if ((currentGroup()?.rank ?? 0) !== 0) {
    // Rank 0 trains the tokenizer into --out; the other ranks read it there.
    await currentGroup()!.barrier();
    tokenizer = await Tokenizer.fromPretrained(options.out);
  } else {
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
    await currentGroup()?.barrier();
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
      hidden_dropout_prob: options.dropout,
      attention_probs_dropout_prob: options.dropout,
    },
    { seed: options.seed, device: options.device },
  );
  const stop = new TrainingStop(io);
  try {
    model.setTokenizer(tokenizer);
    const parameters = model.numParameters();
    // A resumed run's checkpoint holds the embeddings the first run started from and trained.
    let embeddings: EmbeddingFacts | null = null;
    // Rank 0's weights go to every rank at the first step: the others need not compute them.
    if (options.embeddingInit === "cooccurrence" && resumeFrom === null && (currentGroup()?.rank ?? 0) === 0) {
      say(`word embeddings from document co-occurrence in ${options.corpus.join(", ")}`);
      const t0 = performance.now();
      const corpus = await MaskedLMCorpus.open(options.corpus, tokenizer);
      const report = await initEmbeddingsFromCooccurrence(model, corpus, { seed: options.seed });
      embeddings = { ...report, minCount: DEFAULT_COOCCURRENCE_MIN_COUNT, seconds: (performance.now() - t0) / 1000 };
      say(
        `  ${report.documents.toLocaleString("en-US")} documents, ${report.pairs.toLocaleString("en-US")} token pairs, ${formatDuration(embeddings.seconds)}`,
      );
    }
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
      processGroup: currentGroup(),
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
      embeddings,
      started,
    });
  } finally {
    stop.release();
    model.dispose();
  }
}

/** What `finish` knows of a finished run: its arguments, and what it leaves in --out. */
interface FinishedRun {
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
  /** The co-occurrence start of the word embeddings, when this run computed it. */
  embeddings: EmbeddingFacts | null;
  started: number;
}

/** What --out holds after the run, read back for the model card and the summary. */
interface RunOutcome {
  weights: WeightsInfo;
  loss: number;
  lossSteps: number;
  passes: Passes;
  warmupSteps: number;
  metrics: MaskedLMEvalMetrics | null;
  command: string;
  cardFile: string;
  seconds: PretrainCardFacts["seconds"];
}

/** After training: the model card, then the summary on stdout. */
async function finish(result: TrainCompleted<MaskedLMEvalMetrics>, run: FinishedRun): Promise<void> {
  if ((currentGroup()?.rank ?? 0) !== 0) return; // rank 0 writes the card and reports
  await setFinetuneDropout(run.options.out);
  const outcome = await readOutcome(result, run);
  const facts = await cardFacts(result, run, outcome);
  await writeFile(outcome.cardFile, pretrainModelCard(facts));
  if (run.options.json) printJson(run.io, summaryJson(result, run, outcome, facts.threads));
  else await printSummary(result, run, outcome);
}

/**
 * Sets the dropout in out/config.json to FINETUNE_DROPOUT: the final model is
 * for fine-tuning, however it was pretrained (its checkpoints keep the
 * pretraining's dropout, so that --resume goes on as the run began).
 */
async function setFinetuneDropout(out: string): Promise<void> {
  const { writeFileAtomic } = await import("../save.js");
  const file = path.join(out, "config.json");
  const config = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  const keys = ["hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"];
  if (keys.every((key) => config[key] === undefined || config[key] === FINETUNE_DROPOUT)) return;
  for (const key of keys) if (config[key] !== undefined) config[key] = FINETUNE_DROPOUT;
  await writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
}

/** The weights, final loss, passes and warm-up of the run in --out, and the timings so far. */
async function readOutcome(result: TrainCompleted<MaskedLMEvalMetrics>, run: FinishedRun): Promise<RunOutcome> {
  const { TRAINING_ARGS_FILE } = await runtime();
  const out = run.options.out;
  const weights = await findWeights(out);
  const { loss, lossSteps, passes } = await readRunState(out);
  const args = JSON.parse(await readFile(path.join(out, TRAINING_ARGS_FILE), "utf8")) as { warmupSteps: number };
  return {
    weights,
    loss,
    lossSteps,
    passes,
    warmupSteps: args.warmupSteps,
    metrics: result.metrics ?? null,
    command: commandLine(run.context.args),
    cardFile: path.join(out, MODEL_CARD_FILE),
    seconds: { total: (performance.now() - run.started) / 1000, ...run.seconds },
  };
}

/** Everything the model card says. */
async function cardFacts(
  result: TrainCompleted<MaskedLMEvalMetrics>,
  run: FinishedRun,
  outcome: RunOutcome,
): Promise<PretrainCardFacts> {
  const { getNumThreads } = await runtime();
  const { options, tokenizer } = run;
  const { weights } = outcome;
  return {
    name: path.basename(path.resolve(options.out)),
    version: run.context.version,
    command: outcome.command,
    config: run.model.config,
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
      passes: outcome.passes,
      batchSize: options.batchSize,
      sequenceLength: options.sequenceLength,
      learningRate: options.lr,
      warmupSteps: outcome.warmupSteps,
      weightDecay: options.weightDecay,
      maxGradNorm: options.maxGradNorm,
      maskProbability: options.maskProbability,
      dropout: options.dropout,
      finetuneDropout: FINETUNE_DROPOUT,
      seed: options.seed,
      resumedFrom: run.resumedFrom,
    },
    embeddings: { init: options.embeddingInit, computed: run.embeddings },
    loss: { final: outcome.loss, finalSteps: outcome.lossSteps, mean: result.trainLoss },
    metrics: outcome.metrics,
    seconds: outcome.seconds,
    threads: getNumThreads(),
    device: options.device,
    nodeVersion: process.version,
    finished: new Date().toISOString(),
    notes: run.notes,
  };
}

/** The --json summary of a finished run. */
function summaryJson(
  result: TrainCompleted<MaskedLMEvalMetrics>,
  run: FinishedRun,
  outcome: RunOutcome,
  threads: number,
): unknown {
  const { options, tokenizer } = run;
  const { weights, metrics } = outcome;
  const out = options.out;
  return {
    output: out,
    modelCard: outcome.cardFile,
    command: outcome.command,
    version: run.context.version,
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
    config: configSizes(run.model.config),
    parameters: run.parameters,
    embeddingInit: options.embeddingInit,
    dropout: options.dropout,
    cooccurrence:
      run.embeddings === null
        ? null
        : {
            documents: run.embeddings.documents,
            tokens: run.embeddings.tokens,
            pairs: run.embeddings.pairs,
            minCount: run.embeddings.minCount,
            seconds: run.embeddings.seconds,
          },
    weights: { file: weights.file, bytes: weights.bytes },
    steps: result.globalStep,
    epochs: result.epochs,
    warmupSteps: outcome.warmupSteps,
    trainLoss: result.trainLoss,
    passes: outcome.passes,
    finalLoss: outcome.loss,
    finalLossSteps: outcome.lossSteps,
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
    seconds: outcome.seconds,
    threads,
    device: options.device,
  };
}

/** The summary of a finished run as text: what was trained, on what, its loss, and where it was saved. */
async function printSummary(
  result: TrainCompleted<MaskedLMEvalMetrics>,
  run: FinishedRun,
  outcome: RunOutcome,
): Promise<void> {
  const { LtgBertForMaskedLM } = await runtime();
  const { io } = run;
  const { weights, metrics, loss, lossSteps, passes, seconds } = outcome;
  const c = run.model.config;
  const bytes = run.corpus.reduce((sum, f) => sum + f.bytes, 0);
  io.stdout.write(
    `pretrained ${LtgBertForMaskedLM.architecture} (vocab ${c.vocab_size}, hidden ${c.hidden_size}, ${c.num_hidden_layers} layers, ${c.num_attention_heads} heads; ${run.parameters.toLocaleString("en-US")} parameters) on ${run.corpus.length} file${run.corpus.length === 1 ? "" : "s"} (${formatBytes(bytes)}): ${result.globalStep} steps (${passesText(passes)}), final training loss ${fixed(loss)} (mean of the last ${lossSteps} steps)\n`,
  );
  if (metrics !== null && run.held !== null) io.stdout.write(`held-out ${run.held.file}: ${metricsLine(metrics)}\n`);
  io.stdout.write(
    `saved to ${run.options.out} (${path.basename(weights.file)} ${formatBytes(weights.bytes)}, tokenizer, ${MODEL_CARD_FILE}) in ${formatDuration(seconds.total)}\n`,
  );
}

/** Declares `ltgbert pretrain`: its arguments and options, and the action that runs pretrain. */
export function register(program: Command, context: CliContext): Command {
  const command = program
    .command("pretrain")
    .description(
      "pretrain a masked LM from scratch on text files: tokenizer (trained on the corpus unless given), model, checkpoints, model card",
    )
    .requiredOption("--corpus <file...>", "training text: one or more files, read in order each epoch")
    .requiredOption("--out <dir>", "output directory: checkpoints, train_log.jsonl, the final model and README.md")
    .option("--eval <file>", "held-out text: masked-LM loss, accuracy and perplexity at each evaluation")
    .addOption(
      new Option("--tokenizer <dir>", "directory with the tokenizer.json to use (default: train one on the corpus)"),
    )
    .addOption(
      new Option("--vocab-size <n>", "tokens of the tokenizer trained on the corpus (saved in --out)")
        .argParser(positiveInteger)
        .default(8192)
        .conflicts("tokenizer"),
    )
    .addOption(
      new Option(
        "--lowercase",
        "the tokenizer trained on the corpus lowercases all text, the corpus's and every later input",
      ).conflicts("tokenizer"),
    )
    .option("--hidden-size <n>", "hidden size", positiveInteger, 192)
    .option("--layers <n>", "encoder layers", positiveInteger, 4)
    .option("--heads <n>", "attention heads (a divisor of --hidden-size)", positiveInteger, 3)
    .option("--intermediate-size <n>", "feed-forward (GeGLU) size", positiveInteger, 512)
    .option("--max-position-embeddings <n>", "longest sequence the model takes", positiveInteger, 512)
    .option("--position-bucket-size <n>", "relative-position buckets", positiveInteger, 32)
    .option("--sequence-length <n>", "tokens per training sequence, [CLS] and [SEP] included", positiveInteger, 128)
    .option("--batch-size <n>", "sequences per batch", positiveInteger, 32)
    .addOption(
      new Option("--epochs <n>", "passes over the corpus").argParser(positiveInteger).default(1).conflicts("maxSteps"),
    )
    .option("--max-steps <n>", "optimizer steps in all, however many epochs that takes", positiveInteger);
  optimizerOptions(command, { lr: 1e-3, lrText: "1e-3", warmupRatio: 0.06, weightDecay: 0.01 })
    .option("--max-grad-norm <x>", "clip gradients to this global norm (0: no clipping)", nonNegativeNumber, 1)
    .option("--mask-probability <x>", "share of the tokens masked (LTG-BERT's span masking)", positiveFraction, 0.15)
    .option(
      "--eval-every <n>",
      "evaluate every n steps (default: at each epoch's end, and at the last step)",
      positiveInteger,
    )
    .option("--save-every <n>", "write a checkpoint every n steps (default: at each epoch's end)", positiveInteger)
    .option("--save-total-limit <n>", "keep at most n checkpoints (default: all)", positiveInteger)
    .addOption(
      new Option(
        "--embedding-init <kind>",
        "where the word embeddings start: random, or cooccurrence (vectors from which tokens share documents in the corpus: PPMI and SVD, a few minutes before the first step)",
      )
        .choices(["random", "cooccurrence"])
        .default("random"),
    )
    .option(
      "--dropout <p>",
      `dropout of the hidden states and attention while pretraining (the final config.json says ${FINETUNE_DROPOUT}, for fine-tuning)`,
      fraction,
      FINETUNE_DROPOUT,
    )
    .option("--seed <n>", "seed of the initialisation, data order, masking and dropout", nonNegativeInteger, 42)
    .option("--card-notes <file>", "text appended verbatim to the model card: the data's source and licence");
  threadsOption(command);
  resumeOption(deviceOption(command));
  return jsonOption(distributedOptions(command)).action(async (options: PretrainOptions) => {
    await runDistributed(options, context.io, context.argv, (io) =>
      pretrain(options, { args: context.argv.slice(2), version: context.version }, io),
    );
  });
}
