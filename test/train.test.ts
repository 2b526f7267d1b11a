// Training steps against the golden fixtures: `train.*` of
// test/fixtures/ltgbert-tiny/expected.{json,safetensors} are four AdamW steps
// of seed-cls in PyTorch (see test/fixtures/README.md). The fixtures were made
// with the reference BLAS; under OpenBLAS PyTorch itself lands up to 6e-5
// from the final weights, hence 1e-4 there.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  LtgBertError,
  LtgBertForMaskedLM,
  LtgBertForSequenceClassification,
  type OptimizerOptions,
} from "../lib/index.js";
import {
  BABYLM,
  f32,
  floatWeights,
  i64,
  maxAbsDiff,
  PYTHON_WITH_TORCH,
  readExpected,
  TINY,
} from "./helpers/fixtures.js";

const tiny = readExpected(path.join(TINY, "expected.safetensors"));
const train = JSON.parse(readFileSync(path.join(TINY, "expected.json"), "utf8")).train;
const batch = {
  inputIds: i64(tiny, "input_ids"),
  attentionMask: i64(tiny, "attention_mask"),
  labels: Array.from(i64(tiny, "cls_labels").data, Number),
};
const noDropout = { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 };
const fixtureOptions: OptimizerOptions = {
  learningRate: train.learning_rate,
  betas: train.adam_betas,
  eps: train.adam_eps,
  weightDecay: train.weight_decay,
  maxGradNorm: train.max_grad_norm,
  schedule: { kind: "linear", warmupSteps: train.warmup_steps, totalSteps: train.steps },
};

const tmp = mkdtempSync(path.join(tmpdir(), "ltgbert-train-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const weights = floatWeights;

function relative(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected);
}

describe("trainStep against the PyTorch reference", () => {
  it("four AdamW steps of seed-cls give the reference's losses, norms, rates and weights", async () => {
    const model = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"), {
      config: noDropout,
    });
    const opt = model.createOptimizer(fixtureOptions);
    expect(opt.learningRate).toBe(0);
    for (let step = 0; step < train.steps; step++) {
      const r = await model.trainStep(batch, opt);
      expect(relative(r.loss, train.losses[step])).toBeLessThan(1e-5);
      expect(relative(r.gradNorm, train.grad_norms[step])).toBeLessThan(1e-5);
      expect(r.learningRate).toBe(train.lrs[step]);
      expect(r.step).toBe(step + 1);
    }
    expect(opt.step).toBe(train.steps);
    const after = await weights(model);
    const names = [...tiny.keys()].filter((k) => k.startsWith("train.final.")).map((k) => k.slice(12));
    expect(names.length).toBeGreaterThan(30);
    expect(new Set(names)).toEqual(new Set(after.keys()));
    for (const name of names) {
      expect(maxAbsDiff(after.get(name)!, f32(tiny, `train.final.${name}`)), name).toBeLessThan(1e-4);
    }
    // The steps moved the weights: the loss fell from 0.79 to 1.5e-4.
    const out = await model.forward({
      inputIds: batch.inputIds,
      attentionMask: batch.attentionMask,
      labels: batch.labels,
    });
    expect(out.loss!).toBeLessThan(train.losses[0] / 100);
    model.dispose();
  });

  it("accumulating two micro-batches equals one step on both together", async () => {
    const load = () =>
      LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"), { config: noDropout });
    const [a, b] = await Promise.all([load(), load()]);
    // eps 1 keeps the update near lr * gradient, so that it compares the
    // gradients rather than the signs of near-zero ones.
    const options: OptimizerOptions = { learningRate: 1e-2, eps: 1, weightDecay: 0.01, maxGradNorm: 1 };
    const optA = a.createOptimizer(options);
    const optB = b.createOptimizer(options);
    // Two different micro-batches: the same texts with other labels.
    const other = { ...batch, labels: batch.labels.map((l) => (l + 1) % 3) };
    const twice = (x: { data: BigInt64Array; shape: number[] }) => ({
      data: BigInt64Array.from([...x.data, ...x.data]),
      shape: [x.shape[0] * 2, x.shape[1]],
    });
    const both = {
      inputIds: twice(batch.inputIds),
      attentionMask: twice(batch.attentionMask),
      labels: [...batch.labels, ...other.labels],
    };
    for (let i = 0; i < 3; i++) {
      const ra = await a.trainStep([batch, other], optA);
      const rb = await b.trainStep(both, optB);
      expect(Math.abs(ra.loss - rb.loss)).toBeLessThan(1e-6);
      expect(relative(ra.gradNorm, rb.gradNorm)).toBeLessThan(1e-5);
    }
    const [wa, wb] = await Promise.all([weights(a), weights(b)]);
    for (const [name, value] of wa) expect(maxAbsDiff(value, wb.get(name)!), name).toBeLessThan(1e-6);
    a.dispose();
    b.dispose();
  });
});

