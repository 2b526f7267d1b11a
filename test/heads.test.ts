// The task heads (bare encoder, token classification, question answering,
// multiple choice) and the per-layer outputs, against the Python
// reference's fixtures (test/fixtures/ltgbert-heads/README.md).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LtgBertError,
  LtgBertForMaskedLM,
  LtgBertForMultipleChoice,
  LtgBertForQuestionAnswering,
  LtgBertForSequenceClassification,
  LtgBertForTokenClassification,
  LtgBertModel,
  LtgBertPreTrainedModel,
  type OptimizerOptions,
  type TensorData,
} from "../lib/index.js";
import { BABYLM, f32, HEADS, i64, maxAbsDiff, PYTHON_WITH_TORCH, readExpected, TINY } from "./helpers/fixtures.js";

const TOL = 1e-5;
const PROB_TOL = 1e-6;
const heads = readExpected(path.join(HEADS, "expected.safetensors"));
const meta = JSON.parse(readFileSync(path.join(HEADS, "expected.json"), "utf8"));
const inputs = { inputIds: i64(heads, "input_ids"), attentionMask: i64(heads, "attention_mask") };
const mcInputs = { inputIds: i64(heads, "mc_input_ids"), attentionMask: i64(heads, "mc_attention_mask") };
const LAYERS = meta.config.num_hidden_layers as number;
const HEAD_KEYS = [
  "head.nonlinearity.1.bias",
  "head.nonlinearity.1.weight",
  "head.nonlinearity.5.bias",
  "head.nonlinearity.5.weight",
];

function relative(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected);
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LtgBertError);
    return `${(error as LtgBertError).code}: ${(error as Error).message}`;
  }
  throw new Error("expected a rejection");
}

/** The state-dict keys a checkpoint holds: the model's, without the computed position-index buffers. */
function checkpointKeys(model: LtgBertPreTrainedModel<object, unknown>): string[] {
  return model
    .stateDict()
    .keys()
    .filter((k) => !k.endsWith(".position_indices"))
    .sort();
}

function expectLayers(got: TensorData[] | undefined, prefix: string, count: number, tol: number): void {
  expect(got).toHaveLength(count);
  got!.forEach((t, i) => {
    const want = heads.get(`${prefix}.${i}`)!;
    expect(t.shape, `${prefix}.${i}`).toEqual(want.shape);
    expect(maxAbsDiff(t.data, want.data as Float32Array), `${prefix}.${i}`).toBeLessThan(tol);
  });
}

describe("LtgBertModel (bare encoder)", () => {
  let base: LtgBertModel;
  beforeAll(async () => {
    base = await LtgBertModel.fromPretrained(path.join(HEADS, "base"));
  });
  afterAll(() => base.dispose());

  it("loads base/ strictly, with the reference's parameter count and keys", () => {
    expect(base.loadReport?.missing).toEqual([]);
    expect(base.loadReport?.unexpected).toEqual([]);
    expect(base.numParameters()).toBe(meta.parameter_counts.base);
    expect(checkpointKeys(base)).toEqual([...meta.state_dict_keys.base].sort());
  });

  it("gives the reference's last hidden state, hidden states (differences), layer outputs and attentions", async () => {
    const out = await base.forward(inputs, { outputHiddenStates: true, outputAttentions: true });
    expect(out.lastHiddenState.shape).toEqual([3, 17, 48]);
    expect(maxAbsDiff(out.lastHiddenState.data, f32(heads, "base.last_hidden_state"))).toBeLessThan(TOL);
    expectLayers(out.hiddenStates, "base.hidden_states", LAYERS + 1, TOL);
    expectLayers(out.layerOutputs, "base.layer_outputs", LAYERS + 1, TOL);
    expectLayers(out.attentions, "base.attentions", LAYERS, PROB_TOL);
  });

  it("returns neither hidden states nor attentions unless asked", async () => {
    const out = await base.forward(inputs);
    expect(Object.keys(out).sort()).toEqual(["lastHiddenState"]);
    expect(maxAbsDiff(out.lastHiddenState.data, f32(heads, "base.last_hidden_state"))).toBeLessThan(TOL);
    const attentionsOnly = await base.forward(inputs, { outputAttentions: true });
    expect(attentionsOnly.hiddenStates).toBeUndefined();
    expectLayers(attentionsOnly.attentions, "base.attentions", LAYERS, PROB_TOL);
  });

  it("refuses labels, training steps and hiddenStates: false", async () => {
    expect(await code(base.forward({ ...inputs, labels: [0, 1, 2] } as never))).toMatch(
      /^LTGBERT_INVALID_ARGUMENT: labels: the bare encoder has no head/,
    );
    const opt = base.createOptimizer({ learningRate: 1e-3 });
    expect(await code(base.trainStep({ ...inputs, labels: [0, 1, 2] } as never, opt))).toMatch(/INVALID_ARGUMENT/);
    await expect(base.forward(inputs, { hiddenStates: false })).rejects.toThrow(/options.hiddenStates/);
  });
});

