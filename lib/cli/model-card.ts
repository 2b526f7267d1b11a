// The model card (README.md) that `ltgbert pretrain` leaves beside the
// model: what the model is, the command that made it, the text it read,
// how training ended, and the data's licence as the user states it. Pure
// text from facts gathered by the command, plus the file statistics.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import path from "node:path";
import type { LtgBertConfig } from "../config.js";
import type { MaskedLMEvalMetrics } from "../train/mlm-task.js";
import { fixed, formatBytes } from "./common.js";

/** A text file as the card lists it. */
export interface TextFileFacts {
  /** The path as given on the command line. */
  file: string;
  bytes: number;
  /** Newline-terminated lines, plus a last line without one. */
  lines: number;
  sha256: string;
}

/** Size, line count and SHA-256 of a file, in one streamed pass. */
export async function textFileFacts(file: string): Promise<TextFileFacts> {
  const hash = createHash("sha256");
  let bytes = 0;
  let lines = 0;
  let last = -1;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    last = chunk[chunk.length - 1];
  }
  if (bytes > 0 && last !== 10) lines++;
  return { file, bytes, lines, sha256: hash.digest("hex") };
}

// Characters a POSIX shell leaves alone in a word.
const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

/** A word as a POSIX shell reads it back: quoted only where it has to be. */
export function shellQuote(word: string): string {
  return PLAIN_WORD.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `ltgbert <args>` as one line a shell runs again. */
export function commandLine(args: readonly string[]): string {
  return ["ltgbert", ...args].map(shellQuote).join(" ");
}

/** Seconds as "42.1 s", "3 min 05 s" or "2 h 03 min". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const two = (n: number): string => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)} min ${two(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${two(Math.floor((s % 3600) / 60))} min`;
}

/** How far a run got through its corpus: whole passes, then batches of the next one. */
export interface Passes {
  complete: number;
  batches: number;
}

/** "2 passes over the corpus", "1 pass over the corpus and 6 batches of the next". */
export function passesText(p: Passes): string {
  const whole = `${p.complete} pass${p.complete === 1 ? "" : "es"} over the corpus`;
  if (p.batches === 0) return whole;
  const batches = `${p.batches} batch${p.batches === 1 ? "" : "es"}`;
  return p.complete === 0 ? `${batches} of the first pass over the corpus` : `${whole} and ${batches} of the next`;
}

/** What the co-occurrence start of the word embeddings read and took. */
export interface EmbeddingFacts {
  documents: number;
  tokens: number;
  /** Distinct token pairs with a positive PMI. */
  pairs: number;
  /** Pairs sharing fewer documents counted as 0. */
  minCount: number;
  seconds: number;
}

/** What `pretrainModelCard` writes about. */
export interface PretrainCardFacts {
  /** The card's title: the output directory's name. */
  name: string;
  /** The package's version. */
  version: string;
  /** The command line, as `commandLine` gives it. */
  command: string;
  config: LtgBertConfig;
  parameters: number;
  weights: { file: string; bytes: number };
  tokenizer: {
    vocabSize: number;
    /** The --tokenizer directory, or null when the run trained one on the corpus. */
    source: string | null;
    /** --vocab-size, when the run trained the tokenizer. */
    requestedVocabSize: number | null;
    /** Whether the tokenizer lowercases its input. */
    lowercase: boolean;
  };
  corpus: TextFileFacts[];
  eval: TextFileFacts | null;
  training: {
    steps: number;
    passes: Passes;
    batchSize: number;
    sequenceLength: number;
    learningRate: number;
    warmupSteps: number;
    weightDecay: number;
    maxGradNorm: number;
    maskProbability: number;
    /** Dropout of the hidden states and attention while pretraining. */
    dropout: number;
    /** The dropout the saved config.json gives for fine-tuning. */
    finetuneDropout: number;
    seed: number;
    /** The step of the checkpoint this run resumed from, or null. */
    resumedFrom: number | null;
  };
  /** Where the word embeddings started; `computed` is null for a run resumed from a checkpoint. */
  embeddings: { init: "random" | "cooccurrence"; computed: EmbeddingFacts | null };
  loss: {
    /** Mean training loss of the last `finalSteps` steps. */
    final: number;
    finalSteps: number;
    /** Mean over every step of the run. */
    mean: number;
  };
  /** The last evaluation on the held-out file. */
  metrics: MaskedLMEvalMetrics | null;
  seconds: { total: number; training: number; tokenizer: number | null };
  threads: number;
  device: string;
  nodeVersion: string;
  /** When training ended (ISO 8601). */
  finished: string;
  /** The --card-notes file's text, verbatim. */
  notes: string | null;
}

const count = (n: number): string => n.toLocaleString("en-US");
const code = (text: string): string => `\`${text.replace(/`/g, "'")}\``;
const percent = (p: number): string => `${Number((100 * p).toPrecision(6))}%`;

