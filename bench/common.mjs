// What the benchmark drivers (inference.mjs, train.mjs, epoch.mjs) share: the
// model presets, option parsing, loading the built package, running the
// Python half and reading its JSON line, the machine's matmul limit, the
// watchdog behind --max-minutes, and the table and report formatting.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { endianness } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = dirname(HERE);
export const PYTHON = process.env.PYTHON || "/usr/bin/python3";
export const DIST = join(ROOT, "dist", "index.js");

// The model sizes, from bench/presets.json, which bench/pytorch/common.py reads
// too; the PyTorch benches get the config through --config
// (presetConfigJson), and bench/README.md tabulates them.
export const PRESETS = JSON.parse(readFileSync(join(HERE, "presets.json"), "utf8"));

export const presetConfigJson = (preset) => JSON.stringify({ ...PRESETS[preset], name: preset });

// The optimizer of train.mjs and epoch.mjs, less the schedule;
// bench/pytorch/common.py hard-codes the same values (train_bench.py and
// epoch_bench.py import them from there), so change them together.
export const ADAMW = {
  learningRate: 2e-5,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
};

// ---------------------------------------------------------------- options

class UsageError extends Error {}

// Value parsers for parseOptions: (value, flag) => parsed, or a UsageError
// whose message goes before the usage line.
export function positiveInteger(value, flag) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer, got ${value}`);
  return n;
}

function nonNegativeInteger(value, flag) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} needs an integer >= 0`);
  return n;
}

function positiveNumber(value, flag) {
  const n = Number(value);
  if (!(n > 0)) throw new UsageError(`${flag} needs a positive number`);
  return n;
}

function presetNames(value) {
  const names = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((p) => !Object.hasOwn(PRESETS, p));
  if (bad.length || !names.length)
    throw new UsageError(`unknown preset(s) ${bad.join(",")}; known: ${Object.keys(PRESETS).join(",")}`);
  return names;
}

// The options the drivers have in common, in the order inference.mjs and
// train.mjs list them. An option with `arg` takes a value (`arg` names it in
// the usage line), one without is a switch that defaults to false.
export const OPTION = {
  threads: { arg: "N", default: 2, parse: positiveInteger },
  runs: { arg: "K", default: 5, parse: positiveInteger },
  warmup: { arg: "W", default: 2, parse: nonNegativeInteger },
  presets: { arg: "mini,base", default: ["mini", "base"], parse: presetNames },
  json: {},
  "skip-python": {},
  "skip-node": {},
  "max-minutes": { arg: "M", default: null, parse: positiveNumber },
};

const camel = (flag) => flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

// ---------------------------------------------------------------- batches files

const BATCH_FILE_MAGIC = "LTGBATCH";

// Writes the batches file that hands batches to the Python half (epoch.mjs,
// pretrain.mjs): the container that bench/pytorch/batch_file.py describes
// (and reads), holding `header` and then `arrays` (Int32Arrays) back to back.
export function writeBatchFile(path, header, arrays) {
  if (endianness() !== "LE") throw new Error("the batches file is little-endian; this machine is not");
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (4 - ((BATCH_FILE_MAGIC.length + 4 + json.length) % 4)) % 4;
  json = Buffer.concat([json, Buffer.alloc(pad, " ")]);
  const preamble = Buffer.alloc(BATCH_FILE_MAGIC.length + 4);
  preamble.write(BATCH_FILE_MAGIC, 0, "ascii");
  preamble.writeUInt32LE(json.length, BATCH_FILE_MAGIC.length);
  const body = arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  writeFileSync(path, Buffer.concat([preamble, json, ...body]));
}

