// Process-wide facts: threads, the libtorch in use, the CPU tensor cache.
import { describe, expect, it } from "vitest";
import {
  getNumThreads,
  LtgBertForMaskedLM,
  LtgBertForSequenceClassification,
  setNumThreads,
  systemInfo,
} from "../lib/index.js";
import { maxAbsDiff, SMALL_MLM } from "./helpers/fixtures.js";

// The caller's-array and reordered-weight paths are oneDNN's: without it (a
// build without libdnnl-dev, or LTGBERT_DISABLE_ONEDNN=1) their tests skip.
const oneDnn = systemInfo().oneDnn !== "";
const skipNote = oneDnn ? "" : " (skipped: the linear layers run on libtorch's own ops here, not oneDNN)";

describe("systemInfo", () => {
  it("reports the thread count that setNumThreads set", () => {
    const before = getNumThreads();
    setNumThreads(1);
    expect(systemInfo().threads).toBe(1);
    setNumThreads(before);
    expect(systemInfo().threads).toBe(before);
    // A version such as "3.4.1", or "" where libtorch's own ops run.
    expect(systemInfo().oneDnn).toMatch(process.env.LTGBERT_DISABLE_ONEDNN === "1" ? /^$/ : /^(\d+\.\d+\.\d+)?$/);
  });

  it("says why oneDNN is in use or not, in step with the version it reports", () => {
    const { oneDnn, oneDnnStatus } = systemInfo();
    if (process.env.LTGBERT_DISABLE_ONEDNN === "1") {
      expect(oneDnnStatus).toBe("disabled-at-runtime");
    } else {
      // The build's decision (CMakeLists.txt or find-libtorch.mjs for node-gyp).
      expect([
        "used",
        "not-found",
        "config-failed",
        "build-failed",
        "run-failed",
        "turned-off",
        "libtorch-bundles-its-own",
      ]).toContain(oneDnnStatus);
    }
    expect(oneDnnStatus === "used").toBe(oneDnn !== "");
  });

  it("shows the LTGBERT_* settings as the addon read them from this environment", () => {
    const flag = (name: string, otherwise: boolean): boolean => {
      const value = process.env[name];
      return value === undefined || value === "" ? otherwise : value !== "0";
    };
    const { settings, oneDnnStatus } = systemInfo();
    expect(settings.disableOneDnn).toBe(flag("LTGBERT_DISABLE_ONEDNN", false));
    expect(settings.disableOneDnn).toBe(oneDnnStatus === "disabled-at-runtime");
    expect(settings.packWeights).toBe(flag("LTGBERT_PACK_WEIGHTS", true));
    const cacheMb = process.env.LTGBERT_CPU_CACHE_MB;
    expect(settings.cpuCacheMb).toBe(cacheMb === undefined ? null : Number.parseInt(cacheMb, 10) || 0);
    expect(settings.profileTrace).toBe(process.env.LTGBERT_PROFILE_TRACE ?? "");
    expect(settings.profileCall).toBe(
      process.env.LTGBERT_PROFILE_CALL === undefined ? 3 : Number.parseInt(process.env.LTGBERT_PROFILE_CALL, 10) || 0,
    );
  });

  it("counts the large blocks a forward takes, fresh or from the cache, and the logits held in JS as live", async () => {
    const mlm = await LtgBertForMaskedLM.fromConfig(SMALL_MLM);
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

describe("results handed to JS", () => {
  it("go back to the tensor cache once JS drops them: sixty forwards take only a few fresh blocks", async () => {
    const mlm = await LtgBertForMaskedLM.fromConfig(SMALL_MLM);
    const ids = { data: new Int32Array(8 * 64).fill(7), shape: [8, 64] };
    const logitsBytes = (await mlm.forward({ inputIds: ids })).logits.data.byteLength; // 8 MiB, dropped at once
    const before = systemInfo().cpuCache;
    for (let i = 0; i < 60; i++) await mlm.forward({ inputIds: ids });
    const after = systemInfo().cpuCache;
    // Never collected, the logits alone would take 60 fresh blocks (480 MiB).
    expect(after.freshBlocks - before.freshBlocks).toBeLessThanOrEqual(16);
    expect(after.peakLiveBytes).toBeLessThan(24 * logitsBytes);
    expect(after.reusedBlocks - before.reusedBlocks).toBeGreaterThan(40);
    mlm.dispose();
  });

  it("copied into the caller's arrays take only reused blocks: twenty forwards, nothing fresh from the system", async () => {
    const mlm = await LtgBertForMaskedLM.fromConfig(SMALL_MLM);
    const ids = { data: new Int32Array(8 * 64).fill(7), shape: [8, 64] };
    const fresh = await mlm.forward({ inputIds: ids });
    const logitsBytes = fresh.logits.data.byteLength; // 8 MiB
    const out = { logits: new Float32Array(fresh.logits.data.length) };
    await mlm.forward({ inputIds: ids }, { out });
    const before = systemInfo().cpuCache.freshBytes;
    for (let i = 0; i < 20; i++) await mlm.forward({ inputIds: ids }, { out });
    // The logits are computed into a block of the tensor cache and copied into
    // the caller's array at the end: the same block comes back every time.
    expect(systemInfo().cpuCache.freshBytes - before).toBeLessThan(logitsBytes);
    expect(maxAbsDiff(out.logits, fresh.logits.data)).toBe(0);
    mlm.dispose();
  });
});

describe.skipIf(!oneDnn)(`inference's reordered weights${skipNote}`, () => {
  const config = {
    vocab_size: 1024,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 128,
    max_position_embeddings: 64,
    position_bucket_size: 8,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    classifier_dropout: 0,
  };
  const ids = {
    data: Int32Array.from({ length: 4 * 32 }, (_, i) => 5 + ((i * 37) % 1000)),
    shape: [4, 32],
  };
  const labels = [0, 1, 1, 0];

  it("follow the weights when a training step or loadStateDict changes them, and go with the model", async () => {
    const model = await LtgBertForSequenceClassification.fromConfig(config, { numLabels: 2, seed: 3 });
    const before = (await model.forward({ inputIds: ids })).logits.data;
    expect(systemInfo().packedWeights.tensors).toBeGreaterThan(0); // this forward kept reordered weights

    const opt = model.createOptimizer({ learningRate: 1e-2 });
    await model.trainStep({ inputIds: ids, labels }, opt);
    const after = (await model.forward({ inputIds: ids })).logits.data;

    // A second model with the trained weights, never run before: what the first must give now.
    const copy = await LtgBertForSequenceClassification.fromConfig(config, { numLabels: 2, seed: 4 });
    await copy.loadStateDict(model.stateDict());
    const expected = (await copy.forward({ inputIds: ids })).logits.data;
    expect(maxAbsDiff(after, expected)).toBeLessThan(1e-6);
    expect(maxAbsDiff(after, before)).toBeGreaterThan(1e-3); // the step did change the outputs

    // loadStateDict into a model that has run: the old weights' copies must not serve.
    const fresh = await LtgBertForSequenceClassification.fromConfig(config, { numLabels: 2, seed: 3 });
    await model.loadStateDict(fresh.stateDict());
    expect(maxAbsDiff((await model.forward({ inputIds: ids })).logits.data, before)).toBeLessThan(1e-6);

    const kept = systemInfo().packedWeights.tensors;
    model.dispose();
    copy.dispose();
    fresh.dispose();
    expect(systemInfo().packedWeights.tensors).toBeLessThan(kept);
  });
});