describe("LtgBertForTokenClassification", () => {
  let tok: LtgBertForTokenClassification;
  beforeAll(async () => {
    tok = await LtgBertForTokenClassification.fromPretrained(path.join(HEADS, "tok"));
  });
  afterAll(() => tok.dispose());

  it("loads tok/ strictly with its labels", () => {
    expect(tok.loadReport?.missing).toEqual([]);
    expect(tok.numLabels).toBe(5);
    expect(tok.labelNames).toEqual(["TAG0", "TAG1", "TAG2", "TAG3", "TAG4"]);
    expect(tok.numParameters()).toBe(meta.parameter_counts.tok_5_labels);
    expect(checkpointKeys(tok)).toEqual([...meta.state_dict_keys.tok].sort());
  });

  it("gives the reference's logits and loss (labels -100 ignored), and the shared encoder's layers", async () => {
    const out = await tok.forward(
      { ...inputs, labels: i64(heads, "tok_labels") },
      { outputHiddenStates: true, outputAttentions: true },
    );
    expect(out.logits.shape).toEqual([3, 17, 5]);
    expect(maxAbsDiff(out.logits.data, f32(heads, "tok.logits"))).toBeLessThan(TOL);
    expect(relative(out.loss!, f32(heads, "tok.loss")[0])).toBeLessThan(TOL);
    // All four fixture models share one encoder.
    expectLayers(out.hiddenStates, "base.hidden_states", LAYERS + 1, TOL);
    expectLayers(out.attentions, "base.attentions", LAYERS, PROB_TOL);
  });

  it("three AdamW steps give the reference's losses, pre-clip norms, rates and weights", async () => {
    const train = meta.tok_train;
    const model = await LtgBertForTokenClassification.fromPretrained(path.join(HEADS, "tok"), {
      config: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 },
    });
    const options: OptimizerOptions = {
      learningRate: train.learning_rate,
      betas: train.adam_betas,
      eps: train.adam_eps,
      weightDecay: train.weight_decay,
      maxGradNorm: train.max_grad_norm,
      schedule: { kind: "linear", warmupSteps: train.warmup_steps, totalSteps: train.steps },
    };
    const opt = model.createOptimizer(options);
    const batch = { ...inputs, labels: i64(heads, "tok_labels") };
    for (let step = 0; step < train.steps; step++) {
      const r = await model.trainStep(batch, opt);
      expect(relative(r.loss, f32(heads, "tok_train.losses")[step])).toBeLessThan(1e-5);
      expect(relative(r.gradNorm, f32(heads, "tok_train.grad_norms")[step])).toBeLessThan(1e-5);
      expect(r.learningRate).toBeCloseTo(f32(heads, "tok_train.lrs")[step], 9);
    }
    const names = [...heads.keys()].filter((k) => k.startsWith("tok_train.final.")).map((k) => k.slice(16));
    expect(names.sort()).toEqual([...meta.state_dict_keys.tok].sort());
    const sd = model.stateDict();
    for (const name of names) {
      const got = (await sd.read(name)).data as Float32Array;
      expect(maxAbsDiff(got, f32(heads, `tok_train.final.${name}`)), name).toBeLessThan(1e-4);
    }
    model.dispose();
  });

  it("rejects labels out of range or of the wrong shape", async () => {
    const labels = Array.from(i64(heads, "tok_labels").data, Number);
    labels[1] = 5;
    expect(await code(tok.forward({ ...inputs, labels: { data: Int32Array.from(labels), shape: [3, 17] } }))).toBe(
      "LTGBERT_INVALID_ARGUMENT: labels: expected -100 or a label in [0, 5), got 5 at [0, 1]",
    );
    labels[1] = -1;
    expect(await code(tok.forward({ ...inputs, labels: { data: Int32Array.from(labels), shape: [3, 17] } }))).toMatch(
      /got -1 at \[0, 1\]/,
    );
    expect(await code(tok.forward({ ...inputs, labels: [0, 1, 2] }))).toBe(
      "LTGBERT_INVALID_ARGUMENT: labels: expected shape [3, 17], got [3]",
    );
  });
});

