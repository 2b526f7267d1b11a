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
  positiveInteger,
  processIo,
  threadsOption,
  tokenizerOption,
  type CliIo,
} from "./cli/common.js";
import type { InfoOptions } from "./cli/info.js";
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

export function buildProgram(io: CliIo = processIo()): Command {
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
    .description("LTG-BERT on libtorch: inspect, transfer, fine-tune, evaluate and run models from the command line")
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

  // A command's own usage errors name it: "ltgbert: finetune: required option '--out <dir>' not specified".
  for (const command of program.commands) command.configureOutput({ outputError: usageErrorOutput(command.name()) });
  return program;
}

/**
 * Runs the command line `argv` (as `process.argv`: node, script, then the
 * arguments) and resolves to the exit code: 0, 1 for a failure, 2 for a
 * command line commander refused, 130 (143) when SIGINT (SIGTERM) stopped
 * a fine-tuning run. Errors are printed, one line each, never thrown.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
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
