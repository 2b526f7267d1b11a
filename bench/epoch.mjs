#!/usr/bin/env node
// Epoch benchmark: one training epoch of this package's sequence classifier
// over SST-2 with dynamic padding (each batch padded to its longest row)
// against the same epoch in PyTorch eager (bench/reference/epoch_bench.py):
// the same batches in the same order, the same step as bench/train.mjs, the
// same thread count, one command. See bench/README.md for what the figures
// mean.
//
//   node bench/epoch.mjs [--data FILE.tsv] [--presets mini] [--threads 2]
//                        [--max-batches N] [--json] [--skip-python]
//                        [--skip-node] [--max-minutes M]
//
// Python: /usr/bin/python3 unless env PYTHON names another interpreter (it
// needs torch). The two halves run one after the other, never at once, so
// they do not compete for cores.
//
// The batches reach Python through one file in a temporary directory (removed
// at the end), all integers little-endian:
//
//   bytes 0-7     the ASCII magic "LTGBATCH"
//   bytes 8-11    uint32 H: the length of the JSON header in bytes
//   bytes 12-...  the JSON header, UTF-8, padded with spaces so that 12 + H
//                 is a multiple of 4
//   then three int32 arrays back to back, batch after batch, each batch
//   row-major:
//     input_ids       sum of B_i * T_i values
//     attention_mask  sum of B_i * T_i values (1 = token, 0 = padding)
//     labels          sum of B_i values
//
// The header: {"format": "ltgbert-batches", "version": 1, "shapes": [[B_0,
// T_0], ...], "num_labels", "warmup_steps", "total_steps", and where the
// batches came from: "data", "rows", "batch_size", "seed", "epoch",
// "max_length", "cut", "full_epoch_batches"}. epoch_bench.py reads the same
// layout; change both together.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { endianness, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(HERE);
const PYTHON = process.env.PYTHON || "/usr/bin/python3";
const DIST = join(ROOT, "dist", "index.js");

// the full GLUE SST-2 train split (67,349 rows) where the project's shared
// data is, else the 2,000-row excerpt the repository carries
const DATA_SHARED = join(ROOT, "..", "shared", "data", "sst2", "train.tsv");
const DATA_FIXTURE = join(ROOT, "test", "fixtures", "sst2", "train-2000.tsv");
const TOKENIZER = join(ROOT, "test", "fixtures", "tokenizers", "ltg-bert-babylm");

// same presets as bench/train.mjs and forward_bench.py
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
const NUM_LABELS = 2;
// makeBatches options: dynamic padding, a seeded shuffle
const PLAN = { batchSize: 32, shuffle: true, seed: 42, epoch: 0, maxLength: 128 };
// share of the epoch's steps over which the learning rate warms up
const WARMUP_RATIO = 0.06;
// train_bench.py (which epoch_bench.py imports them from) hard-codes the
// same values; the schedule's steps travel in the batches file
const OPTIMIZER = {
  learningRate: 2e-5,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
};
// the sanity-check losses: the means over this many first and last batches
// (half the run when it has fewer than twice as many)
const LOSS_WINDOW = 100;
// seconds between progress lines on stderr (table mode only)
const PROGRESS_S = 30;
const MAGIC = "LTGBATCH";

// ---------------------------------------------------------------- options

function usage(msg) {
  if (msg) console.error(`epoch.mjs: ${msg}`);
  console.error(
    "usage: node bench/epoch.mjs [--data FILE.tsv] [--presets mini,base] [--threads N] [--max-batches N] " +
      "[--json] [--skip-python] [--skip-node] [--max-minutes M]",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    data: null,
    presets: ["mini"],
    threads: 2,
    maxBatches: null,
    json: false,
    skipPython: false,
    skipNode: false,
    maxMinutes: null,
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
      case "--data":
        o.data = resolve(value());
        break;
      case "--threads":
        o.threads = positive(flag, value());
        break;
      case "--max-batches":
        o.maxBatches = positive(flag, value());
        break;
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

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const lossWindow = (n) => Math.min(LOSS_WINDOW, Math.max(1, Math.floor(n / 2)));
const firstMean = (xs) => (xs.length ? mean(xs.slice(0, lossWindow(xs.length))) : null);
const lastMean = (xs) => (xs.length ? mean(xs.slice(-lossWindow(xs.length))) : null);
const shown = (file) => (file.startsWith(ROOT) ? relative(ROOT, file) : file);

let currentChild = null;

// Runs a child to its end; with onStderrLine, hands over each stderr line as
// it arrives. timeoutMs null: no limit.
function run(cmd, args, timeoutMs, onStderrLine) {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    currentChild = child;
    let stdout = "",
      stderr = "",
      pending = "",
      timedOut = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      if (!onStderrLine) return;
      pending += d;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const l of lines) onStderrLine(l);
    });
    const timer =
      timeoutMs === null
        ? null
        : setTimeout(
            () => {
              timedOut = true;
              child.kill("SIGKILL");
            },
            Math.max(1000, timeoutMs),
          );
    child.on("error", (err) => {
      clearTimeout(timer);
      resolvePromise({ code: -1, stdout, stderr: String(err), timedOut });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      currentChild = null;
      resolvePromise({ code, stdout, stderr, timedOut });
    });
  });
}

