// A child process for the training tests: trains a model through the raw
// addon (no TypeScript needed) and prints what each step reported, so a
// test can run the same steps with LTGBERT_DISABLE_ONEDNN=1 (libtorch's own
// autograd ops, read once per process) and without it (the hand-written
// training kernels) and compare.
//
// Usage: node train-child.mjs CONFIG_JSON CHECKPOINT_DIR STEPS
//   CONFIG_JSON: the model's config with "task"; the checkpoint is loaded
//   non-strictly (a masked LM's weights into a classifier). Prints one JSON
//   line: { steps: [{ loss, gradNorm }], first: number[] } where `first` is
//   the first 64 values of the word embedding after the steps.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [configJson, checkpoint, steps] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const addon = require("node-gyp-build")(root);

const model = new addon.Model();
await model.load(configJson, { checkpoint, strict: false, seed: 3 });
const optimizer = new addon.Optimizer(model, {
  learningRate: 1e-3,
  weightDecay: 0.01,
  maxGradNorm: 1,
  eps: 1e-8,
  beta1: 0.9,
  beta2: 0.999,
  schedule: "constant",
  warmupSteps: 0,
  totalSteps: 0,
  numCycles: 0.5,
  seed: 5,
});
// Two rows, the second padded: ids below the tiny vocabulary of 97.
const B = 2;
const T = 24;
const inputIds = new Int32Array(B * T).map((_, i) => 1 + ((i * 37) % 90));
const attentionMask = new Int32Array(B * T).map((_, i) => (i >= T && i % T >= 17 ? 0 : 1));
const batch = { inputIds, attentionMask, shape: [B, T], labels: new Int32Array([1, 0]), labelsShape: [B] };
const out = [];
for (let i = 0; i < Number(steps); i++) {
  const r = await optimizer.trainStep([batch]);
  out.push({ loss: r.loss, gradNorm: r.gradNorm });
}
const first = await model.stateDict().readTensor("embedding.word_embedding.weight");
process.stdout.write(`${JSON.stringify({ steps: out, first: Array.from(first.data.subarray(0, 64)) })}\n`);
model.dispose();
