#!/usr/bin/env node
// Sentence-embedding throughput: this package's `embed` (mean pooling) on
// the bare encoder against the same encoder in PyTorch eager
// (reference/ltg_bert.py) and in ONNX Runtime (onnxruntime-node, CPU, the
// reference exported with torch.onnx.export), on the same tokenized
// sentences, the same weights and the same thread count, one after the
// other. Reports sentences per second and the ratios, and checks that the
// three give the same vectors. See bench/README.md.
//
//   node bench/embed.mjs [--threads 2] [--runs 3] [--warmup 1] [--presets base]
//                        [--sentences 128] [--batch-size 32] [--json]
//                        [--skip-python] [--skip-node] [--skip-onnx] [--max-minutes 20]
//
// The PyTorch half comes first: it builds the model (the reference's seeded
// init) and writes the weights and model.onnx that the other two load, so
// --skip-python leaves Node on its own random init and ONNX Runtime out.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  OPTION,
  PRESETS,
  ROOT,
  TOKENIZER,
  describeError,
  finish,
  loadPackage,
  median,
  positiveInteger,
  presetConfigJson,
  reportTail,
  runMain,
  runPython,
  shown,
  startBench,
  timeRuns,
  writeBatchFile,
} from "./common.mjs";

const DATA = join(ROOT, "test", "fixtures", "sst2", "dev.tsv");
const ORT_LABEL = "onnxruntime (cpu)";
// The most the three sides' vectors may differ (absolute, float32 at the
// base size): a wrong pooling or a wrong load differs by far more.
const AGREEMENT = 1e-3;

const OPTIONS = {
  threads: OPTION.threads,
  runs: { ...OPTION.runs, default: 3 },
  warmup: { ...OPTION.warmup, default: 1 },
  presets: { ...OPTION.presets, default: ["base"] },
  sentences: { arg: "N", default: 128, parse: positiveInteger },
  "batch-size": { arg: "B", default: 32, parse: positiveInteger },
  json: OPTION.json,
  "skip-python": OPTION["skip-python"],
  "skip-node": OPTION["skip-node"],
  "skip-onnx": {},
  "max-minutes": { ...OPTION["max-minutes"], default: 20 },
};

// ---------------------------------------------------------------- inputs

/** The first n SST-2 dev sentences (872 at most), as the tests' fixture has them. */
function readSentences(n) {
  const rows = readFileSync(DATA, "utf8").split("\n").slice(1).filter(Boolean);
  if (n > rows.length) throw new Error(`--sentences ${n}: ${shown(DATA)} has ${rows.length}`);
  return rows.slice(0, n).map((line) => line.split("\t")[0]);
}

/**
 * The sentences as `embed` batches them: encoded, longest first, padded per
 * batch of batchSize. `order[k]` is the sentence in row k of the batches.
 */
async function planBatches(api, sentences, batchSize, maxLength) {
  const tokenizer = await api.Tokenizer.fromPretrained(TOKENIZER);
  const ragged = await tokenizer.encodeBatch(sentences, { maxLength, truncation: false, padding: "none" });
  const order = sentences.map((_, i) => i).sort((a, b) => ragged.lengths[b] - ragged.lengths[a]);
  const batches = [];
  for (let start = 0; start < order.length; start += batchSize) {
    batches.push(tokenizer.pad(ragged, order.slice(start, start + batchSize)));
  }
  return { tokenizer, order, batches, tokens: ragged.ids.length };
}

function writeEmbedFile(path, batches, header) {
  writeBatchFile(
    path,
    { format: "ltgbert-embed-batches", version: 1, shapes: batches.map((b) => b.inputIds.shape), ...header },
    [...batches.map((b) => b.inputIds.data), ...batches.map((b) => b.attentionMask.data)],
  );
}

/** Largest |a - b| between the vectors of `a` (rows in batch order) and `b`. */
function maxDiff(a, b) {
  if (!a || !b || a.length !== b.length) return null;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) || (a[i] === b[i] ? 0 : Infinity));
  return m;
}

/** Rows of `vectors` (sentence order) put into batch order. */
function inBatchOrder(vectors, order, width) {
  const out = new Float32Array(vectors.length);
  order.forEach((sentence, k) => out.set(vectors.subarray(sentence * width, (sentence + 1) * width), k * width));
  return out;
}

// ---------------------------------------------------------------- the sides

/**
 * The bare encoder where the package has one (`LtgBertModel` with
 * `fromPretrained`), else a sequence classifier, whose head reads the first
 * token only: both run the same encoder.
 */
async function loadEncoder(api, dir, config) {
  const Encoder = typeof api.LtgBertModel?.fromPretrained === "function" ? api.LtgBertModel : null;
  if (dir === null) {
    return Encoder
      ? Encoder.fromConfig({ ...config })
      : api.LtgBertForSequenceClassification.fromConfig({ ...config }, { numLabels: 2 });
  }
  return Encoder
    ? Encoder.fromPretrained(dir, { tokenizer: false })
    : api.LtgBertForSequenceClassification.fromPretrained(dir, { strict: false, numLabels: 2, tokenizer: false });
}

