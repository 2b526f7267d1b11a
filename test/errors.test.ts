// Bad input of every kind gives an LtgBertError with a stable code and a
// message naming the file or key and the values, and the process lives on.
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_MODEL_DIR,
  LtgBertError,
  LtgBertForMaskedLM,
  LtgBertForSequenceClassification,
  Tokenizer,
} from "../lib/index.js";
import { PYTHON_WITH_TORCH, readSafetensorsRaw, TINY, writeSafetensorsRaw } from "./helpers/fixtures.js";

const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-errors-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A model directory: the hub-mlm config (optionally patched) and the given weights file. */
function modelDir(
  name: string,
  weights: { file: string; bytes?: Buffer; from?: string },
  patchConfig: (c: Record<string, unknown>) => void = () => {},
): string {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  const config = JSON.parse(readFileSync(path.join(TINY, "hub-mlm", "config.json"), "utf8"));
  patchConfig(config);
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
  if (weights.bytes) writeFileSync(path.join(dir, weights.file), weights.bytes);
  if (weights.from) copyFileSync(weights.from, path.join(dir, weights.file));
  return dir;
}

async function rejection(promise: Promise<unknown>): Promise<LtgBertError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LtgBertError);
    return error as LtgBertError;
  }
  throw new Error("expected a rejection");
}

const hubWeights = path.join(TINY, "hub-mlm", "model.safetensors");

describe("LTGBERT_FILE_NOT_FOUND", () => {
  it("names a directory that does not exist", async () => {
    const missing = path.join(work, "no-such-model");
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(missing));
    expect(e.code).toBe("LTGBERT_FILE_NOT_FOUND");
    expect(e.message).toContain(missing);
  });

  it("says where the shipped model is when given the CLI's word for it", async () => {
    expect(existsSync("default")).toBe(false); // no folder of that name where the tests run
    const e = await rejection(LtgBertForSequenceClassification.fromPretrained("default"));
    expect(e.code).toBe("LTGBERT_FILE_NOT_FOUND");
    expect(e.message).toMatch(
      /^default: no such directory \(the model shipped with the package is DEFAULT_MODEL_DIR, /,
    );
    expect(e.message).toContain(DEFAULT_MODEL_DIR);
    const tokenizer = await rejection(Tokenizer.fromPretrained("default"));
    expect(tokenizer.code).toBe("LTGBERT_FILE_NOT_FOUND");
    expect(tokenizer.message).toMatch(/^default\/tokenizer\.json: no such file .*DEFAULT_MODEL_DIR, /);
    const shipped = await LtgBertForMaskedLM.fromPretrained(DEFAULT_MODEL_DIR);
    expect(shipped.numParameters()).toBeGreaterThan(1_000_000);
    shipped.dispose();
  });

  it("names the missing config.json", async () => {
    const dir = path.join(work, "no-config");
    mkdirSync(dir, { recursive: true });
    copyFileSync(hubWeights, path.join(dir, "model.safetensors"));
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_FILE_NOT_FOUND");
    expect(e.message).toContain(path.join(dir, "config.json"));
  });

  it("names the directory and the weight files it looked for", async () => {
    const dir = modelDir("no-weights", { file: "README.md", bytes: Buffer.from("no weights here") });
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_FILE_NOT_FOUND");
    expect(e.message).toContain(dir);
    expect(e.message).toMatch(/model\.safetensors/);
    expect(e.message).toMatch(/pytorch_model\.bin/);
  });
});

