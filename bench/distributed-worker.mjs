// One rank of bench/distributed.mjs: trains a randomly initialised sequence
// classifier of a preset's size on a fixed random batch and prints one JSON
// line: { rank, world, threads, batch, stepSeconds: [...], communicationSeconds: [...] }.
//
//   node bench/distributed-worker.mjs PRESET RANK WORLD PORT BATCH SEQ THREADS WARMUP RUNS
import { DIST, PRESETS, ADAMW, randomBatch } from "./common.mjs";

const [preset, rank, world, port, batch, seq, threads, warmup, runs] = process.argv.slice(2);
const api = await import(DIST);
api.setNumThreads(Number(threads));
const config = PRESETS[preset];
const B = Number(batch);
// Every rank draws the same batch: the timing does not depend on the ids.
const inputs = {
  ...randomBatch(config.vocab_size, B, Number(seq)),
  labels: Array.from({ length: B }, (_, i) => i % 2),
};
const model = await api.LtgBertForSequenceClassification.fromConfig({ ...config, num_labels: 2 });
const group =
  Number(world) > 1
    ? await api.ProcessGroup.join({ rank: Number(rank), worldSize: Number(world), masterPort: Number(port) })
    : undefined;
const optimizer = model.createOptimizer({
  ...ADAMW,
  schedule: { kind: "linear", warmupSteps: 10, totalSteps: 1000 },
  ...(group ? { processGroup: group, checkEvery: 0 } : {}),
});
const stepSeconds = [];
const communicationSeconds = [];
for (let i = 0; i < Number(warmup) + Number(runs); i++) {
  await group?.barrier();
  const t0 = performance.now();
  const r = await model.trainStep(inputs, optimizer);
  const seconds = (performance.now() - t0) / 1000;
  if (!Number.isFinite(r.loss)) throw new Error(`step ${r.step}: loss ${r.loss}`);
  if (i >= Number(warmup)) {
    stepSeconds.push(seconds);
    communicationSeconds.push(r.communicationSeconds);
  }
}
await group?.shutdown();
process.stdout.write(
  `${JSON.stringify({ rank: Number(rank), world: Number(world), threads: Number(threads), batch: B, stepSeconds, communicationSeconds })}\n`,
);
