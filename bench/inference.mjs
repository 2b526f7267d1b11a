#!/usr/bin/env node
// Inference benchmark: this package's LtgBertForMaskedLM forward against the
// PyTorch eager reference (reference/ltg_bert.py), same config, same
// batch (8 x 128 random ids, full attention mask), same thread count, one
// command. The Node side is timed twice: forwards that return new arrays
// (the default) and forwards into the same caller-owned arrays (forward's
// `out` option). See bench/README.md for what the figures mean.
//
//   node bench/inference.mjs [--threads 2] [--runs 5] [--warmup 2]
//                            [--presets mini,base] [--json]
//                            [--skip-python] [--skip-node] [--max-minutes 20]
//
// Python: /usr/bin/python3 unless env PYTHON names another interpreter (it
// needs torch). The two halves run one after the other, never at once, so
// they do not compete for cores.

import {
  NODE_LABEL,
  addRates,
  PRESETS,
  PYTHON_LABEL,
  flopCounts,
  finish,
  formatShare,
  limitLine,
  measurePreset,
  median,
  randomBatch,
  reportTail,
  runMain,
  startRepeatedBench,
  timeRuns,
} from "./common.mjs";

const BATCH = 8;
const SEQ = 128;
const NODE_INTO_LABEL = "node, out arrays";

// ---------------------------------------------------------------- the two halves

async function nodeForward(api, config, opts, deadline) {
  const n = BATCH * SEQ;
  const { inputIds, attentionMask } = randomBatch(config.vocab_size, BATCH, SEQ);
  const model = await api.LtgBertForMaskedLM.fromConfig({ ...config });
  try {
    const check = (out) => {
      const l = out?.logits;
      const want = [BATCH, SEQ, config.vocab_size];
      if (
        !l ||
        !(l.data instanceof Float32Array) ||
        JSON.stringify(l.shape) !== JSON.stringify(want) ||
        l.data.length !== want[0] * want[1] * want[2]
      ) {
        throw new Error(
          `forward returned logits ${JSON.stringify(l?.shape)} (${l?.data?.constructor?.name}), expected Float32Array ${JSON.stringify(want)}`,
        );
      }
      for (let i = 0; i < l.data.length; i += 4099) {
        if (!Number.isFinite(l.data[i])) throw new Error(`non-finite logit at flat index ${i}`);
      }
    };
    // Each forward returns new result arrays (the default); then each writes
    // into the same caller-owned arrays (forward's `out` option), which
    // allocates nothing and so sets off no collection in V8.
    const fresh = () => model.forward({ inputIds, attentionMask });
    const out = {
      logits: new Float32Array(n * config.vocab_size),
      lastHiddenState: new Float32Array(n * config.hidden_size),
    };
    const into = () => model.forward({ inputIds, attentionMask }, { out });
    const split = (deadline - performance.now()) / 2;
    for (let i = 0; i < opts.warmup; i++) check(await fresh());
    const times = await timeRuns(opts.runs, performance.now() + split, fresh, check);
    for (let i = 0; i < opts.warmup; i++) check(await into());
    const intoTimes = await timeRuns(opts.runs, deadline, into, check);
    return {
      seconds_per_batch_median: median(times),
      runs: times.length,
      seconds_all: times,
      into: { seconds_per_batch_median: median(intoTimes), runs: intoTimes.length, seconds_all: intoTimes },
    };
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const bench = await startRepeatedBench("inference.mjs", 20);
  const { opts, log, limit } = bench;
  log(
    `LTG-BERT masked-LM forward, batch ${BATCH} x ${SEQ}, full attention mask, ${opts.threads} thread(s), ` +
      `median of ${opts.runs} after ${opts.warmup} warm-up`,
  );
  if (limit) log(limitLine(limit, opts.threads));

  for (const preset of opts.presets) {
    const config = PRESETS[preset];
    const [flops] = flopCounts([{ kind: "forward", config, batch: BATCH, seq: SEQ }]);
    const row = await measurePreset(bench, preset, {
      batch: BATCH,
      seq: SEQ,
      flops,
      seconds: "seconds_per_batch_median",
      node: (deadline) => nodeForward(bench.api, config, opts, deadline),
      python: { script: "pytorch/forward_bench.py" },
      pythonFields: ["seconds_per_batch_median", "runs", "seconds_all", "torch_version", "grad_mode"],
    });
    if (!row) continue;

    const s = (x) => (x == null ? "n/a" : `${x.seconds_per_batch_median.toFixed(4)} s/batch (${x.runs} runs)`);
    const line = (label, x) =>
      `  ${label.padEnd(18)}${s(x)}   ${x ? x.gflops_per_s.toFixed(1) + " GFLOP/s" : ""}   ` +
      `share of limit ${formatShare(x?.share_of_limit)}`;
    log(`\n${preset}: ${(flops / 1e9).toFixed(2)} GFLOP per forward`);
    const into = row.node?.into;
    if (into) addRates(into, flops, into.seconds_per_batch_median, bench.limit);
    const intoSpeedup = into && row.python ? row.python.seconds_per_batch_median / into.seconds_per_batch_median : null;
    const times = (x) => (x == null ? "n/a" : x.toFixed(2) + "x");
    log(line(NODE_LABEL, row.node));
    log(line(NODE_INTO_LABEL, into));
    log(line(PYTHON_LABEL, row.python));
    log(`  speed-up (pytorch / node): ${times(row.speedup)}; writing into the caller's arrays: ${times(intoSpeedup)}`);
    if (into) into.speedup = intoSpeedup;
  }

  const report = {
    batch: BATCH,
    seq: SEQ,
    threads: opts.threads,
    runs: opts.runs,
    warmup: opts.warmup,
    ...reportTail(bench),
  };
  return finish(report, opts.json);
}

runMain(main);