// Parses argv against spec = { program: "inference.mjs", options: { "max-minutes":
// { arg, default, parse }, json: {}, ... } } into { maxMinutes, json, ... }.
// node:util parseArgs splits the words (--flag value, --flag=value, -h); the
// words are then checked in order, so the first bad one is the one reported.
// -h/--help prints the usage line; a bad word prints what is wrong and the
// usage line; both exit 2.
export function parseOptions(spec, argv) {
  const usageLine =
    `usage: node bench/${spec.program} ` +
    Object.entries(spec.options)
      .map(([flag, o]) => (o.arg ? `[--${flag} ${o.arg}]` : `[--${flag}]`))
      .join(" ");
  const usage = (msg) => {
    if (msg) console.error(`${spec.program}: ${msg}`);
    console.error(usageLine);
    process.exit(2);
  };
  const config = { help: { type: "boolean", short: "h" } };
  for (const [flag, o] of Object.entries(spec.options)) config[flag] = { type: o.arg ? "string" : "boolean" };
  // strict: false, so that unknown words come back as tokens and get this
  // parser's messages rather than parseArgs' own
  const { tokens } = parseArgs({ args: argv, options: config, strict: false, allowPositionals: true, tokens: true });

  const opts = {};
  for (const [flag, o] of Object.entries(spec.options)) opts[camel(flag)] = o.arg ? o.default : false;
  for (const token of tokens) {
    const word = argv[token.index];
    // "-hx" arrives as -h and -x; the word as a whole is what is unknown
    if (token.kind !== "option" || !Object.hasOwn(config, token.name) || word.split("=")[0] !== token.rawName)
      usage(`unknown option ${word}`);
    if (token.name === "help") usage();
    const o = spec.options[token.name];
    if (!o.arg) {
      opts[camel(token.name)] = true;
      continue;
    }
    if (token.value === undefined) usage(`${token.rawName} needs a value`);
    try {
      opts[camel(token.name)] = o.parse(token.value, token.rawName);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      usage(e.message);
    }
  }
  return opts;
}

// ---------------------------------------------------------------- helpers

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const describeError = (e) => `${e.code ? e.code + ": " : ""}${e.message}`;

// the BabyLM tokenizer the repository carries (16,384 ids, the presets'
// vocabulary): epoch.mjs and pretrain.mjs tokenize with it
export const TOKENIZER = join(ROOT, "test", "fixtures", "tokenizers", "ltg-bert-babylm");

// a path as the benches print it: relative to the repository where inside it
export const shown = (file) => (file.startsWith(ROOT) ? relative(ROOT, file) : file);

// deterministic token ids (xorshift32), so every run of the bench feeds the same batch
export function randomIds(n, vocab, seed = 12345) {
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

// A B x T batch of random ids (randomIds), attention mask all ones.
export function randomBatch(vocab, B, T) {
  const n = B * T;
  return {
    inputIds: { data: randomIds(n, vocab), shape: [B, T] },
    attentionMask: { data: new Int32Array(n).fill(1), shape: [B, T] },
  };
}

// Matmul FLOP counts, from bench/pytorch/flops.py, the only place the
// formulas are written (inference.mjs, train.mjs and pretrain.mjs use them):
// one run of `flops.py --requests`, which needs Python's standard library
// only (no torch), so it runs with --skip-python too. requests: [{ kind:
// "forward" | "train_step" | "mlm_train_step", config, batch, seq, and
// num_labels (train_step) or scored (mlm_train_step) }]; returns each one's
// count.
export function flopCounts(requests) {
  const r = spawnSync(PYTHON, [join(HERE, "pytorch", "flops.py"), "--requests"], {
    cwd: ROOT,
    input: JSON.stringify(requests),
    encoding: "utf8",
  });
  if (r.error || r.status !== 0)
    throw new Error(`${PYTHON} pytorch/flops.py: ${r.error?.message ?? r.stderr.trim().split("\n").pop()}`);
  return JSON.parse(r.stdout);
}

// Times `runs` calls of step, in seconds each, stopping early once past
// deadline (a performance.now() value); check sees each result, untimed.
export async function timeRuns(runs, deadline, step, check = () => {}) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const result = await step();
    times.push((performance.now() - t0) / 1000);
    check(result);
    if (performance.now() > deadline) break;
  }
  return times;
}

// Imports dist/index.js and sets its thread count; throws with what to do
// when the package is not built or does not load.
export async function loadPackage(threads) {
  if (!existsSync(DIST)) throw new Error(`${DIST} not found; build the package first (npm run build)`);
  try {
    const api = await import(pathToFileURL(DIST).href);
    api.setNumThreads(threads);
    return api;
  } catch (e) {
    throw new Error(`loading dist/index.js failed: ${e.message}`);
  }
}

// ---------------------------------------------------------------- child processes

let currentChild = null;

