// Calls run off the event loop; one model runs one call at a time and
// queues the rest, and each caller gets its own result.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LtgBertForMaskedLM } from "../lib/index.js";
import { f32, i64, maxAbsDiff, readExpected, TINY } from "./helpers/fixtures.js";

const tiny = readExpected(path.join(TINY, "expected.safetensors"));

describe("concurrency", () => {
  it("resolves 8 concurrent forwards on one model with the right results while the event loop ticks", async () => {
    const mlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "seed-mlm"));
    const ids = i64(tiny, "input_ids");
    const mask = i64(tiny, "attention_mask");
    const expected = f32(tiny, "mlm.logits");
    const rowSize = 17 * 97;
    // Each call gets one row of the fixture batch, so a mixed-up result shows.
    const calls = Array.from({ length: 8 }, (_, i) => {
      const row = i % 3;
      return {
        row,
        promise: mlm.forward({
          inputIds: { data: ids.data.slice(row * 17, row * 17 + 17), shape: [1, 17] },
          attentionMask: { data: mask.data.slice(row * 17, row * 17 + 17), shape: [1, 17] },
        }),
      };
    });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = ticks;
    const results = await Promise.all(calls.map((c) => c.promise));
    clearInterval(timer);
    results.forEach((out, i) => {
      const row = calls[i].row;
      expect(out.logits.shape).toEqual([1, 17, 97]);
      expect(maxAbsDiff(out.logits.data, expected.subarray(row * rowSize, (row + 1) * rowSize))).toBeLessThan(1e-5);
    });
    expect(ticks).toBeGreaterThan(started);
    mlm.dispose();
  });

  it("keeps the event loop free during a long forward", async () => {
    const mlm = await LtgBertForMaskedLM.fromConfig({
      vocab_size: 4096,
      hidden_size: 256,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      intermediate_size: 683,
    });
    const batch = { data: new Int32Array(8 * 256).fill(7), shape: [8, 256] };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = Date.now();
    const pending = Promise.all([mlm.forward({ inputIds: batch }), mlm.forward({ inputIds: batch })]);
    // The forwards run on a worker thread: timers keep firing meanwhile.
    await pending;
    const elapsed = Date.now() - started;
    clearInterval(timer);
    expect(elapsed).toBeGreaterThan(20);
    expect(ticks).toBeGreaterThan(elapsed / 20);
    mlm.dispose();
  });
});