// ---------------------------------------------------------------- the batches

// Reads and tokenizes the data, plans the epoch and pads every batch, the
// package's own way (readDataset, Tokenizer, makeBatches). Timed apart from
// the epoch.
async function prepareBatches(api, file, maxBatches) {
  const t0 = performance.now();
  const dataset = await api.readDataset(file, { numLabels: NUM_LABELS });
  const t1 = performance.now();
  const tokenizer = await api.Tokenizer.fromPretrained(TOKENIZER);
  const t2 = performance.now();
  const plan = await api.makeBatches(dataset, tokenizer, PLAN);
  const count = maxBatches === null ? plan.length : Math.min(maxBatches, plan.length);
  const batches = [];
  for (let i = 0; i < count; i++) {
    const { inputIds, attentionMask, labels } = plan.at(i);
    batches.push({ inputIds, attentionMask, labels });
  }
  const t3 = performance.now();
  let tokens = 0,
    paddedTokens = 0,
    examples = 0;
  for (const b of batches) {
    for (const m of b.attentionMask.data) tokens += m;
    paddedTokens += b.attentionMask.data.length;
    examples += b.labels.length;
  }
  return {
    file,
    rows: dataset.size,
    batches,
    fullEpochBatches: plan.length,
    cut: count < plan.length,
    examples,
    tokens,
    paddedTokens,
    longest: Math.max(...batches.map((b) => b.inputIds.shape[1])),
    seconds: { read: (t1 - t0) / 1000, tokenizer_load: (t2 - t1) / 1000, tokenize_and_batch: (t3 - t2) / 1000 },
  };
}

function scheduleFor(batchCount) {
  return { kind: "linear", warmupSteps: Math.ceil(WARMUP_RATIO * batchCount), totalSteps: batchCount };
}

// The layout is described at the top of this file.
function writeBatchFile(path, prep) {
  if (endianness() !== "LE") throw new Error("the batches file is little-endian; this machine is not");
  const schedule = scheduleFor(prep.batches.length);
  const header = {
    format: "ltgbert-batches",
    version: 1,
    shapes: prep.batches.map((b) => b.inputIds.shape),
    num_labels: NUM_LABELS,
    warmup_steps: schedule.warmupSteps,
    total_steps: schedule.totalSteps,
    data: prep.file,
    rows: prep.rows,
    batch_size: PLAN.batchSize,
    seed: PLAN.seed,
    epoch: PLAN.epoch,
    max_length: PLAN.maxLength,
    cut: prep.cut,
    full_epoch_batches: prep.fullEpochBatches,
  };
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  json = Buffer.concat([json, Buffer.alloc(pad, " ")]);
  const preamble = Buffer.alloc(MAGIC.length + 4);
  preamble.write(MAGIC, 0, "ascii");
  preamble.writeUInt32LE(json.length, MAGIC.length);
  const body = new Int32Array(2 * prep.paddedTokens + prep.examples);
  let at = 0;
  for (const part of [(b) => b.inputIds.data, (b) => b.attentionMask.data, (b) => b.labels]) {
    for (const b of prep.batches) {
      body.set(part(b), at);
      at += part(b).length;
    }
  }
  writeFileSync(path, Buffer.concat([preamble, json, Buffer.from(body.buffer)]));
}

// ---------------------------------------------------------------- the two halves

