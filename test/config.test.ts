// fromConfig, parameter counts at the acceptance sizes, config overrides.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LtgBertForMaskedLM, LtgBertForSequenceClassification } from "../lib/index.js";
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