async function nodeSide(api, plan, sentences, dir, config, opts, deadline) {
  const model = await loadEncoder(api, dir, config);
  try {
    model.tokenizer = plan.tokenizer;
    const batchSize = opts.batchSize;
    const width = config.hidden_size;
    const fromTexts = () => model.embed(sentences, { batchSize });
    const fromIds = async () => {
      const out = new Float32Array(sentences.length * width);
      let row = 0;
      for (const b of plan.batches) {
        const v = await model.embed({ inputIds: b.inputIds, attentionMask: b.attentionMask }, { batchSize });
        out.set(v.data, row * width);
        row += v.shape[0];
      }
      return out;
    };
    const vectors = inBatchOrder((await fromTexts()).data, plan.order, width);
    const idsVectors = await fromIds();
    const half = performance.now() + (deadline - performance.now()) / 2;
    for (let i = 0; i < opts.warmup; i++) await fromIds();
    const idsTimes = await timeRuns(opts.runs, half, fromIds);
    const textTimes = await timeRuns(opts.runs, deadline, fromTexts);
    return {
      model: model.constructor.name,
      vectors,
      ids_vs_texts_max_abs_diff: maxDiff(vectors, idsVectors),
      seconds_per_pass_median: median(idsTimes),
      runs: idsTimes.length,
      seconds_all: idsTimes,
      texts: { seconds_per_pass_median: median(textTimes), runs: textTimes.length, seconds_all: textTimes },
    };
  } finally {
    model.dispose();
  }
}

