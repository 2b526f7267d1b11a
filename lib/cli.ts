#!/usr/bin/env node
// The `ltgbert` command line. Every command prints a one-line error naming
// what failed and exits non-zero on failure; `--json` prints one JSON
// document on stdout. Each command declares its options beside its
// handler (lib/cli/<command>.ts, `register`); the handlers import libtorch,
// the tokenizers library and Fastify only when they run, so `--help`
// answers at once.
import { Command, CommanderError } from "commander";
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CliExit, errorLine, processIo, type CliContext, type CliIo } from "./cli/common.js";
import * as evaluate from "./cli/evaluate.js";
import * as finetune from "./cli/finetune.js";
import * as info from "./cli/info.js";
import * as predict from "./cli/predict.js";
import * as pretrain from "./cli/pretrain.js";
import * as serve from "./cli/serve.js";
import * as transfer from "./cli/transfer.js";
import { LtgBertError } from "./errors.js";

export { resolveModelDir, DEFAULT_MODEL_DIR } from "./cli/model-dir.js";
export type { CliIo } from "./cli/common.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

/** The commands, in the order `ltgbert --help` lists them; each declares its own options. */
const COMMANDS: readonly { register(program: Command, context: CliContext): Command }[] = [
  info,
  transfer,
  finetune,
  pretrain,
  evaluate,
  predict,
  serve,
];

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

  const context: CliContext = { io, argv, version: pkg.version };
  for (const command of COMMANDS) command.register(program, context);

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
      // An empty message: what happened was printed already (a launcher's workers).
      if (error.message !== "") io.stderr.write(errorLine(error.message));
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
