// Hostile files and calls: each case runs in a process of its own (the
// package compiled from lib/ into .hostile-dist/, beside dist/ so that
// neither build reads the other's half-written files) and must end in an
// LtgBertError with the expected code and message, with the process alive
// afterwards: never a crash, a hang or an unbounded allocation.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SMALL_MLM } from "./helpers/fixtures.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const distDir = path.join(root, ".hostile-dist");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-hostile-"));

const SMALL = SMALL_MLM;

interface CaseResult {
  /** What the case's body returned, or the error it threw. */
  value?: unknown;
  error?: { name: string; code?: string; message: string };
  /** What a forward after the case gave: the process still works. */
  after?: string;
}

/**
 * Runs `body` (the statements of an async function with `L`, the package, in
 * scope) in a child process, then one forward of a small model to show the
 * process still works; returns what the body returned or threw.
 */
function runCase(body: string, timeoutMs = 60_000): CaseResult {
  const script = `
    const L = await import(${JSON.stringify(pathToFileURL(path.join(distDir, "index.js")).href)});
    const SMALL = ${JSON.stringify(SMALL)};
    const result = {};
    try {
      result.value = await (async () => { ${body} })();
    } catch (e) {
      result.error = { name: e?.constructor?.name, code: e?.code, message: String(e?.message) };
    }
    const check = await L.LtgBertForMaskedLM.fromConfig(SMALL);
    const out = await check.forward({ inputIds: [[1, 5, 2]] });
    result.after = out.logits.shape.join("x");
    process.stdout.write(JSON.stringify(result));
  `;
  const child = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
    cwd: work,
    encoding: "utf8",
    timeout: timeoutMs,
  });
  expect(child.signal, `the child died or hung: ${child.stderr}`).toBeNull();
  expect(child.status, child.stderr).toBe(0);
  const result = JSON.parse(child.stdout) as CaseResult;
  expect(result.after).toBe("1x3x4096");
  return result;
}

function expectError(result: CaseResult, code: string, message: RegExp): void {
  expect(result.error, JSON.stringify(result)).toBeDefined();
  expect(result.error!.name).toBe("LtgBertError");
  expect(result.error!.code).toBe(code);
  expect(result.error!.message).toMatch(message);
}

/** A safetensors file of F32 tensors, `entries` giving each one's data_offsets. */
function safetensors(file: string, entries: Record<string, [number, number]>, dataBytes: number): void {
  const header: Record<string, unknown> = {};
  for (const [name, [begin, end]] of Object.entries(entries)) {
    header[name] = { dtype: "F32", shape: [(end - begin) / 4], data_offsets: [begin, end] };
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([length, json, Buffer.alloc(dataBytes)]));
}

beforeAll(() => {
  rmSync(distDir, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json", "--outDir", distDir],
    { cwd: root },
  );
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(distDir, { recursive: true, force: true });
});