describe("LTGBERT_BAD_CHECKPOINT", () => {
  const good = readFileSync(hubWeights);

  it("refuses a truncated model.safetensors", async () => {
    const dir = modelDir("truncated", {
      file: "model.safetensors",
      bytes: good.subarray(0, Math.floor(good.length / 2)),
    });
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_BAD_CHECKPOINT");
    expect(e.message).toContain(path.join(dir, "model.safetensors"));
  });

  it("refuses a header that is not JSON", async () => {
    const bytes = Buffer.from(good);
    bytes.write("{{{{ not json", 8, "latin1");
    const dir = modelDir("corrupt-header", { file: "model.safetensors", bytes });
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_BAD_CHECKPOINT");
    expect(e.message).toContain(path.join(dir, "model.safetensors"));
  });

  it("refuses a header length larger than the file", async () => {
    const bytes = Buffer.from(good);
    bytes.writeBigUInt64LE(BigInt(good.length * 10), 0);
    const dir = modelDir("header-too-long", { file: "model.safetensors", bytes });
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_BAD_CHECKPOINT");
    expect(e.message).toContain(path.join(dir, "model.safetensors"));
  });

  it("refuses data offsets outside the file, naming the key and the offsets", async () => {
    const dir = modelDir("offsets", { file: "model.safetensors" });
    const file = path.join(dir, "model.safetensors");
    writeSafetensorsRaw(file, readSafetensorsRaw(hubWeights), (h) => {
      (h["embedding.word_embedding.weight"] as { data_offsets: number[] }).data_offsets = [0, 10_000_000];
    });
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_BAD_CHECKPOINT");
    expect(e.message).toContain(file);
    expect(e.message).toContain("embedding.word_embedding.weight");
    expect(e.message).toContain("10000000");
  });

  it("refuses an unsupported dtype, naming it", async () => {
    const dir = modelDir("dtype", { file: "model.safetensors" });
    const file = path.join(dir, "model.safetensors");
    const tensors = readSafetensorsRaw(hubWeights);
    const t = tensors.get("embedding.relative_embedding")!;
    tensors.set("embedding.relative_embedding", { ...t, dtype: "C64", shape: [t.shape[0], t.shape[1] / 2] });
    writeSafetensorsRaw(file, tensors);
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_BAD_CHECKPOINT");
    expect(e.message).toContain("embedding.relative_embedding");
    expect(e.message).toContain("C64");
  });

  it("refuses a truncated pytorch_model.bin", async () => {
    const bin = readFileSync(path.join(TINY, "seed-mlm", "pytorch_model.bin"));
    const dir = modelDir("truncated-bin", { file: "pytorch_model.bin", bytes: bin.subarray(0, bin.length - 4000) });
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_BAD_CHECKPOINT");
    expect(e.message).toContain(path.join(dir, "pytorch_model.bin"));
  });

  it.skipIf(!PYTHON_WITH_TORCH)(
    "refuses a pytorch_model.bin whose pickle calls os.system, without running it",
    async () => {
      const dir = modelDir("malicious", { file: "config.json.keep", bytes: Buffer.from("") });
      const marker = path.join(work, "pwned-marker");
      const script = `
import os, sys, torch
class Payload:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))
torch.save({"embedding.word_embedding.weight": torch.zeros(97, 48), "payload": Payload()}, sys.argv[1])
`;
      execFileSync(PYTHON_WITH_TORCH!, ["-c", script, path.join(dir, "pytorch_model.bin"), marker]);
      expect(existsSync(marker)).toBe(false);
      const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
      expect(e.code).toBe("LTGBERT_BAD_CHECKPOINT");
      expect(e.message).toContain(path.join(dir, "pytorch_model.bin"));
      expect(e.message).toMatch(/posix\.system|os\.system/);
      expect(existsSync(marker)).toBe(false);
    },
  );
});

describe("LTGBERT_BAD_CONFIG", () => {
  it("names a config.json that is not JSON", async () => {
    const dir = modelDir("bad-json", { file: "model.safetensors", from: hubWeights });
    writeFileSync(path.join(dir, "config.json"), "{ vocab_size: 97,");
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_BAD_CONFIG");
    expect(e.message).toContain(path.join(dir, "config.json"));
  });

  it("names the key and the value that cannot be", async () => {
    const dir = modelDir("bad-heads", { file: "model.safetensors", from: hubWeights }, (c) => {
      c.num_attention_heads = 5;
    });
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_BAD_CONFIG");
    expect(e.message).toMatch(/config\.json: hidden_size: expected a multiple of num_attention_heads \(5\), got 48/);
  });

  it("refuses an unknown position split rather than guessing", async () => {
    const dir = modelDir("bad-split", { file: "model.safetensors", from: hubWeights }, (c) => {
      c.position_qk_split = "sideways";
    });
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_BAD_CONFIG");
    expect(e.message).toContain("position_qk_split");
    expect(e.message).toContain("sideways");
  });

  it("refuses a fromConfig object without a required size", async () => {
    const e = await rejection(LtgBertForMaskedLM.fromConfig({ vocab_size: 10 } as never));
    expect(e.code).toBe("LTGBERT_BAD_CONFIG");
    expect(e.message).toMatch(/hidden_size: expected a positive integer \(required\)/);
  });
});

