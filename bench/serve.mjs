#!/usr/bin/env node
// Serving benchmark: `ltgbert serve` under load from autocannon on loopback,
// with dynamic batching (batches of up to 32 texts, 5 ms wait) against one
// text per forward pass, and against a Python server from the standard
// library that runs the PyTorch reference model once per request
// (bench/pytorch/serve_baseline.py). Every request is one SST-2 dev
// sentence; each configuration gets a warm-up, then a timed run of
// --duration seconds. See bench/README.md.
//
//   node bench/serve.mjs [--duration 10] [--connections 64] [--threads 1]
//                        [--model DIR] [--skip-python] [--json] [--max-minutes 5]
//
// Without --model it serves a small SST-2 classifier that it fine-tunes
// first (test/finetune.test.ts's recipe, about 10 s), kept in the system's
// temporary directory for the next run.

import autocannon from "autocannon";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import {
  describeError,
  loadPackage,
  parseOptions,
  positiveInteger,
  PYTHON,
  ROOT,
  runMain,
  startWatchdog,
} from "./common.mjs";

const FIXTURES = join(ROOT, "test", "fixtures");
const CLI = join(ROOT, "dist", "cli.js");
const BASELINE = join(ROOT, "bench", "pytorch", "serve_baseline.py");
const MODEL_CACHE = join(os.tmpdir(), "ltgbert-bench-serve-sst2-tiny");

// The model fine-tuned when --model is not given: test/finetune.test.ts's.
const TINY_CONFIG = {
  vocab_size: 16384,
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 128,
  max_position_embeddings: 128,
};

const CONFIGS = [
  { name: "dynamic batching", key: "dynamic", maxBatchSize: 32, maxWaitMs: 5 },
  { name: "batch size 1", key: "batch1", maxBatchSize: 1, maxWaitMs: 0 },
];

const WARMUP_SECONDS = 2;

const text = (value) => String(value);
const opts = parseOptions(
  {
    program: "serve.mjs",
    options: {
      duration: { arg: "S", default: 10, parse: positiveInteger },
      connections: { arg: "N", default: 64, parse: positiveInteger },
      threads: { arg: "N", default: 1, parse: positiveInteger },
      model: { arg: "DIR", default: null, parse: text },
      "skip-python": {},
      json: {},
      "max-minutes": { arg: "M", default: 5, parse: positiveInteger },
    },
  },
  process.argv.slice(2),
);
const log = (...a) => {
  if (!opts.json) console.error(...a);
};

/** SST-2 dev sentences, one per request body. */
function sentences() {
  return readFileSync(join(FIXTURES, "sst2", "dev.tsv"), "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.split("\t")[0].trim())
    .filter(Boolean);
}

/** The model to serve: --model, or the tiny SST-2 classifier, fine-tuned once and cached. */
async function modelDir(api) {
  if (opts.model) return { dir: opts.model, made: null };
  const info = join(MODEL_CACHE, "bench-model.json");
  if (existsSync(info)) return { dir: MODEL_CACHE, made: JSON.parse(readFileSync(info, "utf8")) };
  log(`fine-tuning the benchmark's SST-2 model into ${MODEL_CACHE} (once)`);
  const tokenizer = await api.Tokenizer.fromPretrained(join(FIXTURES, "tokenizers", "ltg-bert-babylm"));
  const model = await api.LtgBertForSequenceClassification.fromConfig(TINY_CONFIG, { numLabels: 2, seed: 42 });
  const work = mkdtempSync(join(os.tmpdir(), "ltgbert-bench-serve-run-"));
  try {
    const trainer = new api.Trainer(model, {
      trainData: join(FIXTURES, "sst2", "train-2000.tsv"),
      evalData: join(FIXTURES, "sst2", "dev.tsv"),
      tokenizer,
      outputDir: work,
      epochs: 3,
      batchSize: 32,
      learningRate: 2e-3,
      warmupRatio: 0.1,
      weightDecay: 0.01,
      saveTotalLimit: 1,
      seed: 42,
    });
    const result = await trainer.train();
    model.setLabelNames(["negative", "positive"]);
    await model.savePretrained(MODEL_CACHE);
    const made = {
      config: TINY_CONFIG,
      parameters: model.numParameters(),
      train: "test/fixtures/sst2/train-2000.tsv, 3 epochs",
      devAccuracy: result.metrics.accuracy,
    };
    writeFileSync(info, `${JSON.stringify(made, null, 2)}\n`);
    return { dir: MODEL_CACHE, made };
  } finally {
    model.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Starts a server process and resolves once it printed `readyLine`; gives { url, child, stop() }. */
function startServer(command, args, readyLine, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    const exited = new Promise((r) => child.on("close", (code) => r(code)));
    child.stdout.on("data", (d) => {
      stdout += d;
      const url = /listening on (\S+)/.exec(stdout)?.[1];
      if (url && stdout.includes(readyLine)) {
        resolve({
          url,
          stderr: () => stderr,
          stop: async () => {
            child.kill("SIGTERM");
            return exited;
          },
        });
      }
    });
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    exited.then((code) =>
      reject(new Error(`${command} ${args[0]} exited ${code} before it was ready: ${stderr.trim()}`)),
    );
  });
}

/** autocannon against /v1/classify for `seconds`, one sentence per request, round robin. */
function load(url, bodies, seconds) {
  let next = 0;
  return autocannon({
    url,
    connections: opts.connections,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: "POST",
        path: "/v1/classify",
        headers: { "content-type": "application/json" },
        setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }),
      },
    ],
  });
}