describe("LtgBertForQuestionAnswering", () => {
  let qa: LtgBertForQuestionAnswering;
  const starts = Array.from(i64(heads, "qa_start_positions").data, Number);
  const ends = Array.from(i64(heads, "qa_end_positions").data, Number);
  beforeAll(async () => {
    qa = await LtgBertForQuestionAnswering.fromPretrained(path.join(HEADS, "qa"));
  });
  afterAll(() => qa.dispose());

  it("loads qa/ strictly", () => {
    expect(qa.loadReport?.missing).toEqual([]);
    expect(qa.numParameters()).toBe(meta.parameter_counts.qa);
    expect(checkpointKeys(qa)).toEqual([...meta.state_dict_keys.qa].sort());
  });

  it("gives the reference's start and end logits and loss", async () => {
    const out = await qa.forward({ ...inputs, startPositions: starts, endPositions: ends });
    expect(out.startLogits.shape).toEqual([3, 17]);
    expect(out.endLogits.shape).toEqual([3, 17]);
    expect(maxAbsDiff(out.startLogits.data, f32(heads, "qa.start_logits"))).toBeLessThan(TOL);
    expect(maxAbsDiff(out.endLogits.data, f32(heads, "qa.end_logits"))).toBeLessThan(TOL);
    expect(relative(out.loss!, f32(heads, "qa.loss")[0])).toBeLessThan(TOL);
    expect("logits" in out).toBe(false);
  });

  it("ignores start and end positions beyond the sequence, as the reference does", async () => {
    // Cross-entropy of the fixture's logits over the rows whose position lies inside the sequence.
    const ce = (logits: Float32Array, targets: number[]): number => {
      let sum = 0;
      let n = 0;
      targets.forEach((t, row) => {
        if (t >= 17) return;
        const x = Array.from(logits.subarray(row * 17, row * 17 + 17));
        const max = Math.max(...x);
        const lse = max + Math.log(x.reduce((a, v) => a + Math.exp(v - max), 0));
        sum += lse - x[t];
        n++;
      });
      return sum / n;
    };
    const s = [starts[0], 17, 1000];
    const e = [ends[0], ends[1], 17];
    const out = await qa.forward({ ...inputs, startPositions: s, endPositions: e });
    const want = (ce(f32(heads, "qa.start_logits"), s) + ce(f32(heads, "qa.end_logits"), e)) / 2;
    expect(relative(out.loss!, want)).toBeLessThan(1e-5);
    expect(Number.isFinite(out.loss!)).toBe(true);
  });

  it("rejects positions of the wrong length or given alone", async () => {
    expect(await code(qa.forward({ ...inputs, startPositions: [1, 2], endPositions: [1, 2] }))).toMatch(
      /^LTGBERT_INVALID_ARGUMENT: inputs.startPositions: expected 3 positions/,
    );
    expect(await code(qa.forward({ ...inputs, startPositions: starts }))).toMatch(/inputs.endPositions/);
    const opt = qa.createOptimizer({ learningRate: 1e-3 });
    expect(await code(qa.trainStep(inputs, opt))).toMatch(/batch.startPositions/);
  });
});

