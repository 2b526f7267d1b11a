#!/usr/bin/env node
// Pretraining benchmark: optimizer steps of this package's masked LM
// (`model.trainStep` on span-masked batches of raw text: forward with the
// logits at the masked positions, the cross-entropy of the masked tokens,
// backward, clipping, AdamW, schedule) against the same steps in PyTorch
// eager (bench/pytorch/pretrain_bench.py) on the same batches, same config,
// same thread count, one command. See bench/README.md for what the figures
// mean.
//
//   node bench/pretrain.mjs [--data FILE.txt] [--presets mini] [--threads 2]
//                           [--steps 10] [--warmup 2] [--batch-size 32]
//                           [--sequence-length 128] [--json] [--skip-python]
//                           [--skip-node] [--max-minutes M]
//
// Python: /usr/bin/python3 unless env PYTHON names another interpreter (it
// needs torch). The two halves run one after the other, never at once, so
// they do not compete for cores.
//
// The batches are made once, by the package (MaskedLMCorpus over the text
// with the BabyLM tokenizer: packed, shuffled, masked), and reach Python
// through one file in a temporary directory (removed at the end), the format
// "ltgbert-mlm-batches" that bench/pytorch/batch_file.py describes:
// writePretrainFile writes it, pretrain_bench.py reads it.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  ADAMW,
  OPTION,
  PRESETS,
  ROOT,
  TOKENIZER,
  batchesBenchOptions,
  addRates,
  finish,
  flopCounts,
  formatShare,
  limitLine,
  loadPackageOrReport,
  matmulLimit,
  measureBatchesPreset,
  median,
  positiveInteger,
  prepareOrReport,
  progressReporter,
  ratioLine,
  reportTail,
  runMain,
  shown,
  sideTable,
  startBench,
  writeBatchFile,
} from "./common.mjs";

// WikiText-2's validation split, which the repository carries in data/corpus
// (held out from the default model's pretraining)
const DATA = join(ROOT, "data", "corpus", "wikitext-2-valid.txt");
// MaskedLMCorpus's seed (shuffling and masking) and mask share: the CLI's defaults
const SEED = 42;
const MASK_PROBABILITY = 0.15;
// `ltgbert pretrain`'s optimizer defaults; the rest is common.mjs's ADAMW
const LEARNING_RATE = 1e-3;
const WARMUP_RATIO = 0.06;
const IGNORE_INDEX = -100;

/** Positions a batch's labels score (not -100): where the head runs. */
const scoredCount = (b) => b.labels.data.reduce((n, l) => n + (l === -100 ? 0 : 1), 0);

// The matmul FLOPs of the timed steps (mlm_train_step_flops in
// bench/pytorch/flops.py): the masked LM's forward (encoder layers, and the
// head on the S scored positions only), times 3 for the backward.
function timedStepsFlops(config, prep, opts) {
  const requests = prep.batches.slice(opts.warmup).map((b) => {
    const [batch, seq] = b.inputIds.shape;
    return { kind: "mlm_train_step", config, batch, seq, scored: scoredCount(b) };
  });
  return flopCounts(requests).reduce((sum, f) => sum + f, 0);
}

// ---------------------------------------------------------------- the batches

// W + N batches of the stream, epoch after epoch if the text runs out.
async function prepareBatches(api, files, opts) {
  const t0 = performance.now();
  const tokenizer = await api.Tokenizer.fromPretrained(TOKENIZER);
  const corpus = await api.MaskedLMCorpus.open(files, tokenizer, {
    sequenceLength: opts.sequenceLength,
    batchSize: opts.batchSize,
    seed: SEED,
    maskProbability: MASK_PROBABILITY,
  });
  const wanted = opts.warmup + opts.steps;
  const batches = [];
  for (let epoch = 0; batches.length < wanted; epoch++) {
    for await (const b of corpus.batches(api.MaskedLMCorpus.start(epoch))) {
      batches.push({ inputIds: b.inputIds, attentionMask: b.attentionMask, labels: b.labels });
      if (batches.length === wanted) break;
    }
  }
  const count = (list, f) => list.reduce((sum, b) => sum + f(b), 0);
  const ones = (b) => b.attentionMask.data.reduce((s, m) => s + m, 0);
  const masked = (b) => b.labels.data.reduce((s, l) => s + (l !== IGNORE_INDEX ? 1 : 0), 0);
  const timed = batches.slice(opts.warmup);
  return {
    files,
    batches,
    tokens: count(timed, ones),
    maskedTokens: count(timed, masked),
    paddedTokens: count(timed, (b) => b.inputIds.data.length),
    sequences: count(timed, (b) => b.inputIds.shape[0]),
    seconds: (performance.now() - t0) / 1000,
  };
}

