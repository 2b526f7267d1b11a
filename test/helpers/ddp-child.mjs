// One rank of a data-parallel test: joins the group, runs the training
// steps it is given, and writes what they reported and the final weights.
//
// Usage: node ddp-child.mjs SPEC_FILE
//   SPEC_FILE (JSON): { task: "cls" | "mlm", modelDir, config, rank,
//   worldSize, port, timeoutMs, options (createOptimizer's), steps: one array
//   of micro-batches per step, each { ids: number[][], mask: number[][],
//   labels: number[] | number[][] }, saveAt?: step after which to save the
//   optimizer into saveDir, loadFrom?: a folder to resume from first, out }.
//   LTGBERT_TEST_EXIT_AT=N makes this rank exit abruptly before step N;
//   LTGBERT_TEST_STOP_AT=N makes it stop (SIGSTOP) there.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const { LtgBertForMaskedLM, LtgBertForSequenceClassification, ProcessGroup, setNumThreads } = await import(
  path.join(root, "dist", "index.js")
);

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
setNumThreads(1);
const matrix = (rows) => ({
  data: BigInt64Array.from(rows.flat(), (v) => BigInt(v)),
  shape: [rows.length, rows[0].length],
});
const inputs = (micro) => ({
  inputIds: matrix(micro.ids),
  attentionMask: matrix(micro.mask),
  labels: Array.isArray(micro.labels[0]) ? matrix(micro.labels) : micro.labels,
});

const report = { rank: spec.rank, steps: [] };
try {
  const Model = spec.task === "mlm" ? LtgBertForMaskedLM : LtgBertForSequenceClassification;
  const model = await Model.fromPretrained(spec.modelDir, { config: spec.config });
  const group = await ProcessGroup.join({
    rank: spec.rank,
    worldSize: spec.worldSize,
    masterPort: spec.port,
    timeoutMs: spec.timeoutMs ?? 60_000,
  });
  const optimizer = model.createOptimizer({ ...spec.options, processGroup: group, checkEvery: 1 });
  if (spec.loadFrom) await optimizer.load(spec.loadFrom);
  const exitAt = Number(process.env.LTGBERT_TEST_EXIT_AT ?? -1);
  const stopAt = Number(process.env.LTGBERT_TEST_STOP_AT ?? -1);
  for (let step = optimizer.step; step < spec.steps.length; step++) {
    if (step === exitAt) process.kill(process.pid, "SIGKILL");
    if (step === stopAt) process.kill(process.pid, "SIGSTOP");
    const r = await model.trainStep(spec.steps[step].map(inputs), optimizer);
    report.steps.push({ loss: r.loss, gradNorm: r.gradNorm, step: r.step });
    if (spec.saveAt === r.step) await optimizer.save(spec.saveDir);
  }
  const sd = model.stateDict();
  report.weights = {};
  for (const key of sd.keys()) {
    const t = await sd.read(key);
    if (t.data instanceof Float32Array) report.weights[key] = Array.from(t.data);
  }
  await group.shutdown();
  model.dispose();
} catch (error) {
  report.error = { code: error.code, message: error.message };
  process.exitCode = 1;
}
writeFileSync(spec.out, JSON.stringify(report));
