#!/usr/bin/env node
// Training benchmark: one step of this package's sequence classifier
// (`model.trainStep`: forward, cross-entropy, backward, clipping, AdamW,
// schedule) against the same step in PyTorch eager
// (bench/reference/train_bench.py), same config, same batch (8 x 128 random
// ids, full attention mask, labels 0, 1, 0, 1, ...), same optimizer settings,
// same thread count, one command. See bench/README.md for what the figures mean.
//
//   node bench/train.mjs [--threads 2] [--runs 5] [--warmup 2]
//                        [--presets mini,base] [--json]
//                        [--skip-python] [--skip-node] [--max-minutes 30]
//
// Python: /usr/bin/python3 unless env PYTHON names another interpreter (it
// needs torch). The two halves run one after the other, never at once, so
// they do not compete for cores.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(HERE);
const PYTHON = process.env.PYTHON || "/usr/bin/python3";
const DIST = join(ROOT, "dist", "index.js");

const PRESETS = {
  mini: {
    vocab_size: 16384,
    hidden_size: 256,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    intermediate_size: 683,
    max_position_embeddings: 512,
    position_bucket_size: 32,
  },
  base: {
    vocab_size: 16384,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 2048,
    max_position_embeddings: 512,
    position_bucket_size: 32,
  },
};
const BATCH = 8;
const SEQ = 128;
const NUM_LABELS = 2;
// train_bench.py hard-codes the same values; change both together
const OPTIMIZER = {
  learningRate: 2e-5,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
  schedule: { kind: "linear", warmupSteps: 10, totalSteps: 1000 },
};
// the issue's goal: Node at least this many times faster than PyTorch eager
const TARGET_SPEEDUP = 1.5;
// how often the Node side samples its resident set during the warm-up steps
const RSS_SAMPLE_MS = 5;

// ---------------------------------------------------------------- options

