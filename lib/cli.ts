#!/usr/bin/env node
// The `ltgbert` command line. Every command prints a one-line error naming
// what failed and exits non-zero on failure; `--json` prints one JSON
// document on stdout. Commands load their code (and libtorch) only when
// run, so `--help` answers at once.
import { Command, CommanderError, Option } from "commander";
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  batchSizeOption,
  choiceOption,
  CliExit,
  columnOptions,
  deviceOption,
  errorLine,
  fraction,
  jsonOption,
  maxLengthOption,
  MODEL_DIR_HELP,
  nonNegativeInteger,
  nonNegativeNumber,
  portNumber,
  positiveFraction,
  positiveInteger,
  processIo,
  threadsOption,
  tokenizerOption,
  type CliIo,
} from "./cli/common.js";
import type { EvaluateOptions } from "./cli/evaluate.js";
import type { FinetuneOptions } from "./cli/finetune.js";
import type { InfoOptions } from "./cli/info.js";
import type { PredictOptions } from "./cli/predict.js";
import type { ServeOptions } from "./cli/serve.js";
import type { PretrainOptions } from "./cli/pretrain.js";
import { DEV_NAMES, splitNames, TRAIN_NAMES } from "./cli/splits.js";
import type { TransferOptions } from "./cli/transfer.js";
import { LtgBertError } from "./errors.js";

export { resolveModelDir, DEFAULT_MODEL_DIR } from "./cli/model-dir.js";
export type { CliIo } from "./cli/common.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

/** Exit code of a command line that commander refused (unknown option, missing argument). */
const USAGE_EXIT = 2;

/** Commander's own errors (unknown option, missing argument, bad value) in the CLI's one-line format. */
function usageErrorOutput(command: string | null): (text: string, write: (text: string) => void) => void {
  return (text, write) => {
    const message = text.replace(/^error: /, "");
    write(errorLine(command === null ? message : `${command}: ${message}`, "LTGBERT_INVALID_ARGUMENT"));
  };
}

/**
 * The `ltgbert` program. `argv` is the command line it is about to parse
 * (as `process.argv`): `pretrain` writes it into the model card.
 */