// Where the batches came from: in the batches file's header and in the report.
const provenance = (prep, opts) => ({
  data: prep.files,
  tokenizer: TOKENIZER,
  batch_size: opts.batchSize,
  sequence_length: opts.sequenceLength,
  seed: SEED,
  mask_probability: MASK_PROBABILITY,
});

function optimizerFor(opts) {
  const totalSteps = opts.warmup + opts.steps;
  return {
    ...ADAMW,
    learningRate: LEARNING_RATE,
    schedule: { kind: "linear", warmupSteps: Math.ceil(WARMUP_RATIO * totalSteps), totalSteps },
  };
}

function writePretrainFile(path, prep, opts) {
  const optimizer = optimizerFor(opts);
  const header = {
    format: "ltgbert-mlm-batches",
    version: 1,
    shapes: prep.batches.map((b) => b.inputIds.shape),
    warmup: opts.warmup,
    learning_rate: optimizer.learningRate,
    betas: optimizer.betas,
    eps: optimizer.eps,
    weight_decay: optimizer.weightDecay,
    max_grad_norm: optimizer.maxGradNorm,
    warmup_steps: optimizer.schedule.warmupSteps,
    total_steps: optimizer.schedule.totalSteps,
    ...provenance(prep, opts),
  };
  const arrays = [];
  for (const part of ["inputIds", "attentionMask", "labels"]) for (const b of prep.batches) arrays.push(b[part].data);
  writeBatchFile(path, header, arrays);
}

// ---------------------------------------------------------------- the two halves

