#!/usr/bin/env node
// Is the transfer worth it? Fine-tunes a masked LM's encoder under a new
// head, and the same architecture from random weights (`finetune
// --random-init`), with the same data, hyper-parameters and seeds, and
// prints the dev accuracy of each run and of each arm on average (and the
// accuracy on a --test file, evaluated after each run, when one is given).
//
//   node scripts/transfer-experiment.mjs [--model default] [--data data/sst2] [--seeds 1,2,3]
//                                        [--test <file>] [--out <dir>] [-- <more finetune options>]
//
// With --train among the finetune options, --data is not passed. Every run
// is `ltgbert finetune ... --json` (then `ltgbert evaluate ... --json` for
// --test); the command lines are printed and saved with the results in
// <out>/results.json. Taggers work the same way (.conllu data).
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist", "cli.js");

const { values, positionals } = parseArgs({
  options: {
    model: { type: "string", default: "default" },
    data: { type: "string", default: path.join("data", "sst2") },
    seeds: { type: "string", default: "1,2,3" },
    test: { type: "string" },
    out: { type: "string", default: path.join(os.tmpdir(), "ltgbert-transfer-experiment") },
    help: { type: "boolean", short: "h" },
  },
  allowPositionals: true,
});
if (values.help) {
  process.stdout.write(
    "usage: node scripts/transfer-experiment.mjs [--model default] [--data data/sst2] [--seeds 1,2,3] [--test file] [--out dir] [-- finetune options]\n",
  );
  process.exit(0);
}
const seeds = values.seeds.split(",").map((s) => {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--seeds: expected non-negative integers, got ${s}`);
  return n;
});
const extra = positionals;
mkdirSync(values.out, { recursive: true });

const arms = [
  { name: "pretrained", flags: [] },
  { name: "random init", flags: ["--random-init"] },
];
const runs = [];
for (const seed of seeds) {
  for (const arm of arms) {
    const out = path.join(values.out, `${arm.name.replace(" ", "-")}-seed${seed}`);
    const data = extra.includes("--train") ? [] : ["--data", values.data];
    const args = ["finetune", "--model", values.model, ...data, "--out", out, "--seed", String(seed)];
    args.push(...arm.flags, ...extra, "--json");
    process.stderr.write(`$ ltgbert ${args.join(" ")}\n`);
    const started = Date.now();
    const child = spawnSync(process.execPath, [cli, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (child.status !== 0) {
      process.stderr.write(`ltgbert finetune exited with ${child.status}\n`);
      process.exit(1);
    }
    const result = JSON.parse(child.stdout);
    const seconds = (Date.now() - started) / 1000;
    let test = null;
    if (values.test !== undefined) {
      const evalArgs = ["evaluate", out, "--data", values.test, "--json"];
      process.stderr.write(`$ ltgbert ${evalArgs.join(" ")}\n`);
      const evaluated = spawnSync(process.execPath, [cli, ...evalArgs], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      });
      if (evaluated.status !== 0) {
        process.stderr.write(`ltgbert evaluate exited with ${evaluated.status}\n`);
        process.exit(1);
      }
      test = JSON.parse(evaluated.stdout).metrics.accuracy;
    }
    runs.push({
      arm: arm.name,
      seed,
      accuracy: result.metrics.accuracy,
      ...(result.metrics.macroF1 === undefined ? {} : { macroF1: result.metrics.macroF1 }),
      ...(test === null ? {} : { testAccuracy: test }),
      seconds,
      args,
    });
    const testText = test === null ? "" : `, test accuracy ${test.toFixed(4)}`;
    process.stderr.write(`  dev accuracy ${result.metrics.accuracy.toFixed(4)}${testText} (${seconds.toFixed(0)} s)\n`);
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const of = (arm, key) => runs.filter((r) => r.arm === arm).map((r) => r[key]);
const pct = (x) => (100 * x).toFixed(1);
const table = (key) => [
  `| seed | ${arms.map((a) => a.name).join(" | ")} |`,
  `| ---: | ${arms.map(() => "---:").join(" | ")} |`,
  ...seeds.map(
    (seed) =>
      `| ${seed} | ${arms.map((a) => pct(runs.find((r) => r.arm === a.name && r.seed === seed)[key])).join(" | ")} |`,
  ),
  `| mean | ${arms.map((a) => pct(mean(of(a.name, key)))).join(" | ")} |`,
];
const dataName = extra.includes("--train") ? extra[extra.indexOf("--train") + 1] : values.data;
const gain = 100 * (mean(of("pretrained", "accuracy")) - mean(of("random init", "accuracy")));
process.stdout.write(
  `dev accuracy (%) after fine-tuning ${values.model} on ${dataName}:\n\n${table("accuracy").join("\n")}\n\n`,
);
process.stdout.write(`transfer gain: ${gain.toFixed(1)} points of dev accuracy, mean over ${seeds.length} seeds\n`);
let testGain = null;
if (values.test !== undefined) {
  testGain = 100 * (mean(of("pretrained", "testAccuracy")) - mean(of("random init", "testAccuracy")));
  process.stdout.write(`\naccuracy (%) on ${values.test}:\n\n${table("testAccuracy").join("\n")}\n\n`);
  process.stdout.write(`transfer gain: ${testGain.toFixed(1)} points of test accuracy\n`);
}
writeFileSync(
  path.join(values.out, "results.json"),
  `${JSON.stringify({ model: values.model, data: dataName, test: values.test ?? null, seeds, extra, runs, gainPoints: gain, testGainPoints: testGain }, null, 2)}\n`,
);