describe("LTGBERT_SHAPE_MISMATCH and LTGBERT_MISSING_KEYS", () => {
  it("names the key, the expected and the actual shape", async () => {
    const dir = modelDir("vocab-98", { file: "model.safetensors", from: hubWeights }, (c) => {
      c.vocab_size = 98;
    });
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_SHAPE_MISMATCH");
    expect(e.message).toContain(path.join(dir, "model.safetensors"));
    expect(e.message).toContain("embedding.word_embedding.weight: expected [98, 48], got [97, 48]");
  });

  it("names every missing key of a strict load", async () => {
    const dir = modelDir("missing-key", { file: "model.safetensors" });
    const tensors = readSafetensorsRaw(hubWeights);
    tensors.delete("transformer.layers.2.mlp.mlp.4.weight");
    tensors.delete("embedding.relative_layer_norm.bias");
    writeSafetensorsRaw(path.join(dir, "model.safetensors"), tensors);
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(dir));
    expect(e.code).toBe("LTGBERT_MISSING_KEYS");
    expect(e.message).toContain("transformer.layers.2.mlp.mlp.4.weight");
    expect(e.message).toContain("embedding.relative_layer_norm.bias");
  });

  it("names unexpected keys of a strict load", async () => {
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-cls"), { strict: true }));
    expect(e.code).toBe("LTGBERT_MISSING_KEYS");
    expect(e.message).toContain("head.nonlinearity.1.weight");
    expect(e.message).toContain("classifier.nonlinearity.1.weight");
  });
});

