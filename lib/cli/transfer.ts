// `ltgbert transfer`: a masked LM's embedding and encoder under a fresh
// classification head, saved as a classifier directory.
import type { Command } from "commander";
import { LtgBertError } from "../errors.js";
import type { LoadReport } from "../model.js";
import {
  choiceOption,
  type CliContext,
  type CliIo,
  jsonOption,
  MODEL_DIR_HELP,
  nonNegativeInteger,
  positiveInteger,
  printJson,
} from "./common.js";
import { resolveModelDir } from "./model-dir.js";
import { runtime } from "./runtime.js";

export interface TransferOptions {
  numLabels?: number;
  head: "linear" | "mlp";
  labels?: string;
  seed: number;
  format: "safetensors" | "pytorch";
  json?: boolean;
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

function printReport(io: CliIo, report: LoadReport): void {
  const line = (text: string): unknown => io.stdout.write(`${text}\n`);
  line(`  loaded      ${report.loaded.length} tensors: ${summarize(report.loaded) || "none"}`);
  line(`  new         ${report.missing.length} (initialised): ${report.missing.join(", ") || "none"}`);
  line(`  left behind ${report.unexpected.length}: ${report.unexpected.join(", ") || "none"}`);
  for (const m of report.mismatched) {
    line(`  mismatched  ${m.key}: expected [${m.expected.join(", ")}], got [${m.actual.join(", ")}]`);
  }
}

export async function transfer(mlmName: string, outDir: string, options: TransferOptions, io: CliIo): Promise<void> {
  const { LtgBertForSequenceClassification } = await runtime();
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
  const mlmDir = resolveModelDir(mlmName);
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
      printJson(io, {
        source: mlmDir,
        output: outDir,
        head: options.head,
        numLabels,
        seed: options.seed,
        files,
        report,
      });
      return;
    }
    io.stdout.write(`${mlmDir} -> ${outDir}: ${options.head} head, ${numLabels} labels, seed ${options.seed}\n`);
    printReport(io, report);
    io.stdout.write(`  wrote       ${files.join(", ")}\n`);
  } finally {
    cls.dispose();
  }
}

/** Declares `ltgbert transfer`: its arguments and options, and the action that runs transfer. */
export function register(program: Command, context: CliContext): Command {
  const command = program
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
  return jsonOption(command).action(async (mlmDir: string, outDir: string, options: TransferOptions) => {
    await transfer(mlmDir, outDir, options, context.io);
  });
}
