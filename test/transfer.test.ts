// Weight transfer from a masked LM into a classifier, inside native memory,
// against the Python reference's fixtures (test/fixtures/README.md).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  LtgBertForMaskedLM,
  LtgBertForSequenceClassification,
  readStateDict,
  type LtgBertError,
} from "../lib/index.js";
import {
  f32,
  i64,
  maxAbsDiff,
  readExpected,
  readSafetensorsRaw,
  TINY,
  writeSafetensorsRaw,
} from "./helpers/fixtures.js";

const tiny = readExpected(path.join(TINY, "expected.safetensors"));
const expected = JSON.parse(readFileSync(path.join(TINY, "expected.json"), "utf8"));
const inputs = { inputIds: i64(tiny, "input_ids"), attentionMask: i64(tiny, "attention_mask") };
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-transfer-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function allWeights(model: LtgBertForSequenceClassification): Promise<Map<string, number[]>> {
  const sd = model.stateDict();
  const out = new Map<string, number[]>();
  for (const key of sd.keys()) out.set(key, Array.from((await sd.read(key)).data as Float32Array, Number));
  return out;
}

describe("the seed's transfer", () => {
  it("seed-mlm into a 3-label linear classifier gives seed-cls's logits once its head is set", async () => {
    const mlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "seed-mlm"));
    const cls = await LtgBertForSequenceClassification.fromMaskedLM(mlm, { numLabels: 3, classifierHead: "linear" });
    expect(cls.loadReport?.missing).toEqual(["classifier.bias", "classifier.weight"]);
    expect(cls.numParameters()).toBe(expected.parameter_counts.seed_cls_3_labels);

    // The head seed-cls was given; everything else must already be equal.
    const seedCls = await readStateDict(path.join(TINY, "seed-cls", "model.safetensors"));
    const head = new Map(
      [...readSafetensorsRaw(path.join(TINY, "seed-cls", "model.safetensors"))].filter(
        ([key]) => key === "classifier.weight" || key === "classifier.bias",
      ),
    );
    const headFile = path.join(work, "seed-cls-head.safetensors");
    writeSafetensorsRaw(headFile, head);
    const report = await cls.loadStateDict(headFile, { strict: false });
    expect(report.loaded.sort()).toEqual(["classifier.bias", "classifier.weight"]);

    const out = await cls.forward(inputs);
    expect(maxAbsDiff(out.logits.data, f32(tiny, "seed_cls.logits"))).toBeLessThan(1e-5);
    // And the encoder equals seed-cls's bit for bit.
    for (const key of ["embedding.word_embedding.weight", "transformer.layers.2.mlp.mlp.4.weight"]) {
      expect(Array.from((await cls.stateDict().read(key)).data as Float32Array)).toEqual(
        Array.from((await seedCls.read(key)).data as Float32Array),
      );
    }
    cls.dispose();
    mlm.dispose();
  });

  it("gives the same weights three ways: fromMaskedLM, fromPretrained(mlmDir), fromConfig + loadStateDict", async () => {
    const mlmDir = path.join(TINY, "seed-mlm");
    const mlm = await LtgBertForMaskedLM.fromPretrained(mlmDir);
    const a = await LtgBertForSequenceClassification.fromMaskedLM(mlm, { numLabels: 3, seed: 5 });
    const b = await LtgBertForSequenceClassification.fromPretrained(mlmDir, {
      numLabels: 3,
      seed: 5,
      config: { classifier_head: "linear" },
    });
    const c = await LtgBertForSequenceClassification.fromConfig(mlm.config, {
      numLabels: 3,
      seed: 5,
      config: { classifier_head: "linear" },
    });
    await c.loadStateDict(mlm.stateDict(), { strict: false });
    const [wa, wb, wc] = await Promise.all([a, b, c].map(allWeights));
    expect([...wa.keys()]).toEqual([...wb.keys()]);
    for (const [key, value] of wa) {
      expect(wb.get(key), key).toEqual(value);
      expect(wc.get(key), key).toEqual(value);
    }
    // Another seed gives another head and the same encoder.
    const d = await LtgBertForSequenceClassification.fromMaskedLM(mlm, { numLabels: 3, seed: 6 });
    const wd = await allWeights(d);
    expect(wd.get("classifier.weight")).not.toEqual(wa.get("classifier.weight"));
    expect(wd.get("embedding.word_embedding.weight")).toEqual(wa.get("embedding.word_embedding.weight"));
    for (const m of [a, b, c, d, mlm]) m.dispose();
  });
});