describe("exact resume", () => {
  const options: OptimizerOptions = {
    ...fixtureOptions,
    learningRate: 1e-3,
    schedule: { kind: "linear", warmupSteps: 2, totalSteps: 6 },
    seed: 7,
  };

  it("k steps, save, load, N-k steps gives the weights of N steps straight (dropout on)", async () => {
    const N = 6;
    const k = 3;
    const straight = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    const optStraight = straight.createOptimizer(options);
    const losses: number[] = [];
    for (let i = 0; i < N; i++) losses.push((await straight.trainStep(batch, optStraight)).loss);

    const first = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    const optFirst = first.createOptimizer(options);
    for (let i = 0; i < k; i++) expect((await first.trainStep(batch, optFirst)).loss).toBe(losses[i]);
    const dir = path.join(tmp, "resume");
    await first.savePretrained(dir);
    await optFirst.save(dir);
    first.dispose();

    const resumed = await LtgBertForSequenceClassification.fromPretrained(dir);
    const optResumed = resumed.createOptimizer(options);
    await optResumed.load(dir);
    expect(optResumed.step).toBe(k);
    for (let i = k; i < N; i++) {
      const r = await resumed.trainStep(batch, optResumed);
      expect(Math.abs(r.loss - losses[i])).toBeLessThan(1e-6);
    }
    const [a, b] = await Promise.all([weights(straight), weights(resumed)]);
    for (const [name, value] of a) expect(maxAbsDiff(value, b.get(name)!), name).toBeLessThan(1e-6);

    // Dropout was on: a different seed draws other masks and other losses.
    const other = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    const optOther = other.createOptimizer({ ...options, seed: 8 });
    await other.trainStep(batch, optOther);
    const r = await other.trainStep(batch, optOther);
    expect(r.loss).not.toBe(losses[1]);
    straight.dispose();
    resumed.dispose();
    other.dispose();
  });
});

describe("trainStep errors", () => {
  it("rejects a label out of range, naming it, and the model trains on afterwards", async () => {
    const model = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    const opt = model.createOptimizer({ learningRate: 1e-3 });
    const bad = { ...batch, labels: [0, 3, 1] };
    const error = await model.trainStep(bad, opt).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LtgBertError);
    expect((error as LtgBertError).code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect((error as LtgBertError).message).toMatch(/labels.*\[0, 3\).*got 3 at index 1/);
    expect(opt.step).toBe(0);
    const r = await model.trainStep(batch, opt);
    expect(r.step).toBe(1);
    model.dispose();
  });

  it("checks options, labels and ownership before any work", async () => {
    const model = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    const other = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as LtgBertError).code;
      }
      return "no error";
    };
    expect(code(() => model.createOptimizer({ learningRate: -1 }))).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(code(() => model.createOptimizer({ learningRate: 1e-3, betas: [1, 0.999] }))).toBe(
      "LTGBERT_INVALID_ARGUMENT",
    );
    expect(code(() => model.createOptimizer({ learningRate: 1e-3, schedule: { kind: "linear" } }))).toBe(
      "LTGBERT_INVALID_ARGUMENT",
    );
    const opt = other.createOptimizer({ learningRate: 1e-3 });
    await expect(model.trainStep(batch, opt)).rejects.toMatchObject({ code: "LTGBERT_INVALID_ARGUMENT" });
    const own = model.createOptimizer({ learningRate: 1e-3 });
    const { labels: _labels, ...unlabelled } = batch;
    await expect(model.trainStep(unlabelled, own)).rejects.toMatchObject({ code: "LTGBERT_INVALID_ARGUMENT" });
    await expect(own.load(path.join(tmp, "nothing-here"))).rejects.toMatchObject({ code: "LTGBERT_FILE_NOT_FOUND" });
    model.dispose();
    expect(own.disposed).toBe(true);
    await expect(other.trainStep(batch, opt)).resolves.toMatchObject({ step: 1 });
    other.dispose();
  });

  it("refuses an optimizer state of another model's shape and keeps its own", async () => {
    const model = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    const opt = model.createOptimizer({ learningRate: 1e-3 });
    await model.trainStep(batch, opt);
    const dir = path.join(tmp, "two-labels");
    const twoLabels = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"), {
      numLabels: 2,
      strict: false,
    });
    const opt2 = twoLabels.createOptimizer({ learningRate: 1e-3 });
    await twoLabels.trainStep({ ...batch, labels: [0, 1, 1] }, opt2);
    await opt2.save(dir);
    const error = await opt.load(dir).catch((e: unknown) => e);
    expect((error as LtgBertError).code).toBe("LTGBERT_SHAPE_MISMATCH");
    expect((error as LtgBertError).message).toMatch(
      /optimizer\.safetensors: exp_avg\.classifier\.(weight|bias): expected \[3/,
    );
    expect(opt.step).toBe(1);
    await expect(model.trainStep(batch, opt)).resolves.toMatchObject({ step: 2 });
    model.dispose();
    twoLabels.dispose();
  });
});

