// Outputs against the golden fixtures of the Python reference (see
// test/fixtures/README.md). float32 on CPU agrees to about 1e-5.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LtgBertForMaskedLM, LtgBertForSequenceClassification } from "../lib/index.js";
import { BABYLM, f32, i64, maxAbsDiff, readExpected, TINY } from "./helpers/fixtures.js";
import { readFileSync } from "node:fs";

const TOL = 1e-5;
const tiny = readExpected(path.join(TINY, "expected.safetensors"));
const tinyMeta = JSON.parse(readFileSync(path.join(TINY, "expected.json"), "utf8"));
const inputs = { inputIds: i64(tiny, "input_ids"), attentionMask: i64(tiny, "attention_mask") };

describe("ltgbert-tiny (per-head split)", () => {
  let seedMlm: LtgBertForMaskedLM;
  beforeAll(async () => {
    seedMlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "seed-mlm"));
  });
  afterAll(() => seedMlm.dispose());

  it("seed-mlm (pytorch_model.bin) gives the reference's logits, hidden states and loss", async () => {
    const out = await seedMlm.forward({ ...inputs, labels: i64(tiny, "mlm_labels") });
    expect(out.logits.shape).toEqual([3, 17, 97]);
    expect(out.lastHiddenState?.shape).toEqual([3, 17, 48]);
    expect(maxAbsDiff(out.logits.data, f32(tiny, "mlm.logits"))).toBeLessThan(TOL);
    expect(maxAbsDiff(out.lastHiddenState!.data, f32(tiny, "mlm.last_hidden_state"))).toBeLessThan(TOL);
    expect(Math.abs(out.loss! - f32(tiny, "mlm.loss")[0])).toBeLessThan(TOL);
  });

  it("writes logits and hidden states into the caller's arrays, with the reference's numbers", async () => {
    // NaN-filled, so that any value left unwritten fails the comparison.
    const out = {
      logits: new Float32Array(3 * 17 * 97).fill(NaN),
      lastHiddenState: new Float32Array(3 * 17 * 48).fill(NaN),
    };
    const got = await seedMlm.forward({ ...inputs, labels: i64(tiny, "mlm_labels") }, { out });
    expect(got.logits.data).toBe(out.logits);
    expect(got.lastHiddenState?.data).toBe(out.lastHiddenState);
    expect(got.logits.shape).toEqual([3, 17, 97]);
    expect(maxAbsDiff(out.logits, f32(tiny, "mlm.logits"))).toBeLessThan(TOL);
    expect(maxAbsDiff(out.lastHiddenState, f32(tiny, "mlm.last_hidden_state"))).toBeLessThan(TOL);
    expect(Math.abs(got.loss! - f32(tiny, "mlm.loss")[0])).toBeLessThan(TOL);
    // A view into a larger buffer (a byte offset) works as well; with only
    // the logits given, the hidden states come back in a new array.
    const backing = new Float32Array(5 + 3 * 17 * 97).fill(NaN);
    const view = backing.subarray(5);
    const only = await seedMlm.forward(inputs, { out: { logits: view } });
    expect(only.logits.data).toBe(view);
    expect(maxAbsDiff(view, f32(tiny, "mlm.logits"))).toBeLessThan(TOL);
    expect(Array.from(backing.subarray(0, 5)).every(Number.isNaN)).toBe(true);
    expect(maxAbsDiff(only.lastHiddenState!.data, f32(tiny, "mlm.last_hidden_state"))).toBeLessThan(TOL);
  });

  it("accepts nested arrays as well as typed arrays", async () => {
    const ids = i64(tiny, "input_ids");
    const mask = i64(tiny, "attention_mask");
    const rows = (t: { data: BigInt64Array }) =>
      [0, 1, 2].map((b) => Array.from(t.data.subarray(b * 17, b * 17 + 17), Number));
    const out = await seedMlm.forward({ inputIds: rows(ids), attentionMask: rows(mask) });
    expect(maxAbsDiff(out.logits.data, f32(tiny, "mlm.logits"))).toBeLessThan(TOL);
  });

  it("has the reference's parameter count and state-dict keys, in order", () => {
    expect(seedMlm.numParameters()).toBe(tinyMeta.parameter_counts.seed_mlm);
    expect(seedMlm.stateDict().keys()).toEqual(tinyMeta.seed_mlm_state_dict_keys);
  });

  it("computes the reference's log-bucketed position indices", async () => {
    const expected = i64(tiny, "position_indices");
    for (let layer = 0; layer < 3; layer++) {
      const got = await seedMlm.stateDict().read(`transformer.layers.${layer}.attention.position_indices`);
      expect(got.shape).toEqual(expected.shape);
      expect(Array.from(got.data as BigInt64Array)).toEqual(Array.from(expected.data));
    }
  });

  it("hub-mlm (model.safetensors without the tied weight) gives the reference's logits", async () => {
    const hub = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"));
    const out = await hub.forward(inputs);
    expect(maxAbsDiff(out.logits.data, f32(tiny, "hub_mlm.logits"))).toBeLessThan(TOL);
    expect(hub.numParameters()).toBe(tinyMeta.parameter_counts.hub_mlm);
    expect(hub.loadReport?.missing).toEqual([]);
    hub.dispose();
  });

  it("seed-cls (linear head) gives the reference's logits and loss", async () => {
    const cls = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    expect(cls.config.classifier_head).toBe("linear");
    expect(cls.numLabels).toBe(3);
    const out = await cls.forward({ ...inputs, labels: i64(tiny, "cls_labels") });
    expect(out.logits.shape).toEqual([3, 3]);
    expect(maxAbsDiff(out.logits.data, f32(tiny, "seed_cls.logits"))).toBeLessThan(TOL);
    expect(Math.abs(out.loss! - f32(tiny, "seed_cls.loss")[0])).toBeLessThan(TOL);
    expect(cls.numParameters()).toBe(tinyMeta.parameter_counts.seed_cls_3_labels);
    // Without hidden states the last layer computes the first token alone: the same numbers.
    const lean = await cls.forward({ ...inputs, labels: i64(tiny, "cls_labels") }, { hiddenStates: false });
    expect(lean.lastHiddenState).toBeUndefined();
    expect(maxAbsDiff(lean.logits.data, f32(tiny, "seed_cls.logits"))).toBeLessThan(TOL);
    expect(Math.abs(lean.loss! - f32(tiny, "seed_cls.loss")[0])).toBeLessThan(TOL);
    const logits = new Float32Array(9).fill(NaN);
    const into = await cls.forward(inputs, { hiddenStates: false, out: { logits } });
    expect(into.logits.data).toBe(logits);
    expect(maxAbsDiff(logits, f32(tiny, "seed_cls.logits"))).toBeLessThan(TOL);
    cls.dispose();
  });

  it("hub-cls (MLP head) gives the reference's logits", async () => {
    const cls = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "hub-cls"));
    expect(cls.config.classifier_head).toBe("mlp");
    const out = await cls.forward(inputs);
    expect(out.logits.shape).toEqual([3, 2]);
    expect(maxAbsDiff(out.logits.data, f32(tiny, "hub_cls.logits"))).toBeLessThan(TOL);
    const lean = await cls.forward(inputs, { hiddenStates: false });
    expect(maxAbsDiff(lean.logits.data, f32(tiny, "hub_cls.logits"))).toBeLessThan(TOL);
    expect(cls.numParameters()).toBe(tinyMeta.parameter_counts.hub_cls_2_labels);
    cls.dispose();
  });

  it("detects the classification head from the checkpoint's keys when config.json does not say", async () => {
    const cls = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "hub-cls"), {
      config: { classifier_head: undefined },
    });
    expect(cls.config.classifier_head).toBe("mlp");
    const out = await cls.forward(inputs);
    expect(maxAbsDiff(out.logits.data, f32(tiny, "hub_cls.logits"))).toBeLessThan(TOL);
    cls.dispose();
  });
});