// Runs a child to its end; with onStderrLine, hands over each stderr line as
// it arrives. timeoutMs null: no limit.
function run(cmd, args, timeoutMs, onStderrLine) {
  return new Promise((resolve) => {
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
      resolve({ code: -1, stdout, stderr: String(err), timedOut });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      currentChild = null;
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

const PROGRESS = "progress: ";

// Runs bench/<script> under PYTHON and returns the last JSON line of its
// stdout. timeoutMs null: no limit; limitNote goes into the message when the
// limit is passed. Stderr lines starting "progress: " go to onProgress (the
// rest of the line) and stay out of the error message.
export async function runPython(script, args, { timeoutMs = null, limitNote = null, onProgress = null } = {}) {
  const r = await run(
    PYTHON,
    [join(HERE, script), ...args],
    timeoutMs,
    onProgress && ((l) => l.startsWith(PROGRESS) && onProgress(l.slice(PROGRESS.length))),
  );
  if (r.timedOut)
    throw new Error(
      `${script} passed its time limit (${Math.round(timeoutMs / 1000)} s${limitNote ? `, ${limitNote}` : ""})`,
    );
  const line = r.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (r.code !== 0 || !line) {
    const tail = (r.stderr || r.stdout)
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith(PROGRESS))
      .slice(-3)
      .join(" | ");
    throw new Error(`${PYTHON} ${script} exited ${r.code}: ${tail}`);
  }
  return JSON.parse(line);
}

// The arguments forward_bench.py and train_bench.py both take: the preset,
// the batch, threads, runs and warm-up, and half the child's time limit as
// their own bound on the timed loop.
function repeatedStepArgs(preset, { batch, seq }, opts, timeoutMs) {
  return [
    "--config",
    presetConfigJson(preset),
    "--batch",
    String(batch),
    "--seq",
    String(seq),
    "--threads",
    String(opts.threads),
    "--runs",
    String(opts.runs),
    "--warmup",
    String(opts.warmup),
    "--max-seconds",
    String(Math.max(5, timeoutMs / 1000 / 2)),
  ];
}

// Hard bound behind --max-minutes: a native call that never returns cannot
// be interrupted from JS, so past the deadline (plus a grace period) the
// process kills its Python child, if any, and ends itself. maxMinutes null:
// no bound.
export function startWatchdog(maxMinutes) {
  if (maxMinutes === null) return;
  const watchdog = setTimeout(
    () => {
      console.error(`error: still running ${maxMinutes} min + 60 s after the start; giving up (--max-minutes)`);
      if (currentChild) currentChild.kill("SIGKILL");
      process.exit(1);
    },
    maxMinutes * 60_000 + 60_000,
  );
  watchdog.unref();
}

// ---------------------------------------------------------------- the matmul limit

// The machine's float32 torch.mm rate at this thread count
// (bench/matmul_rate.py), the yardstick for "share of limit"; at most two
// minutes of timeLeftMs.
export const matmulLimit = (threads, timeLeftMs) =>
  runPython("matmul_rate.py", ["--threads", String(threads)], { timeoutMs: Math.min(120_000, timeLeftMs) });

export const limitLine = (limit, threads) =>
  `matmul limit: ${limit.gflops_limit.toFixed(1)} GFLOP/s (float32 torch.mm, ${threads} threads, ` +
  `square ${JSON.stringify(limit.square)})`;

// the limit as the --json reports carry it
export const limitReport = (limit) =>
  limit && {
    gflops: limit.gflops_limit,
    square: limit.square,
    blas: limit.blas,
    torch_version: limit.torch_version,
  };

// Adds gflops_per_s and, given a limit, share_of_limit to one side's result.
export function addRates(side, flops, seconds, limit) {
  side.gflops_per_s = flops / seconds / 1e9;
  if (limit) side.share_of_limit = side.gflops_per_s / limit.gflops_limit;
}

export const formatShare = (share) => (share == null ? "n/a" : `${(100 * share).toFixed(1)}%`);

// The start of every bench: its options parsed, the clock and the
// deadline, a log that --json silences, and the watchdog.
export function startBench(program, options) {
  const opts = parseOptions({ program, options }, process.argv.slice(2));
  const start = performance.now();
  const deadline = opts.maxMinutes === null ? Infinity : start + opts.maxMinutes * 60_000;
  startWatchdog(opts.maxMinutes);
  return {
    opts,
    start,
    deadline,
    left: () => deadline - performance.now(),
    log: (...a) => {
      if (!opts.json) console.log(...a);
    },
    errors: [],
    results: [],
  };
}

// ---------------------------------------------------------------- inference.mjs and train.mjs

// The start of a run that times one step (a forward, a training step) on
// both sides: the options, the time budget, the watchdog, the package
// (unless --skip-node) and the matmul limit (unless --skip-python). What
// fails goes into bench.errors, for the report.
export async function startRepeatedBench(program, maxMinutes) {
  const bench = {
    ...startBench(program, { ...OPTION, "max-minutes": { ...OPTION["max-minutes"], default: maxMinutes } }),
    api: null,
    limit: null,
  };
  const { opts } = bench;
  if (!opts.skipNode) {
    try {
      bench.api = await loadPackage(opts.threads);
    } catch (e) {
      bench.errors.push(`node: ${e.message}`);
    }
  }
  if (!opts.skipPython) {
    try {
      bench.limit = await matmulLimit(opts.threads, bench.left());
    } catch (e) {
      bench.errors.push(`matmul rate: ${e.message}`);
    }
  }
  return bench;
}

// Measures one preset on both sides within its share of the time left (half
// of it each side) and adds the row to bench.results: node(deadline) times
// the step, and so does python.script (forward_bench.py, train_bench.py) with
// repeatedStepArgs and python.args; the row keeps pythonFields of what
// Python reports. seconds names the median both report; with it come GFLOP/s,
// share of the limit and the speed-up. Returns the row, or null when no time
// was left to start.
export async function measurePreset(bench, preset, { batch, seq, flops, seconds, node, python, pythonFields }) {
  const { opts, errors } = bench;
  const row = { preset, config: PRESETS[preset], batch, seq, threads: opts.threads, flops, node: null, python: null };
  bench.results.push(row);
  const remaining = opts.presets.length - opts.presets.indexOf(preset);
  const share = bench.left() / remaining / 2;
  if (share < 5000) {
    errors.push(`${preset}: out of time (--max-minutes ${opts.maxMinutes})`);
    return null;
  }
  if (bench.api) {
    try {
      row.node = await node(performance.now() + share * 0.8);
    } catch (e) {
      errors.push(`${preset} node: ${describeError(e)}`);
    }
  }
  if (!opts.skipPython) {
    try {
      const py = await runPython(
        python.script,
        [...repeatedStepArgs(preset, { batch, seq }, opts, share), ...(python.args ?? [])],
        { timeoutMs: share },
      );
      if (py.flops !== flops)
        errors.push(`${preset}: FLOP count differs, node bench ${flops} vs python bench ${py.flops}`);
      row.python = Object.fromEntries(pythonFields.map((k) => [k, py[k]]));
    } catch (e) {
      errors.push(`${preset} python: ${e.message}`);
    }
  }
  for (const side of [row.node, row.python]) if (side) addRates(side, flops, side[seconds], bench.limit);
  if (row.node && row.python) row.speedup = row.python[seconds] / row.node[seconds];
  return row;
}

// ---------------------------------------------------------------- epoch.mjs and pretrain.mjs

// Seconds between progress lines on stderr (table mode only) of the long
// benches (epoch.mjs, pretrain.mjs).
export const PROGRESS_SECONDS = 30;

// Runs the bench/pytorch script that replays the batches file for one
// preset (bench/pytorch/forward_bench.py's batches_bench_arguments).
export function runBatchesPython(script, preset, batchFile, opts, timeoutMs, progress) {
  const args = [
    "--batches",
    batchFile,
    "--config",
    presetConfigJson(preset),
    "--threads",
    String(opts.threads),
    "--progress",
    String(progress ? PROGRESS_SECONDS : 0),
  ];
  return runPython(script, args, { timeoutMs, limitNote: "--max-minutes", onProgress: progress });
}

// The options of a batches bench: --data (dataArg names the file), the
// presets (default mini) and threads, then the bench's own (extra), then the
// switches and --max-minutes.
export const batchesBenchOptions = (dataArg, extra) => ({
  data: { arg: dataArg, default: null, parse: (v) => resolve(v) },
  presets: { ...OPTION.presets, default: ["mini"] },
  threads: OPTION.threads,
  ...extra,
  json: OPTION.json,
  "skip-python": OPTION["skip-python"],
  "skip-node": OPTION["skip-node"],
  "max-minutes": OPTION["max-minutes"],
});

// Loads the package as loadPackage does; on failure prints the error and
// returns null (the batches benches need the package on both sides: it makes
// the batches).
export async function loadPackageOrReport(threads) {
  try {
    return await loadPackage(threads);
  } catch (e) {
    console.error(`error: ${e.message}`);
    return null;
  }
}

// Awaits make(), the preparation of the batches; on failure prints the error
// and returns null.
export async function prepareOrReport(make) {
  try {
    return await make();
  } catch (e) {
    console.error(`error: preparing the batches: ${describeError(e)}`);
    return null;
  }
}

// Calls progress (null: none) every PROGRESS_SECONDS of a loop over total
// items started at t0 (a performance.now() value): report(done, now) says
// how far it is.
export function progressReporter(progress, total, unit, t0) {
  let nextReport = t0 + PROGRESS_SECONDS * 1000;
  return (done, now) => {
    if (progress && now >= nextReport) {
      progress(`${done}/${total} ${unit}, ${((now - t0) / 1000).toFixed(0)} s`);
      nextReport = now + PROGRESS_SECONDS * 1000;
    }
  };
}

// Runs one preset of a batches bench on both sides, each within its share of
// the time left: node(deadline, progress) fills row.node; the Python
// `script` replays batchFile (runBatchesPython), each [key, ours] of
// `expected` must equal what it reports (else mismatch(key, theirs, ours)
// goes into bench.errors), and keep(py) fills row.python; the row goes into
// bench.results. Returns false, the row untouched, when no time was left to
// start.
export async function measureBatchesPreset(bench, preset, row, { node, script, batchFile, expected, mismatch, keep }) {
  const { opts, errors, left, deadline } = bench;
  bench.results.push(row);
  const progress = (side) => (opts.json ? null : (msg) => console.error(`  ${preset} ${side}: ${msg}`));
  // budget: what is left, split between the remaining presets' halves
  const halves = (opts.skipNode ? 0 : 1) + (opts.skipPython ? 0 : 1);
  const remaining = opts.presets.length - opts.presets.indexOf(preset);
  const share = () => left() / remaining / Math.max(1, halves);
  if (share() < 5000) {
    errors.push(`${preset}: out of time (--max-minutes ${opts.maxMinutes})`);
    return false;
  }
  if (!opts.skipNode) {
    try {
      row.node = await node(performance.now() + share(), progress("node"));
    } catch (e) {
      errors.push(`${preset} node: ${describeError(e)}`);
    }
  }
  if (!opts.skipPython) {
    try {
      const py = await runBatchesPython(
        script,
        preset,
        batchFile,
        opts,
        Number.isFinite(deadline) ? left() / remaining : null,
        progress("pytorch"),
      );
      for (const [key, ours] of expected) if (py[key] !== ours) errors.push(mismatch(key, py[key], ours));
      row.python = keep(py);
    } catch (e) {
      errors.push(`${preset} python: ${e.message}`);
    }
  }
  return true;
}

// The last line of a batches bench's table: Python's time over Node's.
export const ratioLine = (ratio, note = "") =>
  `  ratio pytorch / node: ${
    ratio == null ? "n/a" : `${ratio.toFixed(2)}x (${ratio > 1 ? "node faster" : "node not faster"})`
  }${note}`;

// ---------------------------------------------------------------- reports and output

// The --json keys after each driver's own: versions, limit, rows, errors, time.
export const reportTail = (bench) => ({
  node_version: process.version,
  python: bench.opts.skipPython ? null : PYTHON,
  limit: limitReport(bench.limit),
  presets: bench.results,
  errors: bench.errors,
  seconds_total: (performance.now() - bench.start) / 1000,
});

export const NODE_LABEL = "node (ltgbert)";
export const PYTHON_LABEL = "pytorch (eager)";

// The per-preset table: a header row of column titles, then one row for each
// side; columns = [[title, width], ...], cells(side) = the row's strings, and
// a side that did not run shows n/a.
export function sideTable(columns, cells, node, python) {
  const row = (label, values) =>
    `  ${label.padEnd(17)} ${values.map((v, i) => v.padStart(columns[i][1])).join(" ")}`.trimEnd();
  const missing = columns.map((_, i) => (i ? "" : "n/a"));
  return [
    row(
      "",
      columns.map(([title]) => title),
    ),
    row(NODE_LABEL, node ? cells(node) : missing),
    row(PYTHON_LABEL, python ? cells(python) : missing),
  ].join("\n");
}

// Prints the report (--json) or its errors (the table already went out) and
// returns the exit status.
export function finish(report, json) {
  if (json) console.log(JSON.stringify(report));
  else for (const e of report.errors) console.error(`error: ${e}`);
  return report.errors.length ? 1 : 0;
}

// Runs main and exits with the status it returns, or 1 on an uncaught error.
export function runMain(main) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