describe("LtgBertForMultipleChoice", () => {
  let mc: LtgBertForMultipleChoice;
  beforeAll(async () => {
    mc = await LtgBertForMultipleChoice.fromPretrained(path.join(HEADS, "mc"));
  });
  afterAll(() => mc.dispose());

  it("loads mc/ strictly", () => {
    expect(mc.loadReport?.missing).toEqual([]);
    expect(mc.numParameters()).toBe(meta.parameter_counts.mc);
    expect(checkpointKeys(mc)).toEqual([...meta.state_dict_keys.mc].sort());
  });

  it("gives the reference's logits [B, C] and loss, with one row per choice for the per-position outputs", async () => {
    const labels = Array.from(i64(heads, "mc_labels").data, Number);
    const out = await mc.forward({ ...mcInputs, labels }, { outputHiddenStates: true });
    expect(out.logits.shape).toEqual([3, 4]);
    expect(maxAbsDiff(out.logits.data, f32(heads, "mc.logits"))).toBeLessThan(TOL);
    expect(relative(out.loss!, f32(heads, "mc.loss")[0])).toBeLessThan(TOL);
    expect(out.lastHiddenState?.shape).toEqual([12, 17, 48]);
    expect(out.hiddenStates).toHaveLength(LAYERS + 1);
    // Without the hidden state, the last layer computes the first tokens alone: the same logits.
    const fast = await mc.forward(mcInputs, { hiddenStates: false });
    expect(fast.lastHiddenState).toBeUndefined();
    expect(maxAbsDiff(fast.logits.data, f32(heads, "mc.logits"))).toBeLessThan(TOL);
  });

  it("takes nested arrays [B][C][T]", async () => {
    const nest = (t: { data: BigInt64Array }) =>
      [0, 1, 2].map((b) =>
        [0, 1, 2, 3].map((c) => Array.from(t.data.subarray((b * 4 + c) * 17, (b * 4 + c + 1) * 17), Number)),
      );
    const out = await mc.forward({ inputIds: nest(mcInputs.inputIds), attentionMask: nest(mcInputs.attentionMask) });
    expect(maxAbsDiff(out.logits.data, f32(heads, "mc.logits"))).toBeLessThan(TOL);
  });

  it("rejects a mismatched number of choices, labels out of range and [B, T] ids", async () => {
    const ids = mcInputs.inputIds;
    const mask3 = { data: mcInputs.attentionMask.data.subarray(0, 3 * 3 * 17), shape: [3, 3, 17] };
    expect(await code(mc.forward({ inputIds: ids, attentionMask: mask3 }))).toMatch(
      /^LTGBERT_INVALID_ARGUMENT: attentionMask: expected shape \[3, 4, 17\] like inputIds/,
    );
    expect(
      await code(
        mc.forward({
          inputIds: [
            [[1, 2]],
            [
              [1, 2],
              [1, 2],
            ],
          ],
        }),
      ),
    ).toMatch(/inputIds\[1\]: expected 1 choices/);
    expect(await code(mc.forward({ ...mcInputs, labels: [0, 4, 1] }))).toBe(
      "LTGBERT_INVALID_ARGUMENT: labels: expected a choice in [0, 4), got 4 at index 1",
    );
    expect(await code(mc.forward({ ...mcInputs, labels: [0, 1] }))).toBe(
      "LTGBERT_INVALID_ARGUMENT: labels: expected shape [3], got [2]",
    );
    expect(await code(mc.forward(inputs as never))).toMatch(/^LTGBERT_INVALID_ARGUMENT: inputIds/);
  });
});

describe("outputHiddenStates and outputAttentions on the existing classes", () => {
  it("masked LM: the differences sum to the last hidden state; attention rows are distributions over unpadded keys", async () => {
    const mlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"));
    const tiny = readExpected(path.join(TINY, "expected.safetensors"));
    const mask = Array.from(i64(tiny, "attention_mask").data, Number);
    const out = await mlm.forward(
      { inputIds: i64(tiny, "input_ids"), attentionMask: i64(tiny, "attention_mask") },
      { outputHiddenStates: true, outputAttentions: true },
    );
    expect(maxAbsDiff(out.logits.data, f32(tiny, "hub_mlm.logits"))).toBeLessThan(TOL);
    const sum = new Float32Array(out.lastHiddenState!.data.length);
    for (const h of out.hiddenStates!) h.data.forEach((v, i) => (sum[i] += v));
    expect(maxAbsDiff(sum, out.lastHiddenState!.data)).toBeLessThan(1e-4);
    expect(out.layerOutputs![LAYERS].data).toEqual(out.lastHiddenState!.data);
    for (const a of out.attentions!) {
      expect(a.shape).toEqual([3, 4, 17, 17]);
      for (let row = 0; row < 3 * 4 * 17; row++) {
        const b = Math.floor(row / (4 * 17));
        const p = a.data.subarray(row * 17, row * 17 + 17);
        expect(Math.abs(p.reduce((x, y) => x + y, 0) - 1)).toBeLessThan(1e-5);
        p.forEach((v, k) => mask[b * 17 + k] === 0 && expect(v).toBe(0));
      }
    }
    mlm.dispose();
  });

  it("sequence classification gives them too, and the first-token shortcut does not apply", async () => {
    const cls = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "hub-cls"));
    const out = await cls.forward(inputs, { hiddenStates: false, outputHiddenStates: true });
    expect(out.hiddenStates).toHaveLength(LAYERS + 1);
    expect(out.layerOutputs![LAYERS].shape).toEqual([3, 17, 48]);
    cls.dispose();
  });
});