describe("ltgbert-babylm (official BabyLM code)", () => {
  const babylm = readExpected(path.join(BABYLM, "expected.safetensors"));
  const bInputs = { inputIds: i64(babylm, "input_ids"), attentionMask: i64(babylm, "attention_mask") };

  it("loads with the global split its config.json names and matches the BabyLM code", async () => {
    const mlm = await LtgBertForMaskedLM.fromPretrained(BABYLM);
    expect(mlm.config.position_qk_split).toBe("global");
    const out = await mlm.forward(bInputs);
    expect(maxAbsDiff(out.logits.data, f32(babylm, "mlm.logits"))).toBeLessThan(TOL);
    expect(maxAbsDiff(out.lastHiddenState!.data, f32(babylm, "mlm.last_hidden_state"))).toBeLessThan(TOL);
    // The other split is far off: the test can tell them apart.
    expect(maxAbsDiff(out.logits.data, f32(babylm, "per_head.logits"))).toBeGreaterThan(0.1);
    mlm.dispose();
  });

  it("with position_qk_split overridden to per_head, matches the per-head code", async () => {
    const mlm = await LtgBertForMaskedLM.fromPretrained(BABYLM, { config: { position_qk_split: "per_head" } });
    const out = await mlm.forward(bInputs);
    expect(maxAbsDiff(out.logits.data, f32(babylm, "per_head.logits"))).toBeLessThan(TOL);
    expect(maxAbsDiff(out.lastHiddenState!.data, f32(babylm, "per_head.last_hidden_state"))).toBeLessThan(TOL);
    mlm.dispose();
  });

  it("computes the same position indices", async () => {
    const mlm = await LtgBertForMaskedLM.fromPretrained(BABYLM);
    const got = await mlm.stateDict().read("transformer.layers.0.attention.position_indices");
    expect(Array.from(got.data as BigInt64Array)).toEqual(Array.from(i64(babylm, "position_indices").data));
    mlm.dispose();
  });
});