describe("the caller's out arrays", () => {
  it("detached (transferred) while the call runs: LTGBERT_INVALID_ARGUMENT, nothing written, no crash", () => {
    const result = runCase(`
      const mlm = await L.LtgBertForMaskedLM.fromConfig(SMALL);
      const ids = { data: new Int32Array(8 * 64).fill(7), shape: [8, 64] };
      const logits = new Float32Array(8 * 64 * 4096);
      const call = mlm.forward({ inputIds: ids }, { out: { logits } });
      let moved = structuredClone(logits.buffer, { transfer: [logits.buffer] });
      moved = null;
      globalThis.gc();
      await call;
      return "resolved";
    `);
    expectError(result, "LTGBERT_INVALID_ARGUMENT", /^out\.logits: the Float32Array's buffer was detached/);
  });

  it("detached before the call: LTGBERT_INVALID_ARGUMENT", () => {
    const result = runCase(`
      const mlm = await L.LtgBertForMaskedLM.fromConfig(SMALL);
      const logits = new Float32Array(3 * 4096);
      structuredClone(logits.buffer, { transfer: [logits.buffer] });
      return await mlm.forward({ inputIds: [[1, 5, 2]] }, { out: { logits } });
    `);
    expectError(result, "LTGBERT_INVALID_ARGUMENT", /out\.logits/);
  });
});

describe("process-wide settings", () => {
  it.each([1e6, 10_000, 257, 0, 2.5])("setNumThreads(%s) is refused, and the compute thread still works", (n) => {
    const result = runCase(`L.setNumThreads(${n});`);
    expectError(result, "LTGBERT_INVALID_ARGUMENT", /^threads: expected an integer from 1 to 256/);
  });

  it("setNumThreads(MAX_THREADS) runs a forward", () => {
    const result = runCase(`
      L.setNumThreads(L.MAX_THREADS);
      const mlm = await L.LtgBertForMaskedLM.fromConfig(SMALL);
      const out = await mlm.forward({ inputIds: [[1, 5, 2]] });
      L.setNumThreads(2);
      return out.logits.shape;
    `);
    expect(result.value).toEqual([1, 3, 4096]);
  });
});

describe("memory", () => {
  it("a forward whose logits cannot be allocated (a terabyte) is LTGBERT_OUT_OF_MEMORY, not an internal error", () => {
    const result = runCase(`
      const mlm = await L.LtgBertForMaskedLM.fromConfig({ ...SMALL, vocab_size: 4_000_000, hidden_size: 8 });
      const ids = { data: new Int32Array(1000 * 64).fill(7), shape: [1000, 64] };
      return await mlm.forward({ inputIds: ids }, { hiddenStates: false });
    `);
    expectError(result, "LTGBERT_OUT_OF_MEMORY", /^out of memory/);
  });
});

describe("configs: limits before anything is allocated", () => {
  const base = { ...SMALL, vocab_size: 16384, hidden_size: 768, intermediate_size: 2048 };
  it.each([
    ["num_hidden_layers", { num_hidden_layers: 1_000_000 }, /num_hidden_layers: expected at most 1024, got 1000000/],
    [
      "vocab_size",
      { vocab_size: 50_000_000 },
      /vocab_size: 50000000 makes a model of \d+\.\d GB, more than this machine.s memory/,
    ],
    ["vocab_size 2^40", { vocab_size: 2 ** 40 }, /vocab_size: 1099511627776 makes a model of/],
    ["hidden_size", { hidden_size: 1e9, num_attention_heads: 1 }, /hidden_size: 1000000000 makes a model of/],
    ["max_position_embeddings", { max_position_embeddings: 1e9 }, /max_position_embeddings: expected at most 65536/],
    ["num_labels", { num_labels: 1e9 }, /num_labels: 1000000000 makes a model of/],
  ])("%s", (_name, change, message) => {
    const task = "num_labels" in change ? "LtgBertForSequenceClassification" : "LtgBertForMaskedLM";
    const started = Date.now();
    const result = runCase(`return await L.${task}.fromConfig(${JSON.stringify({ ...base, ...change })});`);
    expectError(result, "LTGBERT_BAD_CONFIG", message);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("numLabels: 1e9 in fromMaskedLM", () => {
    const result = runCase(`
      const mlm = await L.LtgBertForMaskedLM.fromConfig(SMALL);
      return await L.LtgBertForSequenceClassification.fromMaskedLM(mlm, { numLabels: 1e9 });
    `);
    expectError(result, "LTGBERT_BAD_CONFIG", /num_labels: 1000000000 makes a model of/);
  });

  it("a config that disagrees with its checkpoint fails on the shapes before the model is allocated", () => {
    // 8M rows of 32 floats: a 1 GB model, which the machine's memory allows;
    // the checkpoint has 4096 rows. The load must fail without building it.
    const dir = path.join(work, "vocab-disagrees");
    const result = runCase(`
      const { readFileSync, writeFileSync } = await import("node:fs");
      const source = await L.LtgBertForMaskedLM.fromConfig(SMALL, { seed: 1 });
      await source.savePretrained(${JSON.stringify(dir)});
      const file = ${JSON.stringify(path.join(dir, "config.json"))};
      const config = JSON.parse(readFileSync(file, "utf8"));
      writeFileSync(file, JSON.stringify({ ...config, vocab_size: 8_000_000 }));
      const rssBefore = process.resourceUsage().maxRSS;
      let error;
      try { await L.LtgBertForMaskedLM.fromPretrained(${JSON.stringify(dir)}); } catch (e) { error = e; }
      return { code: error?.code, message: String(error?.message), grewKiB: process.resourceUsage().maxRSS - rssBefore };
    `);
    const value = result.value as { code: string; message: string; grewKiB: number };
    expect(value.code).toBe("LTGBERT_SHAPE_MISMATCH");
    expect(value.message).toMatch(
      /model\.safetensors: the checkpoint does not match the model; embedding\.word_embedding\.weight: expected \[8000000, 32\], got \[4096, 32\]/,
    );
    expect(value.grewKiB).toBeLessThan(256 * 1024); // the model would be 1 GB
  });

  it("maxMemory bounds a model that would fit the machine", () => {
    const result = runCase(`return await L.LtgBertForMaskedLM.fromConfig(SMALL, { maxMemory: 100000 });`);
    expectError(
      result,
      "LTGBERT_BAD_CONFIG",
      /^config: vocab_size: 4096 makes a model of .* more than options\.maxMemory/,
    );
  });

  it("a non-finite number in config.json (1e400 reads as Infinity) is refused, naming the key", () => {
    const dir = path.join(work, "infinite");
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, "config.json"),
      JSON.stringify(SMALL).replace("}", ', "layer_norm_eps": 1e400, "hidden_dropout_prob": 0.1}'),
    );
    const result = runCase(`return await L.LtgBertForMaskedLM.fromPretrained(${JSON.stringify(dir)});`);
    expectError(result, "LTGBERT_BAD_CONFIG", /config\.json: layer_norm_eps: expected a finite number, got Infinity/);
  });
});

describe("only regular files are read", () => {
  const fifoDir = (name: string, fifo: string): string => {
    const dir = path.join(work, name);
    mkdirSync(dir);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(SMALL));
    execFileSync("mkfifo", [path.join(dir, fifo)]);
    return dir;
  };

  it("config.json that is a FIFO", () => {
    const dir = path.join(work, "fifo-config");
    mkdirSync(dir);
    execFileSync("mkfifo", [path.join(dir, "config.json")]);
    const result = runCase(`return await L.LtgBertForMaskedLM.fromPretrained(${JSON.stringify(dir)});`, 20_000);
    expectError(result, "LTGBERT_BAD_CONFIG", /config\.json: cannot be read: not a regular file \(a FIFO\)/);
  });

  it("tokenizer.json that is a FIFO", () => {
    const dir = fifoDir("fifo-tokenizer", "tokenizer.json");
    const result = runCase(`return await L.Tokenizer.fromPretrained(${JSON.stringify(dir)});`, 20_000);
    expectError(result, "LTGBERT_BAD_CONFIG", /tokenizer\.json: cannot be read: not a regular file \(a FIFO\)/);
  });

  it("model.safetensors that is a FIFO", () => {
    const dir = fifoDir("fifo-weights", "model.safetensors");
    const result = runCase(
      `return await L.LtgBertForMaskedLM.fromPretrained(${JSON.stringify(dir)}, { tokenizer: false });`,
      20_000,
    );
    expectError(result, "LTGBERT_BAD_CHECKPOINT", /model\.safetensors: not a regular file \(a FIFO\)/);
  });

  it("savePretrained('/proc/self/x') settles with an error", () => {
    const result = runCase(`
      const mlm = await L.LtgBertForMaskedLM.fromConfig(SMALL);
      return await mlm.savePretrained("/proc/self/x");
    `);
    expect(result.error?.code).toMatch(/^LTGBERT_(IO|FILE_NOT_FOUND)$/);
    expect(result.error?.message).toMatch(/^\/proc\/self\/x: cannot create the folder/);
  });
});