describe("transfer from a masked LM", () => {
  let mlm: LtgBertForMaskedLM;
  const encoderKeys: string[] = [];
  const encoder = new Map<string, Float32Array>();
  beforeAll(async () => {
    mlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"));
    const sd = mlm.stateDict();
    for (const key of sd.keys()) {
      if (!key.startsWith("embedding.") && !key.startsWith("transformer.")) continue;
      if (key.endsWith(".position_indices")) continue;
      encoderKeys.push(key);
      encoder.set(key, (await sd.read(key)).data as Float32Array);
    }
  });
  afterAll(() => mlm.dispose());

  const cases = [
    ["LtgBertModel", () => LtgBertModel.fromMaskedLM(mlm), []],
    [
      "LtgBertForTokenClassification",
      () => LtgBertForTokenClassification.fromMaskedLM(mlm, { numLabels: 7 }),
      HEAD_KEYS,
    ],
    ["LtgBertForQuestionAnswering", () => LtgBertForQuestionAnswering.fromMaskedLM(mlm), HEAD_KEYS],
    ["LtgBertForMultipleChoice", () => LtgBertForMultipleChoice.fromMaskedLM(mlm, { seed: 3 }), HEAD_KEYS],
  ] as const;

  for (const [name, make, missing] of cases) {
    it(`${name}.fromMaskedLM copies the encoder bit for bit and reports exactly the new head`, async () => {
      const model = await make();
      expect(model.loadReport?.missing).toEqual(missing);
      expect(model.loadReport?.mismatched).toEqual([]);
      expect(model.loadReport?.unexpected.every((k) => k.startsWith("classifier."))).toBe(true);
      expect(model.loadReport?.unexpected).toContain("classifier.nonlinearity.1.weight");
      const sd = model.stateDict();
      expect(encoderKeys.length).toBe(meta.state_dict_keys.base.length);
      for (const key of encoderKeys) {
        expect(Buffer.from(((await sd.read(key)).data as Float32Array).buffer)).toEqual(
          Buffer.from(encoder.get(key)!.buffer),
        );
      }
      model.dispose();
    });
  }

  it("fromPretrained of a masked-LM directory initialises and reports the head, as Hugging Face does", async () => {
    const tok = await LtgBertForTokenClassification.fromPretrained(path.join(TINY, "hub-mlm"), { numLabels: 3 });
    expect(tok.loadReport?.missing).toEqual(HEAD_KEYS);
    const again = await LtgBertForTokenClassification.fromMaskedLM(mlm, { numLabels: 3 });
    // Same seed, same head.
    const a = (await tok.stateDict().read("head.nonlinearity.5.weight")).data as Float32Array;
    const b = (await again.stateDict().read("head.nonlinearity.5.weight")).data as Float32Array;
    expect(Array.from(a)).toEqual(Array.from(b));
    const base = await LtgBertModel.fromPretrained(path.join(TINY, "hub-mlm"));
    expect(base.loadReport?.missing).toEqual([]);
    expect(base.loadReport?.unexpected).toContain("classifier.nonlinearity.5.bias");
    for (const m of [tok, again, base]) m.dispose();
  });
});

describe("a wrong head for the class", () => {
  it("a strict load names the keys; a default one reports them and initialises the head", async () => {
    expect(await code(LtgBertForQuestionAnswering.fromPretrained(path.join(HEADS, "tok"), { strict: true }))).toMatch(
      /^LTGBERT_SHAPE_MISMATCH: .*head\.nonlinearity\.5\.weight: expected \[2, 48\], got \[5, 48\]/,
    );
    const qa = await LtgBertForQuestionAnswering.fromPretrained(path.join(HEADS, "tok"));
    expect(qa.loadReport?.mismatched.map((m) => m.key).sort()).toEqual([
      "head.nonlinearity.5.bias",
      "head.nonlinearity.5.weight",
    ]);
    // The seeded initialisation: zero biases.
    expect(Array.from((await qa.stateDict().read("head.nonlinearity.5.bias")).data as Float32Array)).toEqual([0, 0]);
    qa.dispose();
    expect(
      await code(LtgBertForTokenClassification.fromPretrained(path.join(TINY, "seed-cls"), { strict: true })),
    ).toMatch(
      /^LTGBERT_MISSING_KEYS: .*missing 4 keys: head\.nonlinearity.*unexpected 2 keys: classifier\.bias, classifier\.weight/,
    );
  });
});