function summary(result) {
  return {
    requests_per_s: result.requests.average,
    latency_ms: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean },
    requests: result.requests.total,
    non_2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** Mean texts per forward pass, from the server's /metrics. */
async function meanBatchSize(url) {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const value = (name) => Number(/^(\S+) (\S+)$/m.exec(metrics.split("\n").find((l) => l.startsWith(`${name} `)))?.[2]);
  return value("ltgbert_batch_size_sum") / value("ltgbert_batch_size_count");
}

async function measure(label, server, bodies) {
  log(`${label}: warm-up ${WARMUP_SECONDS} s, then ${opts.duration} s with ${opts.connections} connections`);
  await load(server.url, bodies, WARMUP_SECONDS);
  return summary(await load(server.url, bodies, opts.duration));
}

async function nodeRun(config, dir, bodies) {
  const server = await startServer(
    process.execPath,
    [
      CLI,
      "serve",
      dir,
      "--port",
      "0",
      "--threads",
      String(opts.threads),
      "--max-batch-size",
      String(config.maxBatchSize),
      "--max-wait-ms",
      String(config.maxWaitMs),
      "--max-queue",
      "4096",
      "--timeout-ms",
      "60000",
    ],
    "ready:",
  );
  try {
    const result = await measure(`node, ${config.name}`, server, bodies);
    result.mean_batch_size = await meanBatchSize(server.url);
    return { ...config, ...result };
  } finally {
    const code = await server.stop();
    if (code !== 0) throw new Error(`ltgbert serve exited ${code} after SIGTERM: ${server.stderr().trim()}`);
  }
}

/** The Python server's answers against the package's predict() for the first sentences; tokenizer ids for all. */
async function checkPython(api, dir, texts, url) {
  const model = await api.LtgBertForSequenceClassification.fromPretrained(dir);
  try {
    const ids = join(mkdtempSync(join(os.tmpdir(), "ltgbert-bench-ids-")), "ids.jsonl");
    const encoded = await Promise.all(
      texts.map((t) => model.tokenizer.encode(t, undefined, { maxLength: model.config.max_position_embeddings })),
    );
    writeFileSync(ids, texts.map((t, i) => JSON.stringify({ text: t, ids: encoded[i] })).join("\n") + "\n");
    const check = await new Promise((resolve, reject) => {
      const child = spawn(PYTHON, [BASELINE, "--model", dir, "--check-ids", ids], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err.trim()))));
    });
    rmSync(join(ids, ".."), { recursive: true, force: true });
    const sample = texts.slice(0, 32);
    const direct = await model.predict(sample);
    const response = await fetch(`${url}/v1/classify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ texts: sample }),
    });
    const { predictions } = await response.json();
    let maxDiff = 0;
    let sameLabels = 0;
    predictions.forEach((p, i) => {
      if (p.label === direct[i].label) sameLabels++;
      p.scores.forEach((s, c) => (maxDiff = Math.max(maxDiff, Math.abs(s - direct[i].scores[c]))));
    });
    return { ids: check, sample: sample.length, same_labels: sameLabels, max_score_difference: maxDiff };
  } finally {
    model.dispose();
  }
}

async function pythonRun(api, dir, texts, bodies) {
  const server = await startServer(
    PYTHON,
    [BASELINE, "--model", dir, "--port", "0", "--threads", String(opts.threads)],
    "listening on",
  );
  try {
    const agreement = await checkPython(api, dir, texts, server.url);
    const result = await measure("python (http.server + PyTorch per request)", server, bodies);
    return { name: "python, per request", key: "python", agreement, ...result };
  } finally {
    await server.stop();
  }
}

const ms = (x) => (x == null ? "n/a" : `${x.toFixed(1)} ms`);

async function main() {
  startWatchdog(opts.maxMinutes);
  const started = performance.now();
  const api = await loadPackage(opts.threads);
  const { dir, made } = await modelDir(api);
  const texts = sentences();
  const bodies = texts.map((t) => JSON.stringify({ texts: [t] }));
  const report = {
    model: dir,
    model_info: made,
    sentences: texts.length,
    connections: opts.connections,
    duration_s: opts.duration,
    threads: opts.threads,
    cpus: os.availableParallelism(),
    node_version: process.version,
    runs: [],
    errors: [],
  };
  for (const config of CONFIGS) {
    try {
      report.runs.push(await nodeRun(config, dir, bodies));
    } catch (e) {
      report.errors.push(`node ${config.key}: ${describeError(e)}`);
    }
  }
  if (!opts.skipPython) {
    try {
      report.runs.push(await pythonRun(api, dir, texts, bodies));
    } catch (e) {
      report.errors.push(`python: ${e.message}`);
    }
  }
  const run = (key) => report.runs.find((r) => r.key === key);
  const [dynamic, batch1, python] = [run("dynamic"), run("batch1"), run("python")];
  if (dynamic && batch1) {
    report.dynamic_vs_batch1 = {
      throughput: dynamic.requests_per_s / batch1.requests_per_s,
      p50: dynamic.latency_ms.p50 / batch1.latency_ms.p50,
      p99: dynamic.latency_ms.p99 / batch1.latency_ms.p99,
    };
  }
  if (dynamic && python) {
    report.dynamic_vs_python = {
      throughput: dynamic.requests_per_s / python.requests_per_s,
      p50: dynamic.latency_ms.p50 / python.latency_ms.p50,
      p99: dynamic.latency_ms.p99 / python.latency_ms.p99,
    };
  }
  report.seconds_total = (performance.now() - started) / 1000;

  if (opts.json) {
    console.log(JSON.stringify(report));
  } else {
    const m = made
      ? `, ${made.parameters.toLocaleString("en-US")} parameters, dev accuracy ${made.devAccuracy.toFixed(3)}`
      : "";
    console.log(`model ${dir}${m}`);
    console.log(
      `${opts.connections} connections, ${opts.duration} s per run, one SST-2 dev sentence per request, ${opts.threads} libtorch thread(s), ${report.cpus} CPUs`,
    );
    console.log(
      `  ${"".padEnd(24)} ${"req/s".padStart(9)} ${"p50".padStart(10)} ${"p99".padStart(10)} ${"non-2xx".padStart(8)} ${"batch".padStart(6)}`,
    );
    for (const r of report.runs) {
      console.log(
        `  ${r.name.padEnd(24)} ${r.requests_per_s.toFixed(0).padStart(9)} ${ms(r.latency_ms.p50).padStart(10)} ${ms(r.latency_ms.p99).padStart(10)} ${String(r.non_2xx + r.errors).padStart(8)} ${(r.mean_batch_size ? r.mean_batch_size.toFixed(1) : "").padStart(6)}`,
      );
    }
    const ratio = (name, x) =>
      x &&
      console.log(
        `${name}: throughput ${x.throughput.toFixed(2)}x, p50 ${x.p50.toFixed(2)}x, p99 ${x.p99.toFixed(2)}x`,
      );
    ratio("dynamic batching / batch size 1", report.dynamic_vs_batch1);
    ratio("dynamic batching / python", report.dynamic_vs_python);
    if (python?.agreement) {
      const a = python.agreement;
      console.log(
        `python baseline: tokenizer ids equal Node's for ${a.ids.same_ids}/${a.ids.texts} sentences; ${a.same_labels}/${a.sample} labels equal, scores within ${a.max_score_difference.toExponential(1)}`,
      );
    }
    for (const e of report.errors) console.error(`error: ${e}`);
  }
  return report.errors.length ? 1 : 0;
}

runMain(main);