async function onnxSide(file, plan, opts, deadline) {
  let ort;
  try {
    ort = (await import("onnxruntime-node")).default;
  } catch (e) {
    throw new Error(
      `onnxruntime-node does not load (npm run bench:onnxruntime installs it; see bench/README.md): ${e.message}`,
    );
  }
  const session = await ort.InferenceSession.create(file, {
    executionProviders: ["cpu"],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  try {
    // The exported graph takes int64, as the PyTorch model does; converting
    // the ids is input preparation and stays out of the timing.
    const feeds = plan.batches.map((b) => ({
      input_ids: new ort.Tensor("int64", BigInt64Array.from(b.inputIds.data, BigInt), b.inputIds.shape),
      attention_mask: new ort.Tensor("int64", BigInt64Array.from(b.attentionMask.data, BigInt), b.attentionMask.shape),
    }));
    const onePass = async () => {
      const outs = [];
      for (const feed of feeds) outs.push((await session.run(feed)).embeddings);
      return outs;
    };
    const first = await onePass();
    const vectors = new Float32Array(first.reduce((n, t) => n + t.data.length, 0));
    let at = 0;
    for (const t of first) {
      vectors.set(t.data, at);
      at += t.data.length;
    }
    for (let i = 0; i < opts.warmup; i++) await onePass();
    const times = await timeRuns(opts.runs, deadline, onePass);
    return {
      vectors,
      seconds_per_pass_median: median(times),
      runs: times.length,
      seconds_all: times,
      onnxruntime_version: ort.env.versions?.node ?? null,
    };
  } finally {
    await session.release();
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const bench = { ...startBench("embed.mjs", OPTIONS), api: null, limit: null };
  const { opts, log, errors } = bench;
  try {
    bench.api = await loadPackage(opts.threads);
  } catch (e) {
    // The Node side tokenizes for all three: without the package, nothing runs.
    errors.push(`node: ${e.message}`);
    return finish({ ...reportTail(bench) }, opts.json);
  }
  const sentences = readSentences(opts.sentences);
  log(
    `LTG-BERT sentence embeddings (mean pooling), ${sentences.length} SST-2 dev sentences, batches of ` +
      `${opts.batchSize} longest first, ${opts.threads} thread(s), median of ${opts.runs} passes after ${opts.warmup} warm-up`,
  );

  for (const preset of opts.presets) {
    const config = PRESETS[preset];
    const row = { preset, config, sentences: sentences.length, batch_size: opts.batchSize, threads: opts.threads };
    bench.results.push(row);
    const work = mkdtempSync(join(tmpdir(), "ltgbert-bench-embed-"));
    try {
      const plan = await planBatches(bench.api, sentences, opts.batchSize, config.max_position_embeddings);
      row.tokens = plan.tokens;
      row.padded_tokens = plan.batches.reduce((n, b) => n + b.inputIds.data.length, 0);
      const sides = (opts.skipPython ? 0 : 1) + (opts.skipNode ? 0 : 1) + (opts.skipOnnx || opts.skipPython ? 0 : 1);
      const remaining = opts.presets.length - opts.presets.indexOf(preset);
      const share = () => bench.left() / remaining / Math.max(1, sides);

      let dir = null;
      if (!opts.skipPython) {
        const batchFile = join(work, "batches.bin");
        writeEmbedFile(batchFile, plan.batches, {
          data: shown(DATA),
          tokenizer: shown(TOKENIZER),
          sentences: sentences.length,
          batch_size: opts.batchSize,
        });
        const timeoutMs = share();
        try {
          const py = await runPython(
            "pytorch/embed_bench.py",
            [
              ...["--batches", batchFile, "--out", work, "--config", presetConfigJson(preset)],
              ...["--threads", String(opts.threads), "--runs", String(opts.runs), "--warmup", String(opts.warmup)],
              ...["--max-seconds", String(Math.max(5, timeoutMs / 1000 / 2))],
              ...(opts.skipOnnx ? ["--skip-onnx"] : []),
            ],
            { timeoutMs },
          );
          row.python = py;
          row.python.vectors = new Float32Array(readFileSync(join(work, "pytorch_embeddings.f32")).buffer.slice(0));
          dir = work;
        } catch (e) {
          errors.push(`${preset} python: ${e.message}`);
        }
      }
      if (!opts.skipNode) {
        try {
          row.node = await nodeSide(bench.api, plan, sentences, dir, config, opts, performance.now() + share());
        } catch (e) {
          errors.push(`${preset} node: ${describeError(e)}`);
        }
      }
      if (dir !== null && !opts.skipOnnx) {
        try {
          row.onnx = await onnxSide(join(work, "model.onnx"), plan, opts, performance.now() + share());
        } catch (e) {
          errors.push(`${preset} onnxruntime: ${e.message}`);
        }
      }
      report(bench, row, dir !== null);
    } catch (e) {
      errors.push(`${preset}: ${describeError(e)}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  const out = {
    sentences: sentences.length,
    batch_size: opts.batchSize,
    threads: opts.threads,
    runs: opts.runs,
    warmup: opts.warmup,
    ...reportTail(bench),
  };
  return finish(out, opts.json);
}

/** Rates, ratios and agreement of one preset: printed, and kept in the row for --json. */
function report(bench, row, sameWeights) {
  const { log, errors } = bench;
  const rate = (side) => (side ? row.sentences / side.seconds_per_pass_median : null);
  const sides = [
    ["node (ltgbert), ids", row.node],
    ["node (ltgbert), texts", row.node?.texts],
    ["pytorch (eager)", row.python],
    [ORT_LABEL, row.onnx],
  ];
  for (const [, side] of sides) if (side) side.sentences_per_s = rate(side);
  const ratio = (a, b) => (a?.sentences_per_s && b?.sentences_per_s ? a.sentences_per_s / b.sentences_per_s : null);
  row.ratios = {
    node_over_pytorch: ratio(row.node, row.python),
    node_over_onnxruntime: ratio(row.node, row.onnx),
    node_texts_over_pytorch: ratio(row.node?.texts, row.python),
    onnxruntime_over_pytorch: ratio(row.onnx, row.python),
  };
  // Same weights, same batches: the vectors must agree.
  row.agreement = sameWeights
    ? {
        node_vs_pytorch: maxDiff(row.node?.vectors, row.python?.vectors),
        onnxruntime_vs_pytorch: maxDiff(row.onnx?.vectors, row.python?.vectors),
        node_ids_vs_texts: row.node?.ids_vs_texts_max_abs_diff ?? null,
      }
    : null;
  for (const [name, d] of Object.entries(row.agreement ?? {})) {
    if (d !== null && !(d <= AGREEMENT)) errors.push(`${row.preset}: vectors differ, ${name} max |diff| ${d}`);
  }
  for (const side of [row.node, row.python, row.onnx]) if (side) delete side.vectors;

  const fmt = (x) => (x == null ? "n/a" : `${x.toFixed(2)}x`);
  log(
    `\n${row.preset}: ${row.tokens} tokens (${row.padded_tokens} with padding) in ` +
      `${Math.ceil(row.sentences / row.batch_size)} batches`,
  );
  for (const [label, side] of sides) {
    const cell = side
      ? `${side.sentences_per_s.toFixed(1).padStart(8)} sentences/s  (${side.seconds_per_pass_median.toFixed(3)} s/pass, ${side.runs} runs)`
      : "     n/a";
    log(`  ${label.padEnd(24)}${cell}`);
  }
  log(
    `  ratio node / pytorch: ${fmt(row.ratios.node_over_pytorch)}; node / onnxruntime: ${fmt(row.ratios.node_over_onnxruntime)}` +
      `; node from texts / pytorch: ${fmt(row.ratios.node_texts_over_pytorch)} (> 1: node faster)`,
  );
  if (row.agreement) {
    const d = (x) => (x == null ? "n/a" : x.toExponential(1));
    log(
      `  vectors agree: node vs pytorch ${d(row.agreement.node_vs_pytorch)}, onnxruntime vs pytorch ` +
        `${d(row.agreement.onnxruntime_vs_pytorch)}, node ids vs texts ${d(row.agreement.node_ids_vs_texts)} (max |diff|)`,
    );
  }
}

runMain(main);