const python = PYTHON_WITH_TORCH;
describe.skipIf(python === null)(
  `the round trip through the Python reference${python === null ? " (skipped: no python3 with torch; set LTGBERT_TEST_PYTHON)" : ""}`,
  () => {
    const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-heads-"));
    afterAll(() => rmSync(work, { recursive: true, force: true }));
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "python", "heads_roundtrip.py");
    const nested = (t: { data: BigInt64Array; shape: number[] }): unknown => {
      const build = (offset: number, dims: number[]): unknown =>
        dims.length === 1
          ? Array.from(t.data.subarray(offset, offset + dims[0]), Number)
          : Array.from({ length: dims[0] }, (_, i) =>
              build(offset + i * dims.slice(1).reduce((a, b) => a * b, 1), dims.slice(1)),
            );
      return build(0, t.shape);
    };
    const pyInputs = {
      input_ids: nested(inputs.inputIds),
      attention_mask: nested(inputs.attentionMask),
      labels: nested(i64(heads, "tok_labels")),
      start_positions: Array.from(i64(heads, "qa_start_positions").data, Number),
      end_positions: Array.from(i64(heads, "qa_end_positions").data, Number),
    };
    const pyMcInputs = {
      input_ids: nested(mcInputs.inputIds),
      attention_mask: nested(mcInputs.attentionMask),
      labels: Array.from(i64(heads, "mc_labels").data, Number),
    };
    const inputsFile = path.join(work, "inputs.json");
    const mcInputsFile = path.join(work, "mc-inputs.json");
    writeFileSync(inputsFile, JSON.stringify(pyInputs));
    writeFileSync(mcInputsFile, JSON.stringify(pyMcInputs));

    interface PythonRun {
      architecture: string;
      outputs: Record<string, { shape: number[]; data: number[] }>;
      loss?: number;
    }
    const runPython = (args: string[]): PythonRun =>
      JSON.parse(execFileSync(python!, [script, ...args], { encoding: "utf8", timeout: 120_000 })) as PythonRun;

    type AnyModel = LtgBertPreTrainedModel<object, unknown>;
    /** Node's outputs under the Python reference's names. */
    async function nodeOutputs(model: AnyModel): Promise<{ outputs: Record<string, TensorData>; loss?: number }> {
      if (model instanceof LtgBertModel) {
        const o = await model.forward(inputs, { outputHiddenStates: true, outputAttentions: true });
        const outputs: Record<string, TensorData> = { last_hidden_state: o.lastHiddenState };
        o.hiddenStates!.forEach((t, i) => (outputs[`hidden_states.${i}`] = t));
        o.layerOutputs!.forEach((t, i) => (outputs[`layer_outputs.${i}`] = t));
        o.attentions!.forEach((t, i) => (outputs[`attentions.${i}`] = t));
        return { outputs };
      }
      if (model instanceof LtgBertForQuestionAnswering) {
        const o = await model.forward({
          ...inputs,
          startPositions: pyInputs.start_positions,
          endPositions: pyInputs.end_positions,
        });
        return {
          outputs: { last_hidden_state: o.lastHiddenState!, start_logits: o.startLogits, end_logits: o.endLogits },
          loss: o.loss,
        };
      }
      if (model instanceof LtgBertForMultipleChoice) {
        const o = await model.forward({ ...mcInputs, labels: pyMcInputs.labels });
        return { outputs: { last_hidden_state: o.lastHiddenState!, logits: o.logits }, loss: o.loss };
      }
      const o = await (model as LtgBertForTokenClassification).forward({ ...inputs, labels: i64(heads, "tok_labels") });
      return { outputs: { last_hidden_state: o.lastHiddenState!, logits: o.logits }, loss: o.loss };
    }

    function expectSame(node: { outputs: Record<string, TensorData>; loss?: number }, py: PythonRun): void {
      expect(Object.keys(node.outputs).sort()).toEqual(Object.keys(py.outputs).sort());
      for (const [name, t] of Object.entries(node.outputs)) {
        expect(t.shape, name).toEqual(py.outputs[name].shape);
        const tol = name.startsWith("attentions") ? PROB_TOL : TOL;
        expect(maxAbsDiff(t.data, py.outputs[name].data), name).toBeLessThan(tol);
      }
      if (py.loss !== undefined) expect(relative(node.loss!, py.loss)).toBeLessThan(TOL);
    }

    const classes = [
      ["LtgBertModel", (m: LtgBertForMaskedLM) => LtgBertModel.fromMaskedLM(m)],
      [
        "LtgBertForTokenClassification",
        (m: LtgBertForMaskedLM) =>
          LtgBertForTokenClassification.fromMaskedLM(m, { numLabels: 5, id2label: ["O", "A", "B", "C", "D"] }),
      ],
      ["LtgBertForQuestionAnswering", (m: LtgBertForMaskedLM) => LtgBertForQuestionAnswering.fromMaskedLM(m)],
      ["LtgBertForMultipleChoice", (m: LtgBertForMaskedLM) => LtgBertForMultipleChoice.fromMaskedLM(m)],
    ] as const;
    const loaders: Record<string, (dir: string) => Promise<AnyModel>> = {
      LtgBertModel: (dir) => LtgBertModel.fromPretrained(dir, { strict: true }),
      LtgBertForTokenClassification: (dir) => LtgBertForTokenClassification.fromPretrained(dir, { strict: true }),
      LtgBertForQuestionAnswering: (dir) => LtgBertForQuestionAnswering.fromPretrained(dir, { strict: true }),
      LtgBertForMultipleChoice: (dir) => LtgBertForMultipleChoice.fromPretrained(dir, { strict: true }),
    };

    for (const [name, transfer] of classes) {
      it(`${name}: Node saves, the reference loads it strictly and gives the same outputs`, async () => {
        const mlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"));
        const model: AnyModel = await transfer(mlm);
        mlm.dispose();
        for (const format of ["safetensors", "pytorch"] as const) {
          const dir = path.join(work, `node-${name}-${format}`);
          await model.savePretrained(dir, { format });
          const config = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
          expect(config.architectures).toEqual([name]);
          if (name === "LtgBertForTokenClassification") {
            expect(config.num_labels).toBe(5);
            expect(config.id2label).toEqual({ "0": "O", "1": "A", "2": "B", "3": "C", "4": "D" });
            expect(config.label2id).toEqual({ O: 0, A: 1, B: 2, C: 3, D: 4 });
          }
          if (name === "LtgBertForQuestionAnswering") expect(config.num_labels).toBe(2);
          if (name === "LtgBertForMultipleChoice") expect(config.num_labels).toBe(1);
          const py = runPython(["run", dir, name === "LtgBertForMultipleChoice" ? mcInputsFile : inputsFile]);
          expect(py.architecture).toBe(name);
          expectSame(await nodeOutputs(model), py);
        }
        model.dispose();
      });

      it(`${name}: the reference saves, Node loads it strictly and gives the same outputs`, async () => {
        const dir = path.join(work, `py-${name}`);
        const py = runPython([
          "write",
          dir,
          name,
          path.join(HEADS, "base", "config.json"),
          name === "LtgBertForMultipleChoice" ? mcInputsFile : inputsFile,
        ]);
        const model = await loaders[name](dir);
        expect(model.loadReport).toMatchObject({ missing: [], unexpected: [], mismatched: [] });
        expectSame(await nodeOutputs(model), py);
        if (model instanceof LtgBertForTokenClassification)
          expect(model.labelNames).toEqual(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]);
        model.dispose();
      });
    }
  },
);