async function nodeEpoch(api, config, batches, deadline, progress) {
  const model = await api.LtgBertForSequenceClassification.fromConfig({ ...config, num_labels: NUM_LABELS });
  try {
    const optimizer = model.createOptimizer({ ...OPTIMIZER, schedule: scheduleFor(batches.length) });
    const losses = [];
    const t0 = performance.now();
    let nextReport = t0 + PROGRESS_S * 1000;
    for (let i = 0; i < batches.length; i++) {
      const r = await model.trainStep(batches[i], optimizer);
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm))
        throw new Error(`batch ${i}: loss ${r.loss}, grad norm ${r.gradNorm}`);
      losses.push(r.loss);
      const now = performance.now();
      if (now > deadline) throw new Error(`out of time after ${i + 1} of ${batches.length} batches (--max-minutes)`);
      if (progress && now >= nextReport) {
        progress(`${i + 1}/${batches.length} batches, ${((now - t0) / 1000).toFixed(0)} s`);
        nextReport = now + PROGRESS_S * 1000;
      }
    }
    return { seconds_epoch: (performance.now() - t0) / 1000, losses };
  } finally {
    model.dispose();
  }
}

async function pythonEpoch(preset, batchFile, opts, timeoutMs, progress) {
  const script = "reference/epoch_bench.py";
  const args = [
    join(HERE, script),
    "--batches",
    batchFile,
    "--config",
    JSON.stringify({ ...PRESETS[preset], name: preset }),
    "--threads",
    String(opts.threads),
    "--progress",
    String(progress ? PROGRESS_S : 0),
  ];
  const r = await run(PYTHON, args, timeoutMs, (l) => {
    if (progress && l.startsWith("progress: ")) progress(l.slice("progress: ".length));
  });
  if (r.timedOut) throw new Error(`${script} passed its time limit (${Math.round(timeoutMs / 1000)} s, --max-minutes)`);
  const line = r.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (r.code !== 0 || !line) {
    const tail = (r.stderr || r.stdout)
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith("progress: "))
      .slice(-3)
      .join(" | ");
    throw new Error(`${PYTHON} ${script} exited ${r.code}: ${tail}`);
  }
  return JSON.parse(line);
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const start = performance.now();
  const deadline = opts.maxMinutes === null ? Infinity : start + opts.maxMinutes * 60_000;
  const left = () => deadline - performance.now();
  const log = (...a) => {
    if (!opts.json) console.log(...a);
  };
  const errors = [];
  if (opts.maxMinutes !== null) {
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
  }

  // The package reads, tokenizes and pads the data for both halves, so
  // without dist/ neither can run.
  if (!existsSync(DIST)) {
    console.error(`error: ${DIST} not found; build the package first (npm run build)`);
    return 1;
  }
  const api = await import(pathToFileURL(DIST).href);
  api.setNumThreads(opts.threads);

  const dataFile = opts.data ?? (existsSync(DATA_SHARED) ? DATA_SHARED : DATA_FIXTURE);
  let prep;
  try {
    prep = await prepareBatches(api, dataFile, opts.maxBatches);
  } catch (e) {
    console.error(`error: preparing the batches: ${e.code ? e.code + ": " : ""}${e.message}`);
    return 1;
  }
  const schedule = scheduleFor(prep.batches.length);
  const dir = mkdtempSync(join(tmpdir(), "ltgbert-epoch-"));
  const batchFile = join(dir, "batches.bin");

  log(
    `LTG-BERT sequence-classifier training epoch (forward + backward + clip + AdamW, dropout 0.1), ` +
      `SST-2, batch ${PLAN.batchSize}, dynamic padding, ${opts.threads} thread(s)`,
  );
  log(
    `data: ${shown(prep.file)} (${prep.rows.toLocaleString("en")} rows), tokenizer ${shown(TOKENIZER)}, ` +
      `shuffle seed ${PLAN.seed}, max length ${PLAN.maxLength}`,
  );
  log(
    `batches: ${prep.batches.length} of ${prep.fullEpochBatches.toLocaleString("en")}, ${prep.examples.toLocaleString("en")} examples, ` +
      `${prep.tokens.toLocaleString("en")} tokens, ${prep.paddedTokens.toLocaleString("en")} padded ` +
      `(${((100 * (prep.paddedTokens - prep.tokens)) / prep.paddedTokens).toFixed(1)}% padding), ` +
      `longest batch ${prep.longest}; schedule: ${schedule.warmupSteps} warm-up of ${schedule.totalSteps} steps`,
  );
  if (prep.cut)
    log(
      `*** CUT SHORT: --max-batches ${opts.maxBatches} runs ${prep.batches.length} of the epoch's ` +
        `${prep.fullEpochBatches.toLocaleString("en")} batches; not a full-epoch measurement ***`,
    );
  log(
    `node preparation (not in the epoch time): read ${prep.seconds.read.toFixed(2)} s, tokenizer load ` +
      `${prep.seconds.tokenizer_load.toFixed(2)} s, tokenize + plan + pad ${prep.seconds.tokenize_and_batch.toFixed(2)} s`,
  );

  const results = [];
  try {
    writeBatchFile(batchFile, prep);
    for (const preset of opts.presets) {
      const config = PRESETS[preset];
      const row = { preset, config, node: null, python: null };
      const progress = (side) => (opts.json ? null : (msg) => console.error(`  ${preset} ${side}: ${msg}`));
      // budget: what is left, split between the remaining presets' halves
      const halves = (opts.skipNode ? 0 : 1) + (opts.skipPython ? 0 : 1);
      const remaining = opts.presets.length - opts.presets.indexOf(preset);
      const share = () => left() / remaining / Math.max(1, halves);
      if (share() < 5000) {
        errors.push(`${preset}: out of time (--max-minutes ${opts.maxMinutes})`);
        results.push(row);
        continue;
      }
      if (!opts.skipNode) {
        try {
          row.node = await nodeEpoch(api, config, prep.batches, performance.now() + share(), progress("node"));
        } catch (e) {
          errors.push(`${preset} node: ${e.code ? e.code + ": " : ""}${e.message}`);
        }
      }
      if (!opts.skipPython) {
        try {
          const py = await pythonEpoch(
            preset,
            batchFile,
            opts,
            Number.isFinite(deadline) ? left() / remaining : null,
            progress("pytorch"),
          );
          for (const [key, ours] of [
            ["batches", prep.batches.length],
            ["examples", prep.examples],
            ["tokens", prep.tokens],
            ["padded_tokens", prep.paddedTokens],
          ]) {
            if (py[key] !== ours) errors.push(`${preset}: python read ${py[key]} ${key}, node wrote ${ours}`);
          }
          row.python = { seconds_epoch: py.seconds_epoch, losses: py.losses, torch_version: py.torch_version };
        } catch (e) {
          errors.push(`${preset} python: ${e.message}`);
        }
      }
      for (const side of [row.node, row.python]) {
        if (!side) continue;
        side.examples_per_s = prep.examples / side.seconds_epoch;
        side.tokens_per_s = prep.tokens / side.seconds_epoch;
        side.padded_tokens_per_s = prep.paddedTokens / side.seconds_epoch;
        side.loss_first = firstMean(side.losses);
        side.loss_last = lastMean(side.losses);
      }
      if (row.node && row.python) row.ratio = row.python.seconds_epoch / row.node.seconds_epoch;
      results.push(row);

      const window = lossWindow(prep.batches.length);
      const line = (label, x) => {
        const cells = x
          ? [
              x.seconds_epoch.toFixed(2),
              x.examples_per_s.toFixed(1),
              x.tokens_per_s.toFixed(0),
              `${x.loss_first.toFixed(4)} -> ${x.loss_last.toFixed(4)}`,
            ]
          : ["n/a", "", "", ""];
        return `  ${label.padEnd(17)} ${cells[0].padStart(10)} ${cells[1].padStart(11)} ${cells[2].padStart(9)} ${cells[3].padStart(22)}`.trimEnd();
      };
      log(`\n${preset}:`);
      log(
        `  ${"".padEnd(17)} ${"s/epoch".padStart(10)} ${"examples/s".padStart(11)} ${"tokens/s".padStart(9)} ${`loss first/last ${window}`.padStart(22)}`,
      );
      log(line("node (ltgbert)", row.node));
      log(line("pytorch (eager)", row.python));
      log(
        `  ratio pytorch / node: ${
          row.ratio == null ? "n/a" : `${row.ratio.toFixed(2)}x (${row.ratio > 1 ? "node faster" : "node not faster"})`
        }${prep.cut ? " (cut-short run)" : ""}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const report = {
    data: prep.file,
    rows: prep.rows,
    tokenizer: TOKENIZER,
    plan: PLAN,
    batches: prep.batches.length,
    full_epoch_batches: prep.fullEpochBatches,
    cut: prep.cut,
    examples: prep.examples,
    tokens: prep.tokens,
    padded_tokens: prep.paddedTokens,
    longest_batch: prep.longest,
    node_preparation_seconds: prep.seconds,
    threads: opts.threads,
    num_labels: NUM_LABELS,
    optimizer: { ...OPTIMIZER, schedule },
    loss_window: lossWindow(prep.batches.length),
    node_version: process.version,
    python: opts.skipPython ? null : PYTHON,
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
