// fromConfig, parameter counts at the acceptance sizes, config overrides.
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  LtgBertForMaskedLM,
  LtgBertForMultipleChoice,
  LtgBertForQuestionAnswering,
  LtgBertForSequenceClassification,
  LtgBertForTokenClassification,
  LtgBertModel,
} from "../lib/index.js";
import { TINY } from "./helpers/fixtures.js";

// The BabyLM base configuration (ltgoslo/ltg-bert babylm/configs/base.json).
const BASE = {
  vocab_size: 16384,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 2048,
  position_bucket_size: 32,
};

describe("fromConfig", () => {
  it("builds the base masked LM with 98,229,760 parameters", async () => {
    const mlm = await LtgBertForMaskedLM.fromConfig(BASE);
    expect(mlm.numParameters()).toBe(98_229_760);
    mlm.dispose();
  });

  it("builds the base linear classifier with 3 labels with 97,625,091 parameters", async () => {
    const cls = await LtgBertForSequenceClassification.fromConfig({
      ...BASE,
      num_labels: 3,
      classifier_head: "linear",
    });
    expect(cls.numParameters()).toBe(97_625_091);
    expect(cls.numLabels).toBe(3);
    cls.dispose();
  });

  // The README's table. The masked LM less its head (a dense layer and the
  // decoder's bias) is the encoder; each MLP head adds a dense layer and
  // (hidden + 1) per output. The Python reference builds the same counts
  // (reference/check_fixtures.py).
  it("builds the other heads at the base size with the README's parameter counts", async () => {
    const D = BASE.hidden_size;
    const encoder = 98_229_760 - (D * D + D) - BASE.vocab_size;
    const mlp = (outputs: number) => encoder + D * D + D + (D + 1) * outputs;
    expect([encoder, mlp(9), mlp(2), mlp(1)]).toEqual([97_622_784, 98_220_297, 98_214_914, 98_214_145]);
    for (const [make, count] of [
      [() => LtgBertModel.fromConfig(BASE), encoder],
      [() => LtgBertForTokenClassification.fromConfig(BASE, { numLabels: 9 }), mlp(9)],
      [() => LtgBertForQuestionAnswering.fromConfig(BASE), mlp(2)],
      [() => LtgBertForMultipleChoice.fromConfig(BASE), mlp(1)],
    ] as const) {
      const model = await make();
      expect(model.numParameters()).toBe(count);
      model.dispose();
    }
  });

  it("gives the same weights for the same seed and others for another", async () => {
    const small = {
      vocab_size: 50,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 24,
      max_position_embeddings: 16,
      position_bucket_size: 4,
    };
    const a = await LtgBertForMaskedLM.fromConfig(small, { seed: 7 });
    const b = await LtgBertForMaskedLM.fromConfig(small, { seed: 7 });
    const c = await LtgBertForMaskedLM.fromConfig(small, { seed: 8 });
    const key = "embedding.word_embedding.weight";
    const [wa, wb, wc] = await Promise.all([a, b, c].map((m) => m.stateDict().read(key)));
    expect(Array.from(wa.data as Float32Array)).toEqual(Array.from(wb.data as Float32Array));
    expect(Array.from(wa.data as Float32Array)).not.toEqual(Array.from(wc.data as Float32Array));
    // Truncated at two standard deviations of sqrt(2 / (5 * hidden)).
    const bound = 2 * Math.sqrt(2 / (5 * 16));
    expect(Math.max(...Array.from(wa.data as Float32Array, Math.abs))).toBeLessThanOrEqual(bound + 1e-6);
    for (const m of [a, b, c]) m.dispose();
  });

  it("overrides config.json values at load, as keyword arguments do", async () => {
    const cls = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"), {
      config: { hidden_dropout_prob: 0 },
    });
    expect(cls.config.hidden_dropout_prob).toBe(0);
    expect(cls.config.num_labels).toBe(3);
    cls.dispose();
  });
});
