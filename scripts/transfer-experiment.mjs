#!/usr/bin/env node
// Is the transfer worth it? Fine-tunes a masked LM's encoder under a new
// head, and the same architecture from random weights (`finetune
// --random-init`), with the same data, hyper-parameters and seeds, and
// prints the dev score of each run and of each arm on average (and the
// score on a --test file, evaluated after each run, when one is given).
// The score is the task's headline metric: accuracy (classification,
// tagging, multiple choice), SQuAD's F1 (question answering) or Pearson's r
// (regression), in percent.
//
//   node scripts/transfer-experiment.mjs [--model default] [--data data/sst2] [--seeds 1,2,3]
//                                        [--test <file>] [--out <dir>] [--arms pretrained,random-init]
//                                        [-- <more finetune options>]
//
// With --train among the finetune options, --data is not passed. Every run
// is `ltgbert finetune ... --json` (then `ltgbert evaluate ... --json` for
// --test); the command lines are printed and saved with the results in
// <out>/results.json. Every task of `finetune --task` works the same way.
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
    arms: { type: "string", default: "pretrained,random-init" },
    out: { type: "string", default: path.join(os.tmpdir(), "ltgbert-transfer-experiment") },
    help: { type: "boolean", short: "h" },
  },
  allowPositionals: true,
});
if (values.help) {
  process.stdout.write(
    "usage: node scripts/transfer-experiment.mjs [--model default] [--data data/sst2] [--seeds 1,2,3] [--test file] [--out dir] [--arms pretrained,random-init] [-- finetune options]\n",
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

/** The headline metric of a run's metrics, and its factor to percent. */
function headline(metrics) {
  if (metrics.accuracy !== undefined) return { key: "accuracy", value: 100 * metrics.accuracy };
  if (metrics.pearson !== undefined) return { key: "pearson", value: 100 * metrics.pearson };
  return { key: "f1", value: metrics.f1 };
}

const ARMS = [
  { name: "pretrained", flags: [] },
  { name: "random init", flags: ["--random-init"] },
];
// --arms runs one arm alone (the other's runs repeat exactly when nothing of theirs changed).
const armNames = values.arms.split(",");
for (const name of armNames) {
  if (!ARMS.some((a) => a.name.replace(" ", "-") === name))
    throw new Error(`--arms: expected pretrained and/or random-init, got ${name}`);
}
const arms = ARMS.filter((a) => armNames.includes(a.name.replace(" ", "-")));
const runs = [];
let metric = "accuracy";
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
      test = JSON.parse(evaluated.stdout).metrics;
    }
    const dev = headline(result.metrics);
    metric = dev.key;
    runs.push({
      arm: arm.name,
      seed,
      score: dev.value,
      metrics: result.metrics,
      ...(test === null ? {} : { testScore: headline(test).value, testMetrics: test }),
      seconds,
      args,
    });
    const testText = test === null ? "" : `, test ${metric} ${headline(test).value.toFixed(2)}`;
    process.stderr.write(`  dev ${metric} ${dev.value.toFixed(2)}${testText} (${seconds.toFixed(0)} s)\n`);
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const of = (arm, key) => runs.filter((r) => r.arm === arm).map((r) => r[key]);
const pct = (x) => x.toFixed(1);
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
const gain = arms.length === 2 ? mean(of("pretrained", "score")) - mean(of("random init", "score")) : null;
process.stdout.write(
  `dev ${metric} (%) after fine-tuning ${values.model} on ${dataName}:\n\n${table("score").join("\n")}\n\n`,
);
if (gain !== null)
  process.stdout.write(`transfer gain: ${gain.toFixed(1)} points of dev ${metric}, mean over ${seeds.length} seeds\n`);
let testGain = null;
if (values.test !== undefined) {
  process.stdout.write(`\n${metric} (%) on ${values.test}:\n\n${table("testScore").join("\n")}\n\n`);
  if (arms.length === 2) {
    testGain = mean(of("pretrained", "testScore")) - mean(of("random init", "testScore"));
    process.stdout.write(`transfer gain: ${testGain.toFixed(1)} points of test ${metric}\n`);
  }
}
writeFileSync(
  path.join(values.out, "results.json"),
  `${JSON.stringify({ model: values.model, data: dataName, test: values.test ?? null, seeds, extra, metric, runs, gainPoints: gain, testGainPoints: testGain }, null, 2)}\n`,
);