describe("a checkpoint file changed on disk after it was read", () => {
  it.each([
    ["truncated", "truncateSync(file, 100)"],
    ["rewritten in place", "writeFileSync(file, Buffer.alloc(statSync(file).size, 0x7f))"],
  ])("%s: the state dict keeps the data it read, no SIGBUS", (_name, change) => {
    const dir = path.join(work, `changed-${_name.replace(/ /g, "-")}`);
    const result = runCase(`
      const { truncateSync, writeFileSync, statSync } = await import("node:fs");
      const source = await L.LtgBertForMaskedLM.fromConfig(SMALL, { seed: 1 });
      await source.savePretrained(${JSON.stringify(dir)});
      const file = ${JSON.stringify(path.join(dir, "model.safetensors"))};
      const sd = await L.readStateDict(file);
      const key = "embedding.word_embedding.weight";
      const before = (await sd.read(key)).data;
      ${change};
      const after = (await sd.read(key)).data;
      const target = await L.LtgBertForMaskedLM.fromConfig(SMALL, { seed: 2 });
      await target.loadStateDict(sd);
      await target.loadStateDict(sd); // a second load reads the same data again
      const loaded = (await target.stateDict().read(key)).data;
      const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
      return { after: same(before, after), loaded: same(before, loaded), nonzero: before.some((v) => v !== 0) };
    `);
    expect(result.value).toEqual({ after: true, loaded: true, nonzero: true });
  });
});

