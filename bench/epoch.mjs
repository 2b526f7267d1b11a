#!/usr/bin/env node
// Epoch benchmark: one training epoch of this package's sequence classifier
// over SST-2 with dynamic padding (each batch padded to its longest row)
// against the same epoch in PyTorch eager (bench/pytorch/epoch_bench.py):
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
// at the end), the format "ltgbert-batches" that bench/pytorch/batch_file.py
// describes: writeEpochFile writes it, epoch_bench.py reads it.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  ADAMW,
  PRESETS,
  PYTHON,
  ROOT,
  TOKENIZER,
  batchesBenchOptions,
  finish,
  loadPackageOrReport,
  measureBatchesPreset,
  positiveInteger,
  prepareOrReport,
  progressReporter,
  ratioLine,
  runMain,
  shown,
  sideTable,
  startBench,
  writeBatchFile,
} from "./common.mjs";

// the full GLUE SST-2 train split (67,349 rows) where the project's shared
// data is, else the 2,000-row excerpt the repository carries
const DATA_SHARED = join(ROOT, "..", "shared", "data", "sst2", "train.tsv");
const DATA_FIXTURE = join(ROOT, "test", "fixtures", "sst2", "train-2000.tsv");

const NUM_LABELS = 2;
// makeBatches options: dynamic padding, a seeded shuffle
const PLAN = { batchSize: 32, shuffle: true, seed: 42, epoch: 0, maxLength: 128 };
// share of the epoch's steps over which the learning rate warms up; the
// optimizer is common.mjs's ADAMW, and the schedule's steps travel to
// epoch_bench.py in the batches file
const WARMUP_RATIO = 0.06;
// the sanity-check losses: the means over this many first and last batches
// (half the run when it has fewer than twice as many)
const LOSS_WINDOW = 100;

// ---------------------------------------------------------------- helpers

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const lossWindow = (n) => Math.min(LOSS_WINDOW, Math.max(1, Math.floor(n / 2)));
const firstMean = (xs) => (xs.length ? mean(xs.slice(0, lossWindow(xs.length))) : null);
const lastMean = (xs) => (xs.length ? mean(xs.slice(-lossWindow(xs.length))) : null);

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

// The format "ltgbert-batches" of bench/pytorch/batch_file.py (common.mjs writes the container).
function writeEpochFile(path, prep) {
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
  const body = new Int32Array(2 * prep.paddedTokens + prep.examples);
  let at = 0;
  for (const part of [(b) => b.inputIds.data, (b) => b.attentionMask.data, (b) => b.labels]) {
    for (const b of prep.batches) {
      body.set(part(b), at);
      at += part(b).length;
    }
  }
  writeBatchFile(path, header, [body]);
}

// ---------------------------------------------------------------- the two halves

async function nodeEpoch(api, config, batches, deadline, progress) {
  const model = await api.LtgBertForSequenceClassification.fromConfig({ ...config, num_labels: NUM_LABELS });
  try {
    const optimizer = model.createOptimizer({ ...ADAMW, schedule: scheduleFor(batches.length) });
    const losses = [];
    const t0 = performance.now();
    const report = progressReporter(progress, batches.length, "batches", t0);
    for (let i = 0; i < batches.length; i++) {
      const r = await model.trainStep(batches[i], optimizer);
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm))
        throw new Error(`batch ${i}: loss ${r.loss}, grad norm ${r.gradNorm}`);
      losses.push(r.loss);
      const now = performance.now();
      if (now > deadline) throw new Error(`out of time after ${i + 1} of ${batches.length} batches (--max-minutes)`);
      report(i + 1, now);
    }
    return { seconds_epoch: (performance.now() - t0) / 1000, losses };
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const bench = startBench(
    "epoch.mjs",
    batchesBenchOptions("FILE.tsv", { "max-batches": { arg: "N", default: null, parse: positiveInteger } }),
  );
  const { opts, start, log, errors } = bench;

  // The package reads, tokenizes and pads the data for both halves, so
  // without dist/ neither can run.
  const api = await loadPackageOrReport(opts.threads);
  if (!api) return 1;

  const dataFile = opts.data ?? (existsSync(DATA_SHARED) ? DATA_SHARED : DATA_FIXTURE);
  const prep = await prepareOrReport(() => prepareBatches(api, dataFile, opts.maxBatches));
  if (!prep) return 1;
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

  try {
    writeEpochFile(batchFile, prep);
    for (const preset of opts.presets) {
      const config = PRESETS[preset];
      const row = { preset, config, node: null, python: null };
      const ran = await measureBatchesPreset(bench, preset, row, {
        node: (deadline, progress) => nodeEpoch(api, config, prep.batches, deadline, progress),
        script: "pytorch/epoch_bench.py",
        batchFile,
        expected: [
          ["batches", prep.batches.length],
          ["examples", prep.examples],
          ["tokens", prep.tokens],
          ["padded_tokens", prep.paddedTokens],
        ],
        mismatch: (key, theirs, ours) => `${preset}: python read ${theirs} ${key}, node wrote ${ours}`,
        keep: (py) => ({ seconds_epoch: py.seconds_epoch, losses: py.losses, torch_version: py.torch_version }),
      });
      if (!ran) continue;
      for (const side of [row.node, row.python]) {
        if (!side) continue;
        side.examples_per_s = prep.examples / side.seconds_epoch;
        side.tokens_per_s = prep.tokens / side.seconds_epoch;
        side.padded_tokens_per_s = prep.paddedTokens / side.seconds_epoch;
        side.loss_first = firstMean(side.losses);
        side.loss_last = lastMean(side.losses);
      }
      if (row.node && row.python) row.ratio = row.python.seconds_epoch / row.node.seconds_epoch;

      const window = lossWindow(prep.batches.length);
      log(`\n${preset}:`);
      log(
        sideTable(
          [
            ["s/epoch", 10],
            ["examples/s", 11],
            ["tokens/s", 9],
            [`loss first/last ${window}`, 22],
          ],
          (x) => [
            x.seconds_epoch.toFixed(2),
            x.examples_per_s.toFixed(1),
            x.tokens_per_s.toFixed(0),
            `${x.loss_first.toFixed(4)} -> ${x.loss_last.toFixed(4)}`,
          ],
          row.node,
          row.python,
        ),
      );
      log(ratioLine(row.ratio, prep.cut ? " (cut-short run)" : ""));
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
    optimizer: { ...ADAMW, schedule },
    loss_window: lossWindow(prep.batches.length),
    node_version: process.version,
    python: opts.skipPython ? null : PYTHON,
    presets: bench.results,
    errors,
    seconds_total: (performance.now() - start) / 1000,
  };
  return finish(report, opts.json);
}

runMain(main);