export function buildProgram(io: CliIo = processIo(), argv: readonly string[] = process.argv): Command {
  const program = new Command();
  // Set before the commands are added: subcommands copy these settings.
  program
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: usageErrorOutput(null),
    })
    .name("ltgbert")
    .description(
      "LTG-BERT on libtorch: pretrain, inspect, transfer, fine-tune, evaluate, run and serve models from the command line",
    )
    .version(pkg.version)
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      "\nA model directory is Hugging Face's layout (config.json, model.safetensors or\npytorch_model.bin, tokenizer.json); \"default\" names the model shipped with\nthe package. Run `ltgbert <command> --help` for a command's options.",
    );

  const infoCommand = program
    .command("info")
    .description("show a model directory: architecture, config, parameters, weights, tokenizer, training")
    .argument("<model-dir>", MODEL_DIR_HELP);
  jsonOption(infoCommand).action(async (dir: string, options: InfoOptions) => {
    const { info } = await import("./cli/info.js");
    await info(dir, options, io);
  });

  const transferCommand = program
    .command("transfer")
    .description(
      "turn a masked LM into a sequence classifier: copy its embedding and encoder, add a freshly initialised head, save",
    )
    .argument("<mlm-dir>", `masked LM: ${MODEL_DIR_HELP}`)
    .argument("<out-dir>", "where to write the classifier (created if needed)")
    .option("--num-labels <n>", "number of labels (default: the number of --labels)", positiveInteger)
    .addOption(choiceOption("--head <kind>", "classification head", ["linear", "mlp"], "linear"))
    .option("--labels <names>", "comma-separated label names, in id order (saved as id2label)")
    .option("--seed <n>", "seed of the new head's initialisation", nonNegativeInteger, 42)
    .addOption(choiceOption("--format <format>", "weights file format", ["safetensors", "pytorch"], "safetensors"));
  jsonOption(transferCommand).action(async (mlmDir: string, outDir: string, options: TransferOptions) => {
    const { transfer } = await import("./cli/transfer.js");
    await transfer(mlmDir, outDir, options, io);
  });

  const finetuneCommand = program
    .command("finetune")
    .description(
      "fine-tune a classifier (a masked LM gets a new head) on a train split, evaluate it on a dev split, save it for Python and Node",
    )
    .option("--model <dir>", `the model to start from: ${MODEL_DIR_HELP}`, "default")
    .option(
      "--data <path>",
      `a training file (.tsv, .csv or .jsonl), or a directory holding ${splitNames(TRAIN_NAMES)} and ${splitNames(DEV_NAMES)}`,
    )
    .option("--train <file>", "training file (instead of the --data directory's)")
    .option("--dev <file>", "dev file, evaluated during and after training (instead of the --data directory's)")
    .requiredOption("--out <dir>", "output directory: checkpoints, train_log.jsonl, and the final model")
    .option("--epochs <n>", "passes over the training data", positiveInteger, 3)
    .option("--max-steps <n>", "optimizer steps in all (overrides --epochs)", positiveInteger);
  batchSizeOption(finetuneCommand, 16, "examples")
    .addOption(new Option("--lr <x>", "peak learning rate (AdamW)").argParser(nonNegativeNumber).default(5e-5, "5e-5"))
    .option("--warmup-ratio <x>", "linear warm-up over this fraction of the steps, then linear decay to 0", fraction, 0)
    .option("--weight-decay <x>", "AdamW's weight decay (not on biases and LayerNorm weights)", nonNegativeNumber, 0);
  maxLengthOption(finetuneCommand)
    .option("--seed <n>", "seed of the data order, dropout and a new head", nonNegativeInteger, 42)
    .option("--eval-every <n>", "evaluate every n steps (default: at each epoch's end)", positiveInteger)
    .option("--save-every <n>", "write a checkpoint every n steps (default: at each epoch's end)", positiveInteger)
    .option("--save-total-limit <n>", "keep at most n checkpoints, never the best (default: all)", positiveInteger)
    .addOption(
      choiceOption(
        "--metric <name>",
        "dev metric that picks the best checkpoint (loss: lower is better)",
        ["accuracy", "macroF1", "mcc", "loss"],
        "accuracy",
      ),
    )
    .option("--load-best", "save the best checkpoint's weights as the final model, not the last step's");
  columnOptions(finetuneCommand, true)
    .option(
      "--num-labels <n>",
      "labels of a new head (default: the number of labels in the training data)",
      positiveInteger,
    )
    .addOption(choiceOption("--head <kind>", "head put on a masked LM (default: linear)", ["linear", "mlp"]))
    .option("--labels <names>", "comma-separated names of the label ids 0, 1, ... (saved as id2label)")
    .option(
      "--random-init",
      "start from random weights (seeded by --seed) in the model's architecture, with its tokenizer: the baseline a transfer is measured against",
    );
  tokenizerOption(finetuneCommand);
  threadsOption(finetuneCommand);
  deviceOption(finetuneCommand).option(
    "--resume",
    "continue the run in --out from its newest checkpoint (give the same options as the run that wrote it)",
  );
  jsonOption(finetuneCommand).action(async (options: FinetuneOptions) => {
    const { finetune } = await import("./cli/finetune.js");
    await finetune(options, io);
  });

  const pretrainCommand = program
    .command("pretrain")
    .description(
      "pretrain a masked LM from random weights on text files: tokenizer (trained on the corpus unless given), model, checkpoints, model card",
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
    .option("--max-steps <n>", "optimizer steps in all, however many epochs that takes", positiveInteger)
    .addOption(new Option("--lr <x>", "peak learning rate (AdamW)").argParser(nonNegativeNumber).default(1e-3, "1e-3"))
    .option(
      "--warmup-ratio <x>",
      "linear warm-up over this fraction of the steps, then linear decay to 0",
      fraction,
      0.06,
    )
    .option("--weight-decay <x>", "AdamW's weight decay (not on biases and LayerNorm weights)", nonNegativeNumber, 0.01)
    .option("--max-grad-norm <x>", "clip gradients to this global norm (0: no clipping)", nonNegativeNumber, 1)
    .option("--mask-probability <x>", "share of the tokens masked (LTG-BERT's span masking)", positiveFraction, 0.15)
    .option(
      "--eval-every <n>",
      "evaluate every n steps (default: at each epoch's end, and at the last step)",
      positiveInteger,
    )
    .option("--save-every <n>", "write a checkpoint every n steps (default: at each epoch's end)", positiveInteger)
    .option("--save-total-limit <n>", "keep at most n checkpoints (default: all)", positiveInteger)
    .option("--seed <n>", "seed of the initialisation, data order, masking and dropout", nonNegativeInteger, 42)
    .option("--card-notes <file>", "text appended verbatim to the model card: the data's source and licence");
  threadsOption(pretrainCommand);
  deviceOption(pretrainCommand).option(
    "--resume",
    "continue the run in --out from its newest checkpoint (give the same options as the run that wrote it)",
  );
  jsonOption(pretrainCommand).action(async (options: PretrainOptions) => {
    const { pretrain } = await import("./cli/pretrain.js");
    await pretrain(options, { args: argv.slice(2), version: pkg.version }, io);
  });

  const evaluateCommand = program
    .command("evaluate")
    .description("evaluate a classifier on labelled data: loss, accuracy, macro-F1, MCC")
    .argument("<model-dir>", MODEL_DIR_HELP)
    .requiredOption(
      "--data <path>",
      `labelled data file (.tsv, .csv or .jsonl), or a directory holding ${splitNames(DEV_NAMES)}`,
    );
  batchSizeOption(evaluateCommand, 32, "examples");
  maxLengthOption(evaluateCommand);
  columnOptions(evaluateCommand, true);
  tokenizerOption(evaluateCommand);
  threadsOption(evaluateCommand);
  deviceOption(evaluateCommand);
  jsonOption(evaluateCommand).action(async (dir: string, options: EvaluateOptions) => {
    const { evaluate } = await import("./cli/evaluate.js");
    await evaluate(dir, options, io);
  });

  const predictCommand = program
    .command("predict")
    .description("classify texts: a label and its probability per text")
    .argument("<model-dir>", MODEL_DIR_HELP)
    .argument("[texts...]", "texts to classify (default: --file, else stdin, one text per line)")
    .option(
      "--file <file>",
      "texts to classify: one per line, or the text column(s) of a .csv, .tsv or .jsonl data file",
    )
    .option("--top-k <n>", "show the k most probable labels", positiveInteger, 1);
  batchSizeOption(predictCommand, 32, "texts");
  columnOptions(predictCommand, false);
  tokenizerOption(predictCommand);
  threadsOption(predictCommand);
  deviceOption(predictCommand);
  jsonOption(predictCommand).action(async (dir: string, texts: string[], options: PredictOptions) => {
    const { predict } = await import("./cli/predict.js");
    await predict(dir, texts, options, io);
  });

  const serveCommand = program
    .command("serve")
    .description(
      "serve a classifier over HTTP: POST /v1/classify, GET /healthz, /readyz, /metrics; texts of concurrent requests share forward passes",
    )
    .argument("<model-dir>", MODEL_DIR_HELP)
    .option("--host <host>", "address to listen on (0.0.0.0: every interface)", "127.0.0.1")
    .option("--port <n>", "port to listen on (0: any free one)", portNumber, 8080)
    .option("--max-batch-size <n>", "texts per forward pass at most, pooled across requests", positiveInteger, 32)
    .option(
      "--max-wait-ms <ms>",
      "how long the first waiting text waits for others before a partial batch runs",
      nonNegativeNumber,
      5,
    )
    .option(
      "--max-queue <n>",
      "texts waiting at most; a request that does not fit gets 503 with Retry-After",
      positiveInteger,
      1024,
    )
    .option(
      "--timeout-ms <ms>",
      "per-request limit from arrival to results, else 503 with Retry-After (0: none)",
      nonNegativeInteger,
      30_000,
    )
    .option("--max-texts <n>", "texts per request at most, else 400", positiveInteger, 64)
    .option("--body-limit <bytes>", "request body size limit, else 413", positiveInteger, 1024 * 1024)
    .option(
      "--api-key <key>",
      "require Authorization: Bearer <key> on /v1/* and /metrics (default: $LTGBERT_API_KEY, else no auth; the variable keeps the key out of the process list)",
    )
    .option(
      "--no-truncation",
      "answer 400 for a text longer than the model's max_position_embeddings instead of cutting it",
    )
    .option("--log", "log each request (Fastify's JSON lines, on stdout)");
  tokenizerOption(serveCommand);
  threadsOption(serveCommand);
  deviceOption(serveCommand).action(async (dir: string, options: ServeOptions) => {
    const { serve } = await import("./cli/serve.js");
    await serve(dir, options, io);
  });

  // A command's own usage errors name it: "ltgbert: finetune: required option '--out <dir>' not specified".
  for (const command of program.commands) command.configureOutput({ outputError: usageErrorOutput(command.name()) });
  return program;
}

/**
 * Runs the command line `argv` (as `process.argv`: node, script, then the
 * arguments) and resolves to the exit code: 0, 1 for a failure, 2 for a
 * command line commander refused, 130 (143) when SIGINT (SIGTERM) stopped
 * a training run. Errors are printed, one line each, never thrown.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io, argv);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
      // Help shown because no command was given exits 1 in commander; it is a usage error here.
      if (error.code === "commander.help") return error.exitCode === 0 ? 0 : USAGE_EXIT;
      return USAGE_EXIT; // commander printed it, through outputError
    }
    if (error instanceof CliExit) {
      io.stderr.write(errorLine(error.message));
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    const code =
      error instanceof LtgBertError
        ? error.code
        : typeof (error as { code?: unknown })?.code === "string"
          ? (error as { code: string }).code
          : undefined;
    io.stderr.write(errorLine(message, code));
    return 1;
  }
}

// Run when executed (directly or through the npm bin link), not when imported.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // A reader that goes away (`ltgbert predict … | head`) ends the run quietly.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(0);
  });
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