async function nodePretrain(api, config, prep, opts, deadline, progress) {
  const model = await api.LtgBertForMaskedLM.fromConfig(config);
  try {
    const optimizer = model.createOptimizer(optimizerFor(opts));
    const losses = [];
    const times = [];
    const report = progressReporter(progress, prep.batches.length, "steps", performance.now());
    for (let i = 0; i < prep.batches.length; i++) {
      const t0 = performance.now();
      const r = await model.trainStep(prep.batches[i], optimizer);
      const now = performance.now();
      if (i >= opts.warmup) times.push((now - t0) / 1000);
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm))
        throw new Error(`step ${i + 1}: loss ${r.loss}, grad norm ${r.gradNorm}`);
      losses.push(r.loss);
      if (now > deadline) throw new Error(`out of time after ${i + 1} of ${prep.batches.length} steps (--max-minutes)`);
      report(i + 1, now);
    }
    return {
      seconds_all: times,
      seconds_timed: times.reduce((a, b) => a + b, 0),
      seconds_per_step_median: median(times),
      losses,
    };
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const bench = startBench(
    "pretrain.mjs",
    batchesBenchOptions("FILE.txt", {
      steps: { arg: "N", default: 10, parse: positiveInteger },
      warmup: OPTION.warmup,
      "batch-size": { arg: "B", default: 32, parse: positiveInteger },
      "sequence-length": { arg: "T", default: 128, parse: positiveInteger },
    }),
  );
  const { opts, left, log, errors } = bench;
  if (opts.sequenceLength < 3) {
    console.error("error: --sequence-length needs at least 3 ([CLS], a token, [SEP])");
    return 2;
  }

  // The package makes the batches for both halves, so without dist/ neither can run.
  const api = await loadPackageOrReport(opts.threads);
  if (!api) return 1;
  let limit = null;
  if (!opts.skipPython) {
    try {
      limit = await matmulLimit(opts.threads, Number.isFinite(left()) ? left() : 120_000);
    } catch (e) {
      errors.push(`matmul rate: ${e.message}`);
    }
  }

  const files = [opts.data ?? DATA];
  const prep = await prepareOrReport(() => prepareBatches(api, files, opts));
  if (!prep) return 1;
  const optimizer = optimizerFor(opts);
  const dir = mkdtempSync(join(tmpdir(), "ltgbert-pretrain-"));
  const batchFile = join(dir, "batches.bin");

  log(
    `LTG-BERT masked-LM pretraining steps (forward with logits at the masked positions + masked-token cross-entropy + ` +
      `backward + clip + AdamW, dropout 0.1), batch ${opts.batchSize} x ${opts.sequenceLength}, ${opts.threads} thread(s)`,
  );
  log(
    `data: ${prep.files.map(shown).join(", ")}, tokenizer ${shown(TOKENIZER)}, seed ${SEED}, ` +
      `${100 * MASK_PROBABILITY}% masked; ${opts.warmup} untimed + ${opts.steps} timed steps, the same batches on both sides`,
  );
  log(
    `timed batches: ${prep.sequences.toLocaleString("en")} sequences, ${prep.tokens.toLocaleString("en")} tokens ` +
      `(${prep.paddedTokens.toLocaleString("en")} with padding), ${prep.maskedTokens.toLocaleString("en")} masked; ` +
      `made in ${prep.seconds.toFixed(2)} s (not timed)`,
  );
  if (limit) log(limitLine(limit, opts.threads));

  try {
    writePretrainFile(batchFile, prep, opts);
    for (const preset of opts.presets) {
      const config = PRESETS[preset];
      const flops = timedStepsFlops(config, prep, opts);
      const row = { preset, config, flops, node: null, python: null };
      const ran = await measureBatchesPreset(bench, preset, row, {
        node: (deadline, progress) => nodePretrain(api, config, prep, opts, deadline, progress),
        script: "pytorch/pretrain_bench.py",
        batchFile,
        expected: [
          ["timed", opts.steps],
          ["tokens", prep.tokens],
          ["masked_tokens", prep.maskedTokens],
          ["padded_tokens", prep.paddedTokens],
          ["flops", flops],
        ],
        mismatch: (key, theirs, ours) => `${preset}: python counted ${theirs} ${key}, node ${ours}`,
        keep: (py) => ({
          seconds_all: py.seconds_all,
          seconds_timed: py.seconds_timed,
          seconds_per_step_median: py.seconds_per_step_median,
          losses: py.losses,
          torch_version: py.torch_version,
        }),
      });
      if (!ran) continue;
      for (const side of [row.node, row.python]) {
        if (!side) continue;
        side.seconds_per_step_mean = side.seconds_timed / opts.steps;
        side.tokens_per_s = prep.tokens / side.seconds_timed;
        side.masked_tokens_per_s = prep.maskedTokens / side.seconds_timed;
        side.sequences_per_s = prep.sequences / side.seconds_timed;
        addRates(side, flops, side.seconds_timed, limit);
      }
      if (row.node && row.python) row.ratio = row.python.seconds_timed / row.node.seconds_timed;

      log(
        `\n${preset}: ${(flops / opts.steps / 1e9).toFixed(2)} GFLOP per step (vocabulary projection at the masked positions included)`,
      );
      log(
        sideTable(
          [
            ["s/step mean", 11],
            ["median", 7],
            ["tokens/s", 9],
            ["masked/s", 9],
            ["GFLOP/s", 8],
            ["share of limit", 15],
            ["loss first -> last", 19],
          ],
          (x) => [
            x.seconds_per_step_mean.toFixed(3),
            x.seconds_per_step_median.toFixed(3),
            x.tokens_per_s.toFixed(0),
            x.masked_tokens_per_s.toFixed(0),
            x.gflops_per_s.toFixed(1),
            formatShare(x.share_of_limit),
            `${x.losses[0].toFixed(3)} -> ${x.losses.at(-1).toFixed(3)}`,
          ],
          row.node,
          row.python,
        ),
      );
      log(ratioLine(row.ratio));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const report = {
    ...provenance(prep, opts),
    warmup: opts.warmup,
    steps: opts.steps,
    sequences: prep.sequences,
    tokens: prep.tokens,
    masked_tokens: prep.maskedTokens,
    padded_tokens: prep.paddedTokens,
    batch_seconds: prep.seconds,
    threads: opts.threads,
    optimizer,
    ...reportTail({ ...bench, limit }),
  };
  return finish(report, opts.json);
}

runMain(main);