describe("the hub-style transfer in memory", () => {
  it("reports exactly the missing and unexpected keys the reference reports", async () => {
    const mlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"));
    const sd = mlm.stateDict();
    // As in PyTorch, the masked LM names its tied decoder weight twice.
    expect(sd.has("classifier.nonlinearity.5.weight")).toBe(true);
    expect(sd.has("embedding.word_embedding.weight")).toBe(true);
    const cls = await LtgBertForSequenceClassification.fromConfig(mlm.config, {
      numLabels: 2,
      config: { classifier_head: "mlp" },
    });
    const report = await cls.loadStateDict(sd, { strict: false });
    expect([...report.missing].sort()).toEqual(expected.hub_cls_missing_keys_after_transfer);
    expect([...report.unexpected].sort()).toEqual(expected.hub_cls_unexpected_keys_after_transfer);
    expect(report.mismatched).toEqual([]);
    expect(cls.numParameters()).toBe(expected.parameter_counts.hub_cls_2_labels);
    cls.dispose();
    mlm.dispose();
  });
});

describe("strict loads", () => {
  it("refuses a wrong-shaped tensor, naming the key and both shapes, and changes no weight", async () => {
    const cls = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    const tensors = readSafetensorsRaw(path.join(TINY, "seed-cls", "model.safetensors"));
    const bad = tensors.get("classifier.weight")!;
    tensors.set("classifier.weight", { ...bad, shape: [4, 36] });
    // Another tensor differs in value, so a partial copy would show.
    const emb = tensors.get("embedding.word_embedding.weight")!;
    tensors.set("embedding.word_embedding.weight", { ...emb, bytes: Buffer.alloc(emb.bytes.length) });
    const file = path.join(work, "wrong-shape.safetensors");
    writeSafetensorsRaw(file, tensors);

    const before = await allWeights(cls);
    const error = (await cls.loadStateDict(file).catch((e: unknown) => e)) as LtgBertError;
    expect(error.code).toBe("LTGBERT_SHAPE_MISMATCH");
    expect(error.message).toContain(file);
    expect(error.message).toContain("classifier.weight: expected [3, 48], got [4, 36]");
    expect(await allWeights(cls)).toEqual(before);
    cls.dispose();
  });

  it("detects a wrapper's prefix, says so, and loads with stripPrefix", async () => {
    const tensors = readSafetensorsRaw(path.join(TINY, "seed-cls", "model.safetensors"));
    const wrapped = new Map([...tensors].map(([key, t]) => [`module.${key}`, t]));
    const file = path.join(work, "wrapped.safetensors");
    writeSafetensorsRaw(file, wrapped);
    const cls = await LtgBertForSequenceClassification.fromConfig(
      JSON.parse(readFileSync(path.join(TINY, "seed-cls", "config.json"), "utf8")),
    );
    const error = (await cls.loadStateDict(file).catch((e: unknown) => e)) as LtgBertError;
    expect(error.code).toBe("LTGBERT_MISSING_KEYS");
    expect(error.message).toContain('prefix "module."');
    expect(error.message).toContain('stripPrefix: "module."');
    const report = await cls.loadStateDict(file, { stripPrefix: "module." });
    expect(report.missing).toEqual([]);
    const out = await cls.forward(inputs);
    expect(maxAbsDiff(out.logits.data, f32(tiny, "seed_cls.logits"))).toBeLessThan(1e-5);
    cls.dispose();
  });
});