describe("saves are atomic per model directory", () => {
  it("a failed save (a folder named tokenizer.json in the way) leaves every file of the old model as it was", () => {
    const dir = path.join(work, "atomic");
    const result = runCase(`
      const { readFileSync, mkdirSync } = await import("node:fs");
      const first = await L.LtgBertForMaskedLM.fromConfig({ ...SMALL, vocab_size: 16384 }, { seed: 1 });
      await first.savePretrained(${JSON.stringify(dir)});
      const before = ["model.safetensors", "config.json"].map((f) => readFileSync(${JSON.stringify(dir)} + "/" + f, "hex"));
      mkdirSync(${JSON.stringify(path.join(dir, "tokenizer.json"))});
      const second = await L.LtgBertForMaskedLM.fromConfig({ ...SMALL, vocab_size: 16384, hidden_dropout_prob: 0 }, { seed: 2 });
      second.setTokenizer(await L.Tokenizer.fromPretrained(L.DEFAULT_MODEL_DIR));
      let error;
      try { await second.savePretrained(${JSON.stringify(dir)}); } catch (e) { error = e; }
      const after = ["model.safetensors", "config.json"].map((f) => readFileSync(${JSON.stringify(dir)} + "/" + f, "hex"));
      if (!error) return "saved";
      return { code: error.code, message: error.message, unchanged: before.every((b, i) => b === after[i]) };
    `);
    const value = result.value as { code: string; message: string; unchanged: boolean };
    expect(value.code).toBe("LTGBERT_IO");
    expect(value.message).toMatch(/tokenizer\.json: cannot replace it: it is a directory; nothing was saved/);
    expect(value.unchanged).toBe(true);
  });
});

describe("safetensors, validated as the reference library does", () => {
  it.each([
    ["overlapping", { a: [0, 16], b: [8, 24] }, 24, /b: data_offsets \[8, 24\] overlap those of a \[0, 16\]/],
    ["with a hole", { a: [0, 16], b: [20, 36] }, 36, /b: data_offsets \[20, 36\] leave a hole of 4 bytes after a/],
    ["not from 0", { a: [4, 20] }, 20, /a: data_offsets \[4, 20\] leave a hole of 4 bytes after the header/],
    ["shorter than the data", { a: [0, 16] }, 24, /the data section holds 24 bytes, but the tensors cover 16/],
  ] as const)("%s data_offsets are refused", (name, entries, bytes, message) => {
    const file = path.join(work, `${name.replace(/ /g, "-")}.safetensors`);
    safetensors(file, entries as unknown as Record<string, [number, number]>, bytes);
    const result = runCase(`return await L.readCheckpointInfo(${JSON.stringify(file)});`);
    expectError(result, "LTGBERT_BAD_CHECKPOINT", message);
  });

  it("contiguous offsets from 0 to the end load", () => {
    const file = path.join(work, "good.safetensors");
    safetensors(file, { a: [0, 16], b: [16, 24] }, 24);
    const result = runCase(`return (await L.readCheckpointInfo(${JSON.stringify(file)})).map((e) => e.key);`);
    expect(result.value).toEqual(["a", "b"]);
  });
});

