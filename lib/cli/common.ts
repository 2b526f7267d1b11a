// What every command shares: where output goes, option parsers, the options
// that several commands take, and the one-line error format. Nothing here
// loads the native addon, so `ltgbert --help` works without libtorch.
import { InvalidArgumentError, Option, type Command } from "commander";
import type { LtgBertConfig } from "../config.js";
import { LtgBertError } from "../errors.js";
import { isInteger, isNumber, PORT_EXPECTED } from "../validate.js";

/** A stream the CLI writes to. */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Where a run of the CLI reads and writes: the process's streams, or a test's. */
export interface CliIo {
  stdout: Output;
  stderr: Output;
  /** Read by `predict` when it is given no texts and no file. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
}

/** What a command's action needs besides its own arguments and options. */
export interface CliContext {
  io: CliIo;
  /** The command line being parsed (as `process.argv`): `pretrain` writes it into the model card. */
  argv: readonly string[];
  /** The package's version. */
  version: string;
}

/**
 * Ends a command with an exit code and a one-line message, without being a
 * failure of the library: an interrupted fine-tuning run (130).
 */
export class CliExit extends Error {
  readonly exitCode: number;

  constructor(exitCode: number, message: string) {
    super(message);
    this.name = "CliExit";
    this.exitCode = exitCode;
  }
}

/** The one line every failure prints: `ltgbert: <message> [<code>]`. */
export function errorLine(message: string, code?: string): string {
  const flat = message.replace(/\s*\n\s*/g, " ").trim();
  return `ltgbert: ${flat}${code ? ` [${code}]` : ""}\n`;
}

/** Prints `value` as the one JSON document of a `--json` run. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * How `predict` gives a task model's predictions: `records` as JSON lines in
 * `--output` (in input order), the `--json` document `{ model, task, output?,
 * predictions }`, or else (without `--output`) a line per record on stdout.
 */
export async function emitPredictions<R>(
  io: CliIo,
  options: { output?: string; json?: boolean },
  p: { model: string; task: string; what: string; records: R[]; predictions: unknown[]; line: (record: R) => string },
): Promise<void> {
  if (options.output !== undefined) {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(options.output, p.records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    if (!options.json) io.stderr.write(`wrote ${p.records.length} ${p.what} to ${options.output}\n`);
  }
  if (options.json) {
    printJson(io, {
      model: p.model,
      task: p.task,
      ...(options.output === undefined ? {} : { output: options.output }),
      predictions: p.predictions,
    });
  } else if (options.output === undefined) {
    for (const r of p.records) io.stdout.write(`${p.line(r)}\n`);
  }
}

// ---------------------------------------------------------------------------
// Option values. Commander prefixes these messages with the option and value.

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !isInteger(n, 1)) throw new InvalidArgumentError("Expected a positive integer.");
  return n;
}

export function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !isInteger(n, 0)) throw new InvalidArgumentError("Expected a non-negative integer.");
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !isNumber(n, { min: 0 }))
    throw new InvalidArgumentError("Expected a non-negative number.");
  return n;
}

export function portNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !isInteger(n, 0, 65535)) throw new InvalidArgumentError(`Expected ${PORT_EXPECTED}.`);
  return n;
}

export function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !isNumber(n, { min: 0, max: 1 }))
    throw new InvalidArgumentError("Expected a number from 0 to 1.");
  return n;
}

export function positiveFraction(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !isNumber(n, { min: 0, minOpen: true, max: 1 }))
    throw new InvalidArgumentError("Expected a number greater than 0 and at most 1.");
  return n;
}

// ---------------------------------------------------------------------------
// Options that several commands take, worded once.

export const MODEL_DIR_HELP =
  'model directory (config.json, weights, tokenizer.json), or "default" for the shipped model';

export function jsonOption(command: Command): Command {
  return command.option("--json", "print one JSON document on stdout (progress and messages go to stderr)");
}