describe("the encoder under every head (the base class's encoderOutput, for what builds on it)", () => {
  type Probe = {
    encoderOutput(batch: {
      inputIds: BigInt64Array;
      attentionMask: BigInt64Array;
      shape: [number, number];
    }): Promise<{ lastHiddenState: TensorData }>;
  };
  const batch = {
    inputIds: inputs.inputIds.data,
    attentionMask: inputs.attentionMask.data,
    shape: [3, 17] as [number, number],
  };
  const loads = [
    ["base", () => LtgBertModel.fromPretrained(path.join(HEADS, "base"))],
    ["tok", () => LtgBertForTokenClassification.fromPretrained(path.join(HEADS, "tok"))],
    ["qa", () => LtgBertForQuestionAnswering.fromPretrained(path.join(HEADS, "qa"))],
    ["mc", () => LtgBertForMultipleChoice.fromPretrained(path.join(HEADS, "mc"))],
  ] as const;
  for (const [name, load] of loads) {
    it(`${name}: [B, T] sequences give the shared encoder's last hidden state`, async () => {
      const model = await load();
      const out = await (model as unknown as Probe).encoderOutput(batch);
      expect(out.lastHiddenState.shape).toEqual([3, 17, 48]);
      expect(maxAbsDiff(out.lastHiddenState.data, f32(heads, "base.last_hidden_state"))).toBeLessThan(TOL);
      model.dispose();
    });
  }
});

