// Checkpoint formats a Python user may hand over: half-precision
// safetensors, sharded safetensors, torch.save archives.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LtgBertForMaskedLM, readCheckpointInfo } from "../lib/index.js";
import {
  f32,
  i64,
  maxAbsDiff,
  PYTHON_WITH_TORCH,
  readExpected,
  readSafetensorsRaw,
  TINY,
  writeSafetensorsRaw,
} from "./helpers/fixtures.js";

const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-formats-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const tiny = readExpected(path.join(TINY, "expected.safetensors"));
const inputs = { inputIds: i64(tiny, "input_ids"), attentionMask: i64(tiny, "attention_mask") };

function dirWithConfig(name: string): string {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(TINY, "hub-mlm", "config.json"), path.join(dir, "config.json"));
  return dir;
}

describe("checkpoint formats", () => {
  it("loads a sharded model.safetensors.index.json", async () => {
    const dir = dirWithConfig("sharded");
    const tensors = readSafetensorsRaw(path.join(TINY, "hub-mlm", "model.safetensors"));
    const keys = [...tensors.keys()];
    const shards = [new Map(), new Map()] as Map<string, typeof tensors extends Map<string, infer V> ? V : never>[];
    const weightMap: Record<string, string> = {};
    keys.forEach((key, i) => {
      const shard = i % 2;
      shards[shard].set(key, tensors.get(key)!);
      weightMap[key] = `model-0000${shard + 1}-of-00002.safetensors`;
    });
    shards.forEach((shard, i) => writeSafetensorsRaw(path.join(dir, `model-0000${i + 1}-of-00002.safetensors`), shard));
    writeFileSync(
      path.join(dir, "model.safetensors.index.json"),
      JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
    );
    const mlm = await LtgBertForMaskedLM.fromPretrained(dir);
    const out = await mlm.forward(inputs);
    expect(maxAbsDiff(out.logits.data, f32(tiny, "hub_mlm.logits"))).toBeLessThan(1e-5);
    mlm.dispose();
  });

  it("lists a torch.save archive's tensors, shared tied weight and buffers included", async () => {
    const entries = await readCheckpointInfo(path.join(TINY, "seed-mlm", "pytorch_model.bin"));
    const byKey = new Map(entries.map((e) => [e.key, e]));
    expect(byKey.get("classifier.nonlinearity.5.weight")).toEqual({
      key: "classifier.nonlinearity.5.weight",
      shape: [97, 48],
      dtype: "float32",
    });
    expect(byKey.get("transformer.layers.0.attention.position_indices")?.dtype).toBe("int64");
  });

  for (const dtype of ["float16", "bfloat16"] as const) {
    it.skipIf(!PYTHON_WITH_TORCH)(
      `loads ${dtype} safetensors into float32 weights equal to PyTorch's conversion`,
      async () => {
        const dir = dirWithConfig(dtype);
        // PyTorch converts the fixture's weights and writes both the half file
        // and the values it expects back (converted to float32 by PyTorch).
        const script = `
import json, struct, sys, torch
src, dst, expected, dtype = sys.argv[1], sys.argv[2], sys.argv[3], getattr(torch, sys.argv[4])
names = {torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32"}
def read(path):
    b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=torch.float32).reshape(v["shape"])
    return out
def write(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dtype != torch.bfloat16 else t.contiguous().view(torch.int16).numpy().tobytes()
        header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}; blobs.append(raw); off += len(raw)
    h = json.dumps(header).encode(); h += b" " * ((8 - len(h) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
weights = read(src)
write(dst, {k: v.to(dtype) for k, v in weights.items()})
write(expected, {k: v.to(dtype).to(torch.float32) for k, v in weights.items()})
`;
        const expectedFile = path.join(work, `${dtype}-expected.safetensors`);
        execFileSync(PYTHON_WITH_TORCH!, [
          "-c",
          script,
          path.join(TINY, "hub-mlm", "model.safetensors"),
          path.join(dir, "model.safetensors"),
          expectedFile,
          dtype,
        ]);
        const info = await readCheckpointInfo(path.join(dir, "model.safetensors"));
        expect(new Set(info.map((e) => e.dtype))).toEqual(new Set([dtype]));
        const mlm = await LtgBertForMaskedLM.fromPretrained(dir);
        const expected = readExpected(expectedFile);
        for (const key of [
          "embedding.word_embedding.weight",
          "transformer.layers.1.mlp.mlp.1.weight",
          "classifier.nonlinearity.5.bias",
        ]) {
          const got = await mlm.stateDict().read(key);
          expect(mlm.stateDict().dtype(key)).toBe("float32");
          expect(maxAbsDiff(got.data as Float32Array, f32(expected, key))).toBe(0);
        }
        // Half weights still give logits near the float32 reference.
        const out = await mlm.forward(inputs);
        expect(maxAbsDiff(out.logits.data, f32(tiny, "hub_mlm.logits"))).toBeLessThan(dtype === "float16" ? 0.02 : 0.2);
        mlm.dispose();
      },
    );
  }
});