describe("torch.save archives: sizes checked before anything is inflated", () => {
  // Rewrites a torch.save archive with one record replaced by `size` deflated
  // zeros (Python's zipfile: any python3 has it).
  const REPACK = `
import sys, zipfile
src, dst, suffix, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
    for info in zin.infolist():
        if info.filename.endswith(suffix):
            zout.writestr(info.filename, bytes(size), compress_type=zipfile.ZIP_DEFLATED)
        else:
            zout.writestr(info, zin.read(info.filename))
`;
  const bomb = (name: string, suffix: string, size: number): string => {
    const dir = path.join(work, name);
    const source = path.join(dir, "source");
    const script = `
      const m = await L.LtgBertForMaskedLM.fromConfig(SMALL, { seed: 1 });
      await m.savePretrained(${JSON.stringify(source)}, { format: "pytorch" });`;
    expect(runCase(script).error).toBeUndefined();
    const file = path.join(dir, "pytorch_model.bin");
    execFileSync("python3", ["-c", REPACK, path.join(source, "pytorch_model.bin"), file, suffix, String(size)]);
    return file;
  };

  it("a tensor record that declares more bytes than its tensor needs (deflated zeros) is refused unread", () => {
    const file = bomb("bomb-record", "/data/0", 300 << 20);
    const started = Date.now();
    const result = runCase(`return await L.readCheckpointInfo(${JSON.stringify(file)});`);
    expectError(
      result,
      "LTGBERT_BAD_CHECKPOINT",
      /the record data\/0 declares 314572800 bytes, but its tensor needs \d+/,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("a data.pkl that would inflate 200 MiB from a few hundred kB is refused as a zip bomb", () => {
    const file = bomb("bomb-pickle", "/data.pkl", 200 << 20);
    const result = runCase(`return await L.readCheckpointInfo(${JSON.stringify(file)});`);
    expectError(
      result,
      "LTGBERT_BAD_CHECKPOINT",
      /the record data\.pkl would inflate \d+ compressed bytes to 209715200 .*zip bomb/,
    );
  });

  it("a data.pkl past 256 MiB is refused before it is inflated", () => {
    const file = bomb("big-pickle", "/data.pkl", 300 << 20);
    const result = runCase(`return await L.readCheckpointInfo(${JSON.stringify(file)});`);
    expectError(
      result,
      "LTGBERT_BAD_CHECKPOINT",
      /the record data\.pkl declares 314572800 bytes, above the limit of 268435456/,
    );
  });
});

describe("labels", () => {
  it.each([
    ["0.5", /label "0\.5" is not a whole number, so not a class id/],
    ["1e3", /label "1e3" is outside \[0, 2\) \(numLabels 2\)/],
  ])("a CSV label %s with numLabels 2 is LTGBERT_BAD_DATA, not a class name", (label, message) => {
    const file = path.join(work, `labels-${label}.csv`);
    writeFileSync(file, `sentence,label\na good film,1\na dull film,${label}\n`);
    const result = runCase(`return await L.readDataset(${JSON.stringify(file)}, { numLabels: 2 });`);
    expectError(result, "LTGBERT_BAD_DATA", message);
    expect(result.error!.message).toContain(file);
  });

  it("float labels for a classifier are LTGBERT_INVALID_ARGUMENT", () => {
    const result = runCase(`
      const cls = await L.LtgBertForSequenceClassification.fromConfig(SMALL);
      return await cls.forward({ inputIds: [[1, 5, 2]], labels: new Float32Array([0.5]) });
    `);
    expectError(result, "LTGBERT_INVALID_ARGUMENT", /^labels: expected class ids/);
  });
});