/** One row of a two-column table whose header is empty. */
function row(name: string, value: string): string {
  return `| ${name} | ${value} |`;
}

/** The Training section's line on where the word embeddings started, if not from noise. */
function embeddingLines(f: PretrainCardFacts): string[] {
  if (f.embeddings.init === "random") return [];
  const e = f.embeddings.computed;
  const what =
    "- Word embeddings (tied to the output layer) started from document co-occurrence in the corpus, not noise: for every pair of tokens, the documents holding both as positive PMI";
  if (e === null)
    return [
      `${what} (computed by the run this one resumed), reduced to ${f.config.hidden_size} dimensions by a seeded randomized SVD; special tokens' rows random.`,
    ];
  return [
    `${what} (pairs in fewer than ${e.minCount} documents count as 0; ${count(e.documents)} documents, ${count(e.tokens)} tokens, ${count(e.pairs)} pairs kept), reduced to ${f.config.hidden_size} dimensions by a seeded randomized SVD and scaled to the initial spread; special tokens' rows random. ${formatDuration(e.seconds)}, part of the wall time below.`,
  ];
}

/**
 * The README.md of a pretrained model: Hugging Face's front matter, then
 * Model, Training data, Training (the command line in a code block),
 * Results, Use, and Data licence and notes (the --card-notes text, or a
 * placeholder asking for it).
 */
