#!/usr/bin/env node
// The `ltgbert` command line. Every command prints a one-line error naming
// what failed and exits non-zero on failure; `--json` prints one JSON object.
import { Command, InvalidArgumentError } from "commander";
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { LtgBertError } from "./errors.js";
import { LtgBertForSequenceClassification, type LoadReport } from "./model.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
}

function nonNegativeInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
}

function oneOf<T extends string>(name: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`${name} must be one of ${choices.join(", ")}, got "${value}"`);
    }
    return value as T;
  };
}

/** Groups state-dict keys by their first component for a short summary. */
function summarize(keys: string[]): string {
  const groups = new Map<string, number>();
  for (const key of keys) {
    const head = key.split(".")[0];
    groups.set(head, (groups.get(head) ?? 0) + 1);
  }
  return [...groups].map(([head, n]) => `${head} (${n})`).join(", ");
}

function printReport(report: LoadReport): void {
  console.log(`  loaded      ${report.loaded.length} tensors: ${summarize(report.loaded) || "none"}`);
  console.log(`  new         ${report.missing.length} (initialised): ${report.missing.join(", ") || "none"}`);
  console.log(`  left behind ${report.unexpected.length}: ${report.unexpected.join(", ") || "none"}`);
  if (report.mismatched.length > 0) {
    for (const m of report.mismatched) {
      console.log(`  mismatched  ${m.key}: expected [${m.expected.join(", ")}], got [${m.actual.join(", ")}]`);
    }
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("ltgbert")
    .description("LTG-BERT on libtorch: load Python checkpoints, transfer, fine-tune, save, serve")
    .version(pkg.version);

  program
    .command("transfer")
    .description(
      "turn a masked-LM checkpoint into a sequence classifier: copy its embedding and encoder, add a freshly initialised head, save",
    )
    .argument("<mlm-dir>", "model directory of a masked LM (config.json and weights)")
    .argument("<out-dir>", "where to write the classifier (created if needed)")
    .option("--num-labels <n>", "number of labels (default: the number of --labels)", positiveInteger("--num-labels"))
    .option(
      "--head <kind>",
      "classification head: linear or mlp",
      oneOf("--head", ["linear", "mlp"] as const),
      "linear",
    )
    .option("--labels <names>", "comma-separated label names, in id order (saved as id2label)")
    .option("--seed <n>", "seed of the new head's initialisation", nonNegativeInteger("--seed"), 42)
    .option(
      "--format <format>",
      "weights file: safetensors or pytorch",
      oneOf("--format", ["safetensors", "pytorch"] as const),
      "safetensors",
    )
    .option("--json", "print the result as JSON")
    .action(async (mlmDir: string, outDir: string, options: TransferOptions) => {
      await transfer(mlmDir, outDir, options);
    });
  return program;
}

interface TransferOptions {
  numLabels?: number;
  head: "linear" | "mlp";
  labels?: string;
  seed: number;
  format: "safetensors" | "pytorch";
  json?: boolean;
}

async function transfer(mlmDir: string, outDir: string, options: TransferOptions): Promise<void> {
  const labels = options.labels?.split(",").map((l) => l.trim());
  if (labels && labels.some((l) => l.length === 0)) {
    throw new LtgBertError(
      "LTGBERT_INVALID_ARGUMENT",
      `--labels: expected comma-separated names, got "${options.labels}"`,
    );
  }
  const numLabels = options.numLabels ?? labels?.length;
  if (numLabels === undefined) {
    throw new LtgBertError("LTGBERT_INVALID_ARGUMENT", "--num-labels: required unless --labels names the labels");
  }
  if (labels && labels.length !== numLabels) {
    throw new LtgBertError(
      "LTGBERT_INVALID_ARGUMENT",
      `--labels: expected ${numLabels} names for --num-labels ${numLabels}, got ${labels.length}`,
    );
  }
  const labelConfig = labels
    ? {
        id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
        label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
      }
    : {};
  const cls = await LtgBertForSequenceClassification.fromPretrained(mlmDir, {
    numLabels,
    seed: options.seed,
    config: { classifier_head: options.head, ...labelConfig },
  });
  try {
    const files = await cls.savePretrained(outDir, { format: options.format });
    const report = cls.loadReport!;
    if (options.json) {
      console.log(
        JSON.stringify({
          source: mlmDir,
          output: outDir,
          head: options.head,
          numLabels,
          seed: options.seed,
          files,
          report,
        }),
      );
      return;
    }
    console.log(`${mlmDir} -> ${outDir}: ${options.head} head, ${numLabels} labels, seed ${options.seed}`);
    printReport(report);
    console.log(`  wrote       ${files.join(", ")}`);
  } finally {
    cls.dispose();
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    const commanderCode = (error as { code?: string }).code;
    if (
      commanderCode === "commander.helpDisplayed" ||
      commanderCode === "commander.version" ||
      commanderCode === "commander.help"
    ) {
      return 0;
    }
    if (typeof commanderCode === "string" && commanderCode.startsWith("commander.")) return 2; // already printed
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    const code = error instanceof LtgBertError ? ` [${error.code}]` : "";
    process.stderr.write(`ltgbert: ${message}${code}\n`);
    return 1;
  }
}

// Run when executed (directly or through the npm bin link), not when imported.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