export function threadsOption(command: Command): Command {
  return command.option(
    "--threads <n>",
    "libtorch threads inside one operation, 1 to 256 (default: every core)",
    positiveInteger,
  );
}

export function deviceOption(command: Command): Command {
  return command.option("--device <device>", 'where the model runs: "cpu", "cuda" or "cuda:N"', "cpu");
}

export function tokenizerOption(command: Command): Command {
  return command.option(
    "--tokenizer <dir>",
    "directory with the tokenizer.json to use (default: the model directory's)",
  );
}

export function columnOptions(command: Command, labels: boolean): Command {
  command
    .option("--text-column <name>", 'text column or JSON key (default: "sentence", else "text")')
    .option(
      "--text-pair-column <name>",
      'second text of pair tasks (default with no --text-column: "sentence1"/"sentence2" or "premise"/"hypothesis" when present)',
    );
  if (labels) command.option("--label-column <name>", 'label column or JSON key (default: "label", else "labels")');
  return command;
}

export function batchSizeOption(command: Command, fallback: number, what: string): Command {
  return command.option("--batch-size <n>", `${what} per batch`, positiveInteger, fallback);
}

export function maxLengthOption(command: Command): Command {
  return command.option(
    "--max-length <n>",
    "tokens per example, longer ones cut (default: the model's max_position_embeddings)",
    positiveInteger,
  );
}

/** --lr, --warmup-ratio and --weight-decay: AdamW's peak learning rate (`lrText` shows its default), warm-up and weight decay. */
export function optimizerOptions(
  command: Command,
  defaults: { lr: number; lrText: string; warmupRatio: number; weightDecay: number },
): Command {
  return command
    .addOption(
      new Option("--lr <x>", "peak learning rate (AdamW)")
        .argParser(nonNegativeNumber)
        .default(defaults.lr, defaults.lrText),
    )
    .option(
      "--warmup-ratio <x>",
      "linear warm-up over this fraction of the steps, then linear decay to 0",
      fraction,
      defaults.warmupRatio,
    )
    .option(
      "--weight-decay <x>",
      "AdamW's weight decay (not on biases and LayerNorm weights)",
      nonNegativeNumber,
      defaults.weightDecay,
    );
}

/** --resume: a training command continues the run in --out. */
export function resumeOption(command: Command): Command {
  return command.option(
    "--resume",
    "continue the run in --out from its newest checkpoint (give the same options as the run that wrote it)",
  );
}

/** An option with a fixed set of values; without `fallback`, absent stays undefined. */
export function choiceOption(
  flags: string,
  description: string,
  choices: readonly string[],
  fallback?: string,
): Option {
  const option = new Option(flags, description).choices(choices);
  return fallback === undefined ? option : option.default(fallback);
}

export interface ColumnOptions {
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
}

/** The column options as readDataset's options (only those given). */
export function readOptionsOf(options: ColumnOptions): ColumnOptions {
  const out: ColumnOptions = {};
  if (options.textColumn !== undefined) out.textColumn = options.textColumn;
  if (options.textPairColumn !== undefined) out.textPairColumn = options.textPairColumn;
  if (options.labelColumn !== undefined) out.labelColumn = options.labelColumn;
  return out;
}

export function usageError(message: string): LtgBertError {
  return new LtgBertError("LTGBERT_INVALID_ARGUMENT", message);
}

/** `0.912345` → "0.9123": metrics as the CLI prints them. */
export function fixed(value: number, digits = 4): string {
  return Number.isFinite(value) ? value.toFixed(digits) : String(value);
}

/** Bytes as B, KiB, MiB or GiB. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A config's sizes, as the commands' --json output reports them. */
export interface ConfigSizes {
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  attentionHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  positionBucketSize: number;
}

export function configSizes(c: LtgBertConfig): ConfigSizes {
  return {
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    layers: c.num_hidden_layers,
    attentionHeads: c.num_attention_heads,
    intermediateSize: c.intermediate_size,
    maxPositionEmbeddings: c.max_position_embeddings,
    positionBucketSize: c.position_bucket_size,
  };
}