describe("LTGBERT_INVALID_ARGUMENT, and the model still works after", () => {
  let mlm: LtgBertForMaskedLM;
  let cls: LtgBertForSequenceClassification;
  beforeAll(async () => {
    mlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"));
    cls = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
  });
  afterAll(() => {
    mlm.dispose();
    cls.dispose();
  });

  it("refuses ids outside the vocabulary, naming the range and the values", async () => {
    const e = await rejection(mlm.forward({ inputIds: [[1, 97, 2]] }));
    expect(e.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(e.message).toBe("inputIds: ids must lie in [0, 97), got values from 1 to 97");
    const neg = await rejection(mlm.forward({ inputIds: [[1, -1, 2]] }));
    expect(neg.code).toBe("LTGBERT_INVALID_ARGUMENT");
  });

  it("refuses a sequence longer than the model allows", async () => {
    const e = await rejection(mlm.forward({ inputIds: [new Array(65).fill(5)] }));
    expect(e.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(e.message).toBe("inputIds: sequence length 65 exceeds max_position_embeddings (64)");
  });

  it("refuses ragged rows, wrong shapes and wrong types", async () => {
    const ragged = await rejection(
      mlm.forward({
        inputIds: [
          [1, 2, 3],
          [1, 2],
        ],
      }),
    );
    expect(ragged.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(ragged.message).toMatch(/^inputIds\[1\]: expected length 3/);
    const shape = await rejection(mlm.forward({ inputIds: { data: new Int32Array(6), shape: [2, 4] } }));
    expect(shape.message).toMatch(/^inputIds\.data: expected 8 values for shape \[2, 4\], got 6 values/);
    const mask = await rejection(mlm.forward({ inputIds: [[1, 2, 3]], attentionMask: [[1, 1]] }));
    expect(mask.message).toMatch(/^attentionMask: expected shape \[1, 3\]/);
    const float = await rejection(mlm.forward({ inputIds: [[1, 2.5, 3]] }));
    expect(float.message).toMatch(/^inputIds\[0\]\[1\]: expected an integer, got 2\.5/);
    const typed = await rejection(mlm.forward({ inputIds: { data: new Float64Array(3) as never, shape: [1, 3] } }));
    expect(typed.message).toMatch(/^inputIds\.data: expected an Int32Array or BigInt64Array/);
  });

  it("refuses a label out of range", async () => {
    const e = await rejection(
      cls.forward({
        inputIds: [
          [1, 5, 2],
          [1, 6, 2],
        ],
        labels: [0, 3],
      }),
    );
    expect(e.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(e.message).toBe("labels: expected a label in [0, 3), got 3 at index 1");
    const shape = await rejection(cls.forward({ inputIds: [[1, 5, 2]], labels: [0, 1] }));
    expect(shape.message).toBe("labels: expected shape [1], got [2]");
  });

  it("refuses output arrays of the wrong type or size, and leaves them untouched", async () => {
    const inputIds = [[1, 5, 2]];
    const short = new Float32Array(10).fill(7);
    const size = await rejection(mlm.forward({ inputIds }, { out: { logits: short } }));
    expect(size.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(size.message).toBe("out.logits: expected a Float32Array of 291 values (shape [1, 3, 97]), got 10");
    expect(Array.from(short)).toEqual(new Array(10).fill(7));
    const hidden = await rejection(
      mlm.forward({ inputIds }, { out: { logits: new Float32Array(291), lastHiddenState: new Float32Array(3) } }),
    );
    expect(hidden.message).toBe("out.lastHiddenState: expected a Float32Array of 144 values (shape [1, 3, 48]), got 3");
    const typed = await rejection(mlm.forward({ inputIds }, { out: { logits: new Float64Array(291) as never } }));
    expect(typed.message).toBe("out.logits: expected a Float32Array");
    const notObject = await rejection(mlm.forward({ inputIds }, { out: 5 as never }));
    expect(notObject.message).toMatch(/^out: expected \{ logits\?: Float32Array, lastHiddenState\?: Float32Array \}/);
    const unwanted = await rejection(
      mlm.forward({ inputIds }, { hiddenStates: false, out: { lastHiddenState: new Float32Array(144) } }),
    );
    expect(unwanted.message).toBe("out.lastHiddenState: given with hiddenStates false");
    const shared = new Float32Array(291 + 144);
    const overlap = await rejection(
      mlm.forward({ inputIds }, { out: { logits: shared.subarray(0, 291), lastHiddenState: shared.subarray(200) } }),
    );
    expect(overlap.message).toBe(
      "out.logits and out.lastHiddenState: expected separate memory, got overlapping arrays",
    );
    const clsSize = await rejection(cls.forward({ inputIds }, { out: { logits: new Float32Array(2) } }));
    expect(clsSize.message).toBe("out.logits: expected a Float32Array of 3 values (shape [1, 3]), got 2");
  });

  it("still runs after every refusal", async () => {
    const out = await mlm.forward({ inputIds: [[1, 5, 2]] });
    expect(out.logits.shape).toEqual([1, 3, 97]);
  });
});

describe("LTGBERT_DISPOSED and devices", () => {
  it("refuses every call after dispose(), which is idempotent", async () => {
    const mlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"));
    mlm.dispose();
    mlm.dispose();
    expect(mlm.disposed).toBe(true);
    const e = await rejection(mlm.forward({ inputIds: [[1, 2]] }));
    expect(e.code).toBe("LTGBERT_DISPOSED");
    expect(() => mlm.numParameters()).toThrow(expect.objectContaining({ code: "LTGBERT_DISPOSED" }));
  });

  it("rejects calls queued behind a dispose()", async () => {
    const mlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"));
    const first = mlm.forward({ inputIds: [[1, 5, 2]] });
    const second = mlm.forward({ inputIds: [[1, 5, 2]] });
    mlm.dispose();
    await expect(first).resolves.toBeDefined();
    expect((await rejection(second)).code).toBe("LTGBERT_DISPOSED");
  });

  it("names a device this build or machine lacks", async () => {
    const e = await rejection(LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"), { device: "cuda:7" }));
    expect(e.code).toBe("LTGBERT_DEVICE_UNAVAILABLE");
    expect(e.message).toContain("cuda:7");
    const bad = await rejection(LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"), { device: "tpu" }));
    expect(bad.code).toBe("LTGBERT_INVALID_ARGUMENT");
  });
});

describe("LTGBERT_ADDON_LOAD", () => {
  it("says how to build the addon when a copy of the package has none", () => {
    // The compiled package (dist/) in a folder with no build/ and no
    // prebuilds/, its dependencies linked.
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
    const copy = path.join(work, "unbuilt");
    mkdirSync(copy, { recursive: true });
    cpSync(path.join(root, "dist"), path.join(copy, "dist"), { recursive: true });
    copyFileSync(path.join(root, "package.json"), path.join(copy, "package.json"));
    symlinkSync(path.join(root, "node_modules"), path.join(copy, "node_modules"));
    const script = `import("${path.join(copy, "dist", "index.js")}").then(
      () => console.log(JSON.stringify({ loaded: true })),
      (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })),
    );`;
    const out = JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }));
    expect(out).toMatchObject({ name: "LtgBertError", code: "LTGBERT_ADDON_LOAD" });
    expect(out.message).toMatch(/^ltgbert: the native addon could not be loaded from /);
    expect(out.message).toContain(copy);
    expect(out.message).toContain("npm rebuild ltgbert");
    expect(out.message).toContain("npm install-scripts approve ltgbert");
  });
});