export function pretrainModelCard(f: PretrainCardFacts): string {
  const c = f.config;
  const t = f.training;
  const totalBytes = f.corpus.reduce((sum, file) => sum + file.bytes, 0);
  const files = f.corpus.length === 1 ? "one text file" : `${f.corpus.length} text files`;
  const lowercased = f.tokenizer.lowercase ? "; lowercases all text" : "";
  const vocabulary =
    f.tokenizer.source === null
      ? `${count(f.tokenizer.vocabSize)} (WordPiece in LTG-BERT's layout, trained on the corpus below; ${count(f.tokenizer.requestedVocabSize ?? f.tokenizer.vocabSize)} asked for${lowercased})`
      : `${count(f.tokenizer.vocabSize)} (the tokenizer of ${code(f.tokenizer.source)}${lowercased})`;
  const fileRow = (file: TextFileFacts): string =>
    `| ${code(path.basename(file.file))} | ${count(file.bytes)} | ${count(file.lines)} | ${code(file.sha256)} |`;
  const lines: string[] = [
    "---",
    "library_name: ltgbert",
    "pipeline_tag: fill-mask",
    "tags:",
    "  - ltg-bert",
    "  - masked-lm",
    "---",
    "",
    `# ${f.name}`,
    "",
    `An LTG-BERT masked language model pretrained from ${f.embeddings.init === "random" ? "random weights" : "random weights and word embeddings from the corpus's co-occurrence counts"} by \`ltgbert pretrain\` (ltgbert ${f.version}) on ${files} of ${formatBytes(totalBytes)}.`,
    "",
    "## Model",
    "",
    "| | |",
    "| --- | --- |",
    row("architecture", code("LtgBertForMaskedLM")),
    row("hidden size", String(c.hidden_size)),
    row("layers", String(c.num_hidden_layers)),
    row("attention heads", `${c.num_attention_heads} of ${c.hidden_size / c.num_attention_heads} dimensions`),
    row("intermediate size", `${c.intermediate_size} (GeGLU)`),
    row("positions", `at most ${c.max_position_embeddings}, relative, ${c.position_bucket_size} buckets`),
    row("vocabulary", vocabulary),
    row("parameters", count(f.parameters)),
    row(
      "size on disk",
      `${formatBytes(f.weights.bytes)} (${count(f.weights.bytes)} bytes, ${code(path.basename(f.weights.file))})`,
    ),
    "",
    "## Training data",
    "",
    "| file | bytes | lines | sha256 |",
    "| --- | ---: | ---: | --- |",
    ...f.corpus.map(fileRow),
    "",
    f.eval === null
      ? "No held-out file was evaluated (`--eval`)."
      : `Held out for evaluation: ${code(path.basename(f.eval.file))}, ${count(f.eval.bytes)} bytes, ${count(f.eval.lines)} lines, sha256 ${code(f.eval.sha256)}.`,
    "",
    "## Training",
    "",
    "```sh",
    f.command,
    "```",
    "",
    `- ${count(t.steps)} optimizer steps of ${t.batchSize} sequences of ${t.sequenceLength} tokens ([CLS] and [SEP] included): ${passesText(t.passes)}.`,
    `- AdamW, peak learning rate ${t.learningRate}, ${t.warmupSteps === 0 ? "no warm-up" : `linear warm-up over ${count(t.warmupSteps)} step${t.warmupSteps === 1 ? "" : "s"}`}, then linear decay to 0; weight decay ${t.weightDecay} (not on biases and LayerNorm weights), gradients clipped to norm ${t.maxGradNorm}.`,
    `- LTG-BERT's span masking of ${percent(t.maskProbability)} of the tokens; seed ${t.seed}.`,
    t.dropout === t.finetuneDropout
      ? `- Dropout ${t.dropout} on the hidden states and attention.`
      : `- Dropout ${t.dropout} on the hidden states and attention while pretraining; config.json says ${t.finetuneDropout}, for fine-tuning.`,
    ...embeddingLines(f),
    `- Wall time ${formatDuration(f.seconds.total)} (training ${formatDuration(f.seconds.training)}${f.seconds.tokenizer === null ? "" : `, tokenizer ${formatDuration(f.seconds.tokenizer)}`}), ${f.threads} libtorch thread${f.threads === 1 ? "" : "s"} on ${f.device}; ltgbert ${f.version}, Node ${f.nodeVersion}; finished ${f.finished}.`,
  ];
  if (t.resumedFrom !== null)
    lines.push(`- Resumed from \`checkpoint-${t.resumedFrom}\`: the wall time is that of the run that finished.`);
  lines.push(
    "",
    "## Results",
    "",
    "| | |",
    "| --- | --- |",
    row(`final training MLM loss (mean of the last ${f.loss.finalSteps} steps)`, fixed(f.loss.final)),
    row("training MLM loss, mean of all steps", fixed(f.loss.mean)),
  );
  if (f.metrics !== null && f.eval !== null) {
    const m = f.metrics;
    lines.push(
      row("held-out MLM loss", fixed(m.loss)),
      row("held-out accuracy of the masked tokens", fixed(m.accuracy)),
      row("held-out perplexity", fixed(m.perplexity, 2)),
      "",
      `Held-out figures: ${count(m.tokens)} masked tokens in ${count(m.samples)} sequences of ${code(path.basename(f.eval.file))}, masked with the run's seed.`,
    );
  }
  lines.push(
    "",
    "## Use",
    "",
    "```ts",
    'import { LtgBertForMaskedLM } from "ltgbert";',
    "",
    `const mlm = await LtgBertForMaskedLM.fromPretrained(${JSON.stringify(`./${f.name}`)});`,
    "```",
    "",
    "```sh",
    `ltgbert info ${shellQuote(`./${f.name}`)}`,
    `ltgbert finetune --model ${shellQuote(`./${f.name}`)} --data ./sst2 --out ./sst2-model`,
    "```",
    "",
    "The directory is Hugging Face's layout (config.json, model.safetensors, tokenizer.json); Python loads it too.",
    "",
    "## Data licence and notes",
    "",
    f.notes ??
      "_Not stated. The weights are derived from the training data above: say where it comes from and under which licence before sharing this model (`ltgbert pretrain --card-notes <file>` puts a file's text here)._",
  );
  const text = lines.join("\n");
  return text.endsWith("\n") ? text : `${text}\n`;
}
