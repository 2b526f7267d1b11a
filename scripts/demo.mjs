#!/usr/bin/env node
// `npm run demo`: the package's main job on what it ships. Fine-tunes the
// default model (models/default) on the SST-2 slice in data/sst2, which
// prints the dev accuracy and saves the classifier, then classifies a few
// sentences with it. Each step is an `ltgbert` command, printed before it
// runs; the output goes to demo-output/ (replaced on each run).
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join("demo-output", "sst2");

/** The fine-tuning recipe of the transfer figures in models/default/README.md. */
const FINETUNE_OPTIONS = ["--epochs", "3", "--batch-size", "32", "--lr", "2e-4", "--warmup-ratio", "0.1"];

// SST-2's own style: lower-cased, punctuation split off.
const SENTENCES = [
  "a gripping , beautifully acted film that stays with you .",
  "the plot is thin and the jokes fall flat .",
  "it 's not a masterpiece , but it is warm and often very funny .",
  "two hours of my life i will never get back .",
];

function ltgbert(args) {
  process.stdout.write(`\n$ ltgbert ${args.map((a) => (/[\s']/.test(a) ? JSON.stringify(a) : a)).join(" ")}\n`);
  const child = spawnSync(process.execPath, [path.join(root, "dist", "cli.js"), ...args], {
    cwd: root,
    stdio: "inherit",
  });
  if (child.status !== 0) process.exit(child.status ?? 1);
}

rmSync(path.join(root, "demo-output"), { recursive: true, force: true });
ltgbert(["info", "default"]);
ltgbert([
  "finetune",
  "--model",
  "default",
  "--data",
  path.join("data", "sst2"),
  "--out",
  out,
  "--labels",
  "negative,positive",
  ...FINETUNE_OPTIONS,
]);
ltgbert(["predict", out, ...SENTENCES]);
