// model.embed: the pooled vectors of the Hugging Face-style reference
// (fixtures/ltgbert-heads, base.mean_pooled and base.cls_pooled) from the
// fixture's ids, and on text with the default model the facts pooling must
// keep (padding does not count, order is the caller's, unit length when
// normalised), and the errors of a model without a tokenizer or of a text
// too long.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_MODEL_DIR,
  LtgBertError,
  LtgBertForMaskedLM,
  LtgBertForSequenceClassification,
  setNumThreads,
  type Embeddings,
} from "../lib/index.js";
import { f32, FIXTURES, i64, maxAbsDiff, readExpected } from "./helpers/fixtures.js";

setNumThreads(1);

const HEADS = path.join(FIXTURES, "ltgbert-heads");
const expected = readExpected(path.join(HEADS, "expected.safetensors"));
const inputIds = i64(expected, "input_ids");
const attentionMask = i64(expected, "attention_mask");

async function caught(promise: Promise<unknown>): Promise<LtgBertError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LtgBertError);
    return error as LtgBertError;
  }
  throw new Error("expected a rejection");
}

function row(v: Embeddings, i: number): Float32Array {
  return v.data.subarray(i * v.shape[1], (i + 1) * v.shape[1]);
}

/** The fixture's rows divided by their L2 norms (the definition of normalising). */
function unitRows(data: Float32Array, width: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < data.length / width; r++) {
    let s = 0;
    for (let d = 0; d < width; d++) s += data[r * width + d] ** 2;
    for (let d = 0; d < width; d++) out[r * width + d] = data[r * width + d] / Math.sqrt(s);
  }
  return out;
}