describe("hand-written training kernels", () => {
  // The same steps with libtorch's own autograd ops (LTGBERT_DISABLE_ONEDNN=1)
  // and with the oneDNN linear layers and the attention's own backward, on
  // both position splits (the golden training fixture covers per_head only).
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), "helpers", "train-child.mjs");
  const run = (dir: string, disable: boolean) => {
    const config = {
      ...JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")),
      task: "sequence_classification",
      num_labels: 2,
      classifier_head: "linear",
      hidden_dropout_prob: 0,
      attention_probs_dropout_prob: 0,
    };
    const env = { ...process.env, LTGBERT_DISABLE_ONEDNN: disable ? "1" : "0" };
    const out = execFileSync(process.execPath, [child, JSON.stringify(config), dir, "3"], { env, encoding: "utf8" });
    return JSON.parse(out) as { steps: { loss: number; gradNorm: number }[]; first: number[] };
  };

  for (const [name, dir] of [
    ["per_head", path.join(TINY, "seed-mlm")],
    ["global", BABYLM],
  ] as const) {
    it(`agree with libtorch's autograd (${name} split)`, () => {
      const plain = run(dir, true);
      const fast = run(dir, false);
      for (let i = 0; i < plain.steps.length; i++) {
        expect(relative(fast.steps[i].loss, plain.steps[i].loss)).toBeLessThan(1e-5);
        expect(relative(fast.steps[i].gradNorm, plain.steps[i].gradNorm)).toBeLessThan(1e-5);
      }
      expect(maxAbsDiff(fast.first, plain.first)).toBeLessThan(1e-5);
    });
  }
});

describe("masked-LM trainStep", () => {
  // The step runs the vocabulary projection only at the scored positions;
  // PyTorch's reference computes the logits everywhere and lets
  // cross_entropy's ignore_index drop the rest. Loss and gradients agree.
  const dir = path.join(TINY, "seed-mlm");
  it.skipIf(!PYTHON_WITH_TORCH)("has the loss and gradient norm of the logits at every position", async () => {
    const rows = [
      [2, 40, 11, 4, 57, 23, 90, 3, 18, 65, 7, 3],
      [2, 15, 4, 33, 81, 3, 0, 0, 0, 0, 0, 0],
    ];
    const mask = rows.map((r, b) => r.map((_, t) => (b === 1 && t >= 6 ? 0 : 1)));
    const labels = rows.map((r, b) => r.map((id, t) => ((t * 7 + b) % 4 === 1 && mask[b][t] ? (id * 3) % 97 : -100)));
    expect(labels.flat().filter((l) => l !== -100).length).toBeGreaterThan(3);

    const model = await LtgBertForMaskedLM.fromPretrained(dir, { config: noDropout });
    const opt = model.createOptimizer({ learningRate: 0, maxGradNorm: 0 });
    const r = await model.trainStep({ inputIds: rows, attentionMask: mask, labels }, opt);
    opt.dispose();
    model.dispose();

    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "python", "mlm_loss_grad.py");
    const batchJson = JSON.stringify({ input_ids: rows, attention_mask: mask, labels });
    const ref = JSON.parse(execFileSync(PYTHON_WITH_TORCH!, [script, dir, batchJson], { encoding: "utf8" }));
    expect(relative(r.loss, ref.loss)).toBeLessThan(1e-5);
    expect(relative(r.gradNorm, ref.grad_norm)).toBeLessThan(1e-5);
  });
});
