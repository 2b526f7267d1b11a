// Process-wide facts: threads, the libtorch in use, the CPU tensor cache.
import { describe, expect, it } from "vitest";
import { getNumThreads, LtgBertForMaskedLM, setNumThreads, systemInfo } from "../lib/index.js";

describe("systemInfo", () => {
  it("reports the thread count that setNumThreads set", () => {
    const before = getNumThreads();
    setNumThreads(1);
    expect(systemInfo().threads).toBe(1);
    setNumThreads(before);
    expect(systemInfo().threads).toBe(before);
  });

  it("counts the large blocks a forward takes, fresh or from the cache, and the logits held in JS as live", async () => {
    const mlm = await LtgBertForMaskedLM.fromConfig({
      vocab_size: 4096,
      hidden_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 64,
      max_position_embeddings: 64,
      position_bucket_size: 8,
    });
    const before = systemInfo().cpuCache;
    const ids = { data: new Int32Array(2 * 64).fill(7), shape: [2, 64] };
    const out = await mlm.forward({ inputIds: ids });
    const after = systemInfo().cpuCache;
    const logitsBytes = out.logits.data.byteLength; // 2 MiB: a large block
    expect(logitsBytes).toBe(2 * 64 * 4096 * 4);
    const handedOut = after.freshBytes + after.reusedBytes - (before.freshBytes + before.reusedBytes);
    expect(handedOut).toBeGreaterThanOrEqual(logitsBytes);
    expect(after.freshBlocks + after.reusedBlocks).toBeGreaterThan(before.freshBlocks + before.reusedBlocks);
    expect(after.liveBytes).toBeGreaterThanOrEqual(logitsBytes);
    expect(after.peakLiveBytes).toBeGreaterThanOrEqual(after.liveBytes);
    for (const value of Object.values(after)) expect(Number.isSafeInteger(value) && value >= 0).toBe(true);
    mlm.dispose();
  });
});