describe("embed against the reference's pooled vectors (ltgbert-heads/base)", () => {
  let mlm: LtgBertForMaskedLM;
  beforeAll(async () => {
    // base/ is a bare encoder (architectures: LtgBertModel): the masked LM
    // loads its encoder and initialises a head that embed does not read.
    mlm = await LtgBertForMaskedLM.fromPretrained(path.join(HEADS, "base"), { strict: false });
    expect(mlm.loadReport?.missing.every((k) => k.startsWith("classifier."))).toBe(true);
  });
  afterAll(() => mlm?.dispose());

  it("mean pooling over unpadded positions equals base.mean_pooled within 1e-5", async () => {
    const v = await mlm.embed({ inputIds, attentionMask }, { pooling: "mean" });
    expect(v.shape).toEqual([3, 48]);
    expect(maxAbsDiff(v.data, f32(expected, "base.mean_pooled"))).toBeLessThan(1e-5);
    // Mean is the default.
    expect((await mlm.embed({ inputIds, attentionMask })).data).toEqual(v.data);
  });

  it("cls pooling equals base.cls_pooled within 1e-5, in batches of any size", async () => {
    for (const batchSize of [1, 2, 32]) {
      const v = await mlm.embed({ inputIds, attentionMask }, { pooling: "cls", batchSize });
      expect(v.shape).toEqual([3, 48]);
      expect(maxAbsDiff(v.data, f32(expected, "base.cls_pooled"))).toBeLessThan(1e-5);
    }
  });

  it("normalize gives the fixture's vectors divided by their norms", async () => {
    for (const pooling of ["mean", "cls"] as const) {
      const v = await mlm.embed({ inputIds, attentionMask }, { pooling, normalize: true, batchSize: 2 });
      const want = unitRows(f32(expected, `base.${pooling}_pooled`), 48);
      expect(maxAbsDiff(v.data, want)).toBeLessThan(1e-5);
    }
  });

  it("is on every class: a classifier loaded from the same encoder gives the same vectors", async () => {
    const cls = await LtgBertForSequenceClassification.fromPretrained(path.join(HEADS, "base"), { numLabels: 2 });
    try {
      const v = await cls.embed({ inputIds, attentionMask }, { pooling: "mean" });
      expect(maxAbsDiff(v.data, f32(expected, "base.mean_pooled"))).toBeLessThan(1e-5);
    } finally {
      cls.dispose();
    }
  });

  it("rejects bad options and a row with nothing to average", async () => {
    const bad = await caught(mlm.embed({ inputIds, attentionMask }, { pooling: "max" as "mean" }));
    expect(bad.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(bad.message).toMatch(/^options\.pooling: expected "mean" or "cls", got "max"/);
    expect((await caught(mlm.embed({ inputIds }, { batchSize: 0 }))).message).toMatch(/^options\.batchSize/);
    expect((await caught(mlm.embed({ inputIds }, { normalize: "yes" as unknown as boolean }))).message).toMatch(
      /^options\.normalize/,
    );
    const zeros = { data: new Int32Array(2 * 3), shape: [2, 3] };
    zeros.data.fill(1, 0, 3);
    const empty = await caught(
      mlm.embed({
        inputIds: [
          [1, 5, 2],
          [1, 5, 2],
        ],
        attentionMask: zeros,
      }),
    );
    expect(empty.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(empty.message).toMatch(/^attentionMask\[1\]: no position is 1/);
    // cls pooling reads the first position whatever the mask says.
    await mlm.embed(
      {
        inputIds: [
          [1, 5, 2],
          [1, 5, 2],
        ],
        attentionMask: zeros,
      },
      { pooling: "cls" },
    );
    const shape = await caught(mlm.embed({ inputIds: [[1, 5, 2]], attentionMask: [[1, 1]] }));
    expect(shape.message).toMatch(/^attentionMask: expected shape \[1, 3\] like inputIds/);
  });

  it("says what to do when the model has no tokenizer", async () => {
    expect(mlm.tokenizer).toBeNull();
    const error = await caught(mlm.embed(["a text"]));
    expect(error.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(error.message).toMatch(/^embed: the model has no tokenizer; .*Tokenizer\.fromPretrained/);
  });
});

describe("embed on texts with the default model", () => {
  let mlm: LtgBertForMaskedLM;
  beforeAll(async () => {
    mlm = await LtgBertForMaskedLM.fromPretrained(DEFAULT_MODEL_DIR);
  });
  afterAll(() => mlm?.dispose());

  const short = "A cat sat on the mat.";
  const long =
    "The committee met on a cold Tuesday morning to discuss, at considerable length and with some heat, the budget for the coming year.";

  it("gives a text the same vector alone and in a batch with a longer text (padding does not count)", async () => {
    for (const pooling of ["mean", "cls"] as const) {
      const alone = await mlm.embed([short], { pooling });
      const batched = await mlm.embed([long, short, "Another one."], { pooling });
      expect(alone.shape).toEqual([1, mlm.config.hidden_size]);
      expect(batched.shape).toEqual([3, mlm.config.hidden_size]);
      expect(maxAbsDiff(row(batched, 1), row(alone, 0))).toBeLessThan(1e-5);
      // The rows are in the caller's order, whatever order the batches ran in.
      const longAlone = await mlm.embed([long], { pooling });
      expect(maxAbsDiff(row(batched, 0), row(longAlone, 0))).toBeLessThan(1e-5);
      // One text per batch, and two, give the same.
      const single = await mlm.embed([long, short, "Another one."], { pooling, batchSize: 1 });
      expect(maxAbsDiff(single.data, batched.data)).toBeLessThan(1e-5);
    }
  });

  it("equals the ids-level call on the tokenizer's encoding, and normalises to unit length", async () => {
    const texts = [short, long];
    const { inputIds, attentionMask } = await mlm.tokenizer!.encodeBatch(texts);
    const fromIds = await mlm.embed({ inputIds, attentionMask });
    const fromTexts = await mlm.embed(texts);
    expect(maxAbsDiff(fromTexts.data, fromIds.data)).toBeLessThan(1e-5);
    const unit = await mlm.embed(texts, { normalize: true });
    for (let i = 0; i < 2; i++) {
      const norm = Math.hypot(...row(unit, i));
      expect(Math.abs(norm - 1)).toBeLessThan(1e-5);
      expect(Math.abs(Math.hypot(...row(fromTexts, i)) - 1)).toBeGreaterThan(1e-3); // not unit without normalize
    }
    expect(await mlm.embed([])).toEqual({ data: new Float32Array(0), shape: [0, mlm.config.hidden_size] });
  });

  it("refuses a text longer than max_position_embeddings unless truncation is on", async () => {
    const tooLong = "word ".repeat(mlm.config.max_position_embeddings + 10);
    const error = await caught(mlm.embed([short, tooLong]));
    expect(error.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(error.message).toMatch(/^texts\[1\]: \d+ tokens .*more than maxLength 512 \(pass truncation: true/);
    const cut = await mlm.embed([short, tooLong], { truncation: true });
    expect(cut.shape).toEqual([2, mlm.config.hidden_size]);
    expect(cut.data.every(Number.isFinite)).toBe(true);
  });
});