function usage(msg) {
  if (msg) console.error(`train.mjs: ${msg}`);
  console.error(
    "usage: node bench/train.mjs [--threads N] [--runs K] [--warmup W] " +
      "[--presets mini,base] [--json] [--skip-python] [--skip-node] [--max-minutes M]",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    threads: 2,
    runs: 5,
    warmup: 2,
    presets: ["mini", "base"],
    json: false,
    skipPython: false,
    skipNode: false,
    maxMinutes: 30,
  };
  const positive = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) usage(`${name} needs a positive integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? a.split(/=(.*)/s, 2) : [a, undefined];
    const value = () => (inline !== undefined ? inline : (argv[++i] ?? usage(`${flag} needs a value`)));
    switch (flag) {
      case "--threads":
        o.threads = positive(flag, value());
        break;
      case "--runs":
        o.runs = positive(flag, value());
        break;
      case "--warmup": {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 0) usage("--warmup needs an integer >= 0");
        o.warmup = n;
        break;
      }
      case "--presets": {
        o.presets = value()
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        const bad = o.presets.filter((p) => !(p in PRESETS));
        if (bad.length || !o.presets.length)
          usage(`unknown preset(s) ${bad.join(",")}; known: ${Object.keys(PRESETS).join(",")}`);
        break;
      }
      case "--max-minutes": {
        const n = Number(value());
        if (!(n > 0)) usage("--max-minutes needs a positive number");
        o.maxMinutes = n;
        break;
      }
      case "--json":
        o.json = true;
        break;
      case "--skip-python":
        o.skipPython = true;
        break;
      case "--skip-node":
        o.skipNode = true;
        break;
      case "-h":
      case "--help":
        usage();
        break;
      default:
        usage(`unknown option ${a}`);
    }
  }
  return o;
}

// ---------------------------------------------------------------- helpers

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Same formula as train_step_flops in bench/reference/flops.py (cross-checked
// below): matmul FLOPs of the encoder's forward (no masked-LM head) plus the
// linear head on the first token, times 3, because the backward of each
// product computes the gradient of both operands, two products of the same
// size. Multiply-add = 2; c2p/p2c counted against the 2*bucket-1 table rows.
function trainStepFlops(c, B, T, labels) {
  const N = B * T,
    D = c.hidden_size,
    I = c.intermediate_size;
  const L = c.num_hidden_layers,
    P = 2 * c.position_bucket_size - 1;
  const perLayer =
    2 * N * D * 2 * D + // in_proj_qk
    2 * N * D * D + // in_proj_v
    2 * N * D * D + // out_proj
    2 * P * D * 2 * D + // relative table through in_proj_qk
    2 * B * T * T * D + // q.k
    2 * B * T * T * D + // probs.v
    2 * 2 * B * T * P * D + // c2p + p2c
    2 * N * D * 2 * I +
    2 * N * I * D; // GeGLU mlp
  const head = 2 * B * D * labels;
  return 3 * (L * perLayer + head);
}

// deterministic token ids (xorshift32), so every run of the bench feeds the same batch
function randomIds(n, vocab, seed = 12345) {
  const out = new Int32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s % vocab;
  }
  return out;
}

let currentChild = null;

function run(cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    currentChild = child;
    let stdout = "",
      stderr = "",
      timedOut = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(
      () => {
        timedOut = true;
        child.kill("SIGKILL");
      },
      Math.max(1000, timeoutMs),
    );
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: String(err), timedOut });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      currentChild = null;
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

async function runPythonJson(script, args, timeoutMs) {
  const r = await run(PYTHON, [join(HERE, script), ...args], timeoutMs);
  if (r.timedOut) throw new Error(`${script} passed its time limit (${Math.round(timeoutMs / 1000)} s)`);
  const line = r.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (r.code !== 0 || !line) {
    throw new Error(
      `${PYTHON} ${script} exited ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`,
    );
  }
  return JSON.parse(line);
}

// ---------------------------------------------------------------- the two halves

async function nodeTrain(api, config, opts, deadline) {
  const n = BATCH * SEQ;
  const batch = {
    inputIds: { data: randomIds(n, config.vocab_size), shape: [BATCH, SEQ] },
    attentionMask: { data: new Int32Array(n).fill(1), shape: [BATCH, SEQ] },
    labels: Array.from({ length: BATCH }, (_, i) => i % NUM_LABELS),
  };
  const rssBefore = process.memoryUsage.rss();
  const model = await api.LtgBertForSequenceClassification.fromConfig({ ...config, num_labels: NUM_LABELS });
  try {
    const optimizer = model.createOptimizer(OPTIMIZER);
    const losses = [];
    const step = async () => {
      const r = await model.trainStep(batch, optimizer);
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm))
        throw new Error(`step ${r.step}: loss ${r.loss}, grad norm ${r.gradNorm}`);
      losses.push(r.loss);
      return r;
    };
    // The resident set is sampled only while the untimed steps run (the
    // first one allocates the gradients and AdamW's state, so later steps
    // repeat its peak), so that the sampler does not touch the timings.
    let peak = process.memoryUsage.rss();
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), RSS_SAMPLE_MS);
    try {
      for (let i = 0; i < opts.warmup; i++) await step();
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage.rss());
    const times = [];
    for (let i = 0; i < opts.runs; i++) {
      const t0 = performance.now();
      await step();
      times.push((performance.now() - t0) / 1000);
      if (performance.now() > deadline) break;
    }
    return {
      seconds_per_step_median: median(times),
      runs: times.length,
      seconds_all: times,
      losses,
      peak_rss_growth_bytes: opts.warmup > 0 ? peak - rssBefore : null,
    };
  } finally {
    model.dispose();
  }
}

async function pythonTrain(preset, opts, timeoutMs) {
  return runPythonJson(
    "reference/train_bench.py",
    [
      "--config",
      JSON.stringify({ ...PRESETS[preset], name: preset }),
      "--batch",
      String(BATCH),
      "--seq",
      String(SEQ),
      "--num-labels",
      String(NUM_LABELS),
      "--threads",
      String(opts.threads),
      "--runs",
      String(opts.runs),
      "--warmup",
      String(opts.warmup),
      "--max-seconds",
      String(Math.max(5, timeoutMs / 1000 / 2)),
    ],
    timeoutMs,
  );
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const start = performance.now();
  const deadline = start + opts.maxMinutes * 60_000;
  const left = () => deadline - performance.now();
  const log = (...a) => {
    if (!opts.json) console.log(...a);
  };
  const errors = [];
  // hard bound: a step that never returns cannot be interrupted from JS,
  // so past the deadline (plus a grace period) the process ends itself
  const watchdog = setTimeout(
    () => {
      console.error(`error: still running ${opts.maxMinutes} min + 60 s after the start; giving up (--max-minutes)`);
      if (currentChild) currentChild.kill("SIGKILL");
      process.exit(1);
    },
    opts.maxMinutes * 60_000 + 60_000,
  );
  watchdog.unref();

  let api = null;
  if (!opts.skipNode) {
    if (!existsSync(DIST)) {
      errors.push(`node: ${DIST} not found; build the package first (npm run build)`);
    } else {
      try {
        api = await import(pathToFileURL(DIST).href);
        api.setNumThreads(opts.threads);
      } catch (e) {
        errors.push(`node: loading dist/index.js failed: ${e.message}`);
        api = null;
      }
    }
  }

  let limit = null;
  if (!opts.skipPython) {
    try {
      limit = await runPythonJson("matmul_rate.py", ["--threads", String(opts.threads)], Math.min(120_000, left()));
    } catch (e) {
      errors.push(`matmul rate: ${e.message}`);
    }
  }

  log(
    `LTG-BERT sequence-classifier training step (forward + backward + clip + AdamW), batch ${BATCH} x ${SEQ}, ` +
      `full attention mask, dropout 0.1, ${opts.threads} thread(s), median of ${opts.runs} after ${opts.warmup} warm-up`,
  );
  if (limit)
    log(
      `matmul limit: ${limit.gflops_limit.toFixed(1)} GFLOP/s (float32 torch.mm, ${opts.threads} threads, ` +
        `square ${JSON.stringify(limit.square)})`,
    );

  const results = [];
  for (const preset of opts.presets) {
    const config = PRESETS[preset];
    const flops = trainStepFlops(config, BATCH, SEQ, NUM_LABELS);
    const row = { preset, config, batch: BATCH, seq: SEQ, threads: opts.threads, flops, node: null, python: null };
    // budget: split what is left between the remaining presets, half each side
    const remaining = opts.presets.length - opts.presets.indexOf(preset);
    const share = left() / remaining / 2;
    if (share < 5000) {
      errors.push(`${preset}: out of time (--max-minutes ${opts.maxMinutes})`);
      results.push(row);
      continue;
    }

    if (api) {
      try {
        row.node = await nodeTrain(api, config, opts, performance.now() + share * 0.8);
      } catch (e) {
        errors.push(`${preset} node: ${e.code ? e.code + ": " : ""}${e.message}`);
      }
    }
    if (!opts.skipPython) {
      try {
        const py = await pythonTrain(preset, opts, share);
        if (py.flops !== flops)
          errors.push(`${preset}: FLOP count differs, node formula ${flops} vs flops.py ${py.flops}`);
        row.python = {
          seconds_per_step_median: py.seconds_per_step_median,
          runs: py.runs,
          seconds_all: py.seconds_all,
          losses: py.losses,
          peak_rss_growth_bytes: py.peak_rss_growth_bytes,
          torch_version: py.torch_version,
        };
      } catch (e) {
        errors.push(`${preset} python: ${e.message}`);
      }
    }
    const gflops = (s) => flops / s / 1e9;
    if (row.node) row.node.gflops_per_s = gflops(row.node.seconds_per_step_median);
    if (row.python) row.python.gflops_per_s = gflops(row.python.seconds_per_step_median);
    if (row.node && row.python) {
      row.speedup = row.python.seconds_per_step_median / row.node.seconds_per_step_median;
      row.target_met = row.speedup >= TARGET_SPEEDUP;
    }
    if (limit) {
      if (row.node) row.node.share_of_limit = row.node.gflops_per_s / limit.gflops_limit;
      if (row.python) row.python.share_of_limit = row.python.gflops_per_s / limit.gflops_limit;
    }
    results.push(row);

    const line = (label, x) => {
      const cells = x
        ? [
            x.seconds_per_step_median.toFixed(4),
            String(x.runs),
            x.gflops_per_s.toFixed(1),
            x.share_of_limit == null ? "n/a" : `${(100 * x.share_of_limit).toFixed(1)}%`,
            x.peak_rss_growth_bytes == null ? "n/a" : `${(x.peak_rss_growth_bytes / 2 ** 20).toFixed(0)} MiB`,
          ]
        : ["n/a", "", "", "", ""];
      return `  ${label.padEnd(17)} ${cells[0].padStart(8)} ${cells[1].padStart(5)} ${cells[2].padStart(8)} ${cells[3].padStart(15)} ${cells[4].padStart(16)}`.trimEnd();
    };
    log(`\n${preset}: ${(flops / 1e9).toFixed(2)} GFLOP per step`);
    log(
      `  ${"".padEnd(17)} ${"s/step".padStart(8)} ${"runs".padStart(5)} ${"GFLOP/s".padStart(8)} ${"share of limit".padStart(15)} ${"peak RSS growth".padStart(16)}`,
    );
    log(line("node (ltgbert)", row.node));
    log(line("pytorch (eager)", row.python));
    log(
      `  speed-up (pytorch / node): ${
        row.speedup == null
          ? "n/a"
          : `${row.speedup.toFixed(2)}x (target >= ${TARGET_SPEEDUP}x: ${row.target_met ? "met" : "not met"})`
      }`,
    );
  }

  const report = {
    batch: BATCH,
    seq: SEQ,
    num_labels: NUM_LABELS,
    threads: opts.threads,
    runs: opts.runs,
    warmup: opts.warmup,
    optimizer: OPTIMIZER,
    target_speedup: TARGET_SPEEDUP,
    node_version: process.version,
    python: opts.skipPython ? null : PYTHON,
    limit: limit && {
      gflops: limit.gflops_limit,
      square: limit.square,
      blas: limit.blas,
      torch_version: limit.torch_version,
    },
    presets: results,
    errors,
    seconds_total: (performance.now() - start) / 1000,
  };
  if (opts.json) console.log(JSON.stringify(report));
  else for (const e of errors) console.error(`error: ${e}`);
  return errors.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