describe("variants", () => {
  it("the global position split (ltgbert-babylm) under the bare encoder gives that fixture's hidden state", async () => {
    const babylm = readExpected(path.join(BABYLM, "expected.safetensors"));
    const enc = await LtgBertModel.fromPretrained(BABYLM);
    expect(enc.config.position_qk_split).toBe("global");
    const out = await enc.forward(
      { inputIds: i64(babylm, "input_ids"), attentionMask: i64(babylm, "attention_mask") },
      { outputHiddenStates: true },
    );
    expect(maxAbsDiff(out.lastHiddenState.data, f32(babylm, "mlm.last_hidden_state"))).toBeLessThan(TOL);
    expect(out.layerOutputs![LAYERS].data).toEqual(out.lastHiddenState.data);
    enc.dispose();
  });

  it("takes int32 and int64 labels and positions alike, one row, one choice, one token", async () => {
    const tok = await LtgBertForTokenClassification.fromPretrained(path.join(HEADS, "tok"));
    const labels = i64(heads, "tok_labels");
    const a = await tok.forward({ ...inputs, labels });
    const b = await tok.forward({ ...inputs, labels: { data: Int32Array.from(labels.data, Number), shape: [3, 17] } });
    expect(b.loss).toBe(a.loss);
    const single = await tok.forward({ inputIds: [[5]], labels: [[2]] });
    expect(single.logits.shape).toEqual([1, 1, 5]);
    expect(Number.isFinite(single.loss!)).toBe(true);
    tok.dispose();

    const qa = await LtgBertForQuestionAnswering.fromPretrained(path.join(HEADS, "qa"));
    const s = i64(heads, "qa_start_positions").data;
    const e = i64(heads, "qa_end_positions").data;
    const big = await qa.forward({ ...inputs, startPositions: s, endPositions: e });
    const small = await qa.forward({
      ...inputs,
      startPositions: Int32Array.from(s, Number),
      endPositions: [...e].map(Number),
    });
    expect(relative(big.loss!, f32(heads, "qa.loss")[0])).toBeLessThan(TOL);
    expect(small.loss).toBe(big.loss);
    qa.dispose();

    const mc = await LtgBertForMultipleChoice.fromPretrained(path.join(HEADS, "mc"));
    const one = await mc.forward({ inputIds: [[[1, 5, 7]]], labels: BigInt64Array.from([0n]) });
    expect(one.logits.shape).toEqual([1, 1]);
    expect(one.loss).toBe(0); // one choice: certain
    mc.dispose();
  });
});

describe("savePretrained's auto_map", () => {
  it("gains the class's AutoModel entry beside the others, in the same module, and keeps one already there", async () => {
    const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-heads-automap-"));
    const source = path.join(work, "source");
    mkdirSync(source);
    copyFileSync(path.join(TINY, "hub-mlm", "model.safetensors"), path.join(source, "model.safetensors"));
    const config = JSON.parse(readFileSync(path.join(TINY, "hub-mlm", "config.json"), "utf8"));
    config.auto_map = {
      AutoConfig: "configuration_ltgbert.LtgBertConfig",
      AutoModelForMaskedLM: "modeling_ltgbert.LtgBertForMaskedLM",
      AutoModelForMultipleChoice: "modeling_other.Elsewhere",
    };
    writeFileSync(path.join(source, "config.json"), JSON.stringify(config));
    const saved = async (model: LtgBertPreTrainedModel<object, unknown>, name: string) => {
      await model.savePretrained(path.join(work, name));
      model.dispose();
      return JSON.parse(readFileSync(path.join(work, name, "config.json"), "utf8")).auto_map;
    };
    expect(await saved(await LtgBertModel.fromPretrained(source), "base")).toEqual({
      ...config.auto_map,
      AutoModel: "modeling_ltgbert.LtgBertModel",
    });
    expect(await saved(await LtgBertForTokenClassification.fromPretrained(source), "tok")).toEqual({
      ...config.auto_map,
      AutoModelForTokenClassification: "modeling_ltgbert.LtgBertForTokenClassification",
    });
    expect(await saved(await LtgBertForQuestionAnswering.fromPretrained(source), "qa")).toEqual({
      ...config.auto_map,
      AutoModelForQuestionAnswering: "modeling_ltgbert.LtgBertForQuestionAnswering",
    });
    expect(await saved(await LtgBertForMultipleChoice.fromPretrained(source), "mc")).toEqual(config.auto_map);
    // Without an auto_map, none is made up.
    const plain = await LtgBertForQuestionAnswering.fromPretrained(path.join(TINY, "hub-mlm"));
    expect(await saved(plain, "plain")).toBeUndefined();
    rmSync(work, { recursive: true, force: true });
  });
});
