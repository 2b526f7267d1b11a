// savePretrained: what Node saves loads back here and in Python, what Python
// writes loads here, bitwise; and a failed save leaves the model that was in
// the folder as it was.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LtgBertError, LtgBertForMaskedLM, LtgBertForSequenceClassification } from "../lib/index.js";
import { f32, i64, maxAbsDiff, PYTHON_WITH_TORCH, readExpected, readSafetensorsRaw, TINY } from "./helpers/fixtures.js";

const TOL = 1e-5;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const tiny = readExpected(path.join(TINY, "expected.safetensors"));
const tinyMeta = JSON.parse(readFileSync(path.join(TINY, "expected.json"), "utf8")) as {
  seed_mlm_state_dict_keys: string[];
};
const inputs = { inputIds: i64(tiny, "input_ids"), attentionMask: i64(tiny, "attention_mask") };
const TIED_ALIAS = "classifier.nonlinearity.5.weight";
const mlmKeysPytorch = tinyMeta.seed_mlm_state_dict_keys.filter((k) => !k.endsWith(".attention.position_indices"));
const mlmKeysSafetensors = mlmKeysPytorch.filter((k) => k !== TIED_ALIAS);

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-save-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tempFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes(".tmp-"));
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
}

const cases = [
  { name: "seed-cls", Model: LtgBertForSequenceClassification, logits: "seed_cls.logits" },
  { name: "hub-mlm", Model: LtgBertForMaskedLM, logits: "hub_mlm.logits" },
] as const;

describe("savePretrained, loaded back by the package", () => {
  for (const { name, Model, logits } of cases) {
    for (const format of ["safetensors", "pytorch"] as const) {
      it(`${name} as ${format} loads back with the reference's logits`, async () => {
        const model = await Model.fromPretrained(path.join(TINY, name));
        const out = path.join(work, "roundtrip", `${name}-${format}`);
        const written = await model.savePretrained(out, { format });
        const weights = format === "safetensors" ? "model.safetensors" : "pytorch_model.bin";
        expect(written).toEqual([path.join(out, weights), path.join(out, "config.json")]);
        expect(readdirSync(out).sort()).toEqual(["config.json", weights].sort());
        const keys = model.stateDict().keys();
        model.dispose();

        const again = await Model.fromPretrained(out);
        expect(again.loadReport).toMatchObject({ missing: [], unexpected: [], mismatched: [] });
        expect(again.stateDict().keys()).toEqual(keys);
        const result = await again.forward(inputs);
        expect(maxAbsDiff(result.logits.data, f32(tiny, logits))).toBeLessThan(TOL);
        again.dispose();
      });
    }
  }

  it("writes the state dict without position indices; safetensors without the tied alias, in float32", () => {
    const st = readSafetensorsRaw(path.join(work, "roundtrip", "hub-mlm-safetensors", "model.safetensors"));
    expect([...st.keys()]).toEqual(mlmKeysSafetensors);
    expect(new Set([...st.values()].map((t) => t.dtype))).toEqual(new Set(["F32"]));
    const hub = readSafetensorsRaw(path.join(TINY, "hub-mlm", "model.safetensors"));
    expect(new Set(st.keys())).toEqual(new Set(hub.keys()));
    for (const [key, t] of hub) expect(st.get(key)!.bytes.equals(t.bytes), key).toBe(true);
    const header = readFileSync(path.join(work, "roundtrip", "hub-mlm-safetensors", "model.safetensors"));
    const n = Number(header.readBigUInt64LE(0));
    expect(JSON.parse(header.subarray(8, 8 + n).toString("utf8")).__metadata__).toEqual({ format: "pt" });
  });

  it("writes config.json as Hugging Face does: the resolved config, architectures, labels", () => {
    const cls = readJson(path.join(work, "roundtrip", "seed-cls-safetensors", "config.json"));
    const source = readJson(path.join(TINY, "seed-cls", "config.json"));
    expect(cls).toMatchObject({ ...source, position_qk_split: "per_head" });
    expect(cls).toMatchObject({
      model_type: "ltgbert",
      architectures: ["LtgBertForSequenceClassification"],
      num_labels: 3,
      id2label: { 0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2" },
      label2id: { LABEL_0: 0, LABEL_1: 1, LABEL_2: 2 },
      problem_type: "single_label_classification",
      classifier_head: "linear",
    });
    const mlm = readJson(path.join(work, "roundtrip", "hub-mlm-pytorch", "config.json"));
    expect(mlm).toEqual({
      ...readJson(path.join(TINY, "hub-mlm", "config.json")),
      position_qk_split: "per_head",
      architectures: ["LtgBertForMaskedLM"],
    });
  });

  it("keeps given labels, and writes a transferred classifier's fresh head config", async () => {
    const id2label = { 0: "negative", 1: "neutral", 2: "positive" };
    const cls = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"), {
      config: { id2label, problem_type: "multi_label_classification" },
    });
    const out = path.join(work, "labels");
    await cls.savePretrained(out);
    cls.dispose();
    expect(readJson(path.join(out, "config.json"))).toMatchObject({
      id2label,
      label2id: { negative: 0, neutral: 1, positive: 2 },
      problem_type: "multi_label_classification",
    });

    const transferred = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "hub-mlm"), {
      numLabels: 4,
    });
    const out2 = path.join(work, "transferred");
    await transferred.savePretrained(out2);
    transferred.dispose();
    const saved = readJson(path.join(out2, "config.json"));
    expect(saved).toMatchObject({ architectures: ["LtgBertForSequenceClassification"], num_labels: 4 });
    expect(Object.keys(saved.id2label as object)).toHaveLength(4);
    const back = await LtgBertForSequenceClassification.fromPretrained(out2);
    expect(back.numLabels).toBe(4);
    back.dispose();
  });

  it("copies the tokenizer files of the source directory, and saves into its own directory", async () => {
    const source = path.join(work, "with-tokenizer");
    mkdirSync(source, { recursive: true });
    for (const file of ["config.json", "model.safetensors"]) {
      copyFileSync(path.join(TINY, "hub-mlm", file), path.join(source, file));
    }
    writeFileSync(path.join(source, "tokenizer.json"), '{"version":"1.0","model":{"type":"WordPiece"}}\n');
    writeFileSync(path.join(source, "vocab.txt"), "[UNK]\n[CLS]\n[SEP]\n");
    // The stub tokenizer.json is no tokenizer: load without one, so the files are copied from `source`.
    const error = await LtgBertForMaskedLM.fromPretrained(source).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "LTGBERT_BAD_CONFIG",
      message: expect.stringMatching(/tokenizer\.json: .*\(pass tokenizer: false to load the model without it\)$/),
    });
    const mlm = await LtgBertForMaskedLM.fromPretrained(source, { tokenizer: false });
    const out = path.join(work, "with-tokenizer-out");
    const written = await mlm.savePretrained(out);
    expect(written.slice(2)).toEqual([path.join(out, "tokenizer.json"), path.join(out, "vocab.txt")]);
    for (const file of ["tokenizer.json", "vocab.txt"]) {
      expect(readFileSync(path.join(out, file)).equals(readFileSync(path.join(source, file)))).toBe(true);
    }
    expect(readdirSync(out).sort()).toEqual(["config.json", "model.safetensors", "tokenizer.json", "vocab.txt"]);

    // Into the directory it came from: the weights and config are rewritten,
    // the tokenizer files are left alone, and it still loads.
    const again = await mlm.savePretrained(source + path.sep);
    expect(again).toHaveLength(2);
    mlm.dispose();
    const back = await LtgBertForMaskedLM.fromPretrained(source, { tokenizer: false });
    expect(maxAbsDiff((await back.forward(inputs)).logits.data, f32(tiny, "hub_mlm.logits"))).toBeLessThan(TOL);
    back.dispose();
    expect(tempFiles(source)).toEqual([]);
  });

  it("carries the custom model code that config.json's auto_map names, so trust_remote_code loads the saved folder", async () => {
    // A directory as the Hub's LTG-BERT repositories have it: config.json's
    // auto_map names modules beside it, which import each other relatively.
    const source = path.join(work, "remote-code");
    mkdirSync(source, { recursive: true });
    copyFileSync(path.join(TINY, "hub-mlm", "model.safetensors"), path.join(source, "model.safetensors"));
    const config = readJson(path.join(TINY, "hub-mlm", "config.json"));
    config.auto_map = {
      AutoConfig: "configuration_ltgbert.LtgBertConfig",
      AutoModelForMaskedLM: "modeling_ltgbert.LtgBertForMaskedLM",
      AutoModelForSequenceClassification: "modeling_ltgbert.LtgBertForSequenceClassification",
      AutoTokenizer: ["someone/elsewhere--tokenization_other.OtherTokenizer", null], // code on the Hub: no file
    };
    writeFileSync(path.join(source, "config.json"), JSON.stringify(config));
    const code: Record<string, string> = {
      "configuration_ltgbert.py": "class LtgBertConfig: pass\n",
      "modeling_ltgbert.py": "from .configuration_ltgbert import LtgBertConfig\n  from .activations_ltg import gelu\n",
      "activations_ltg.py": "def gelu(x): return x\n",
      "train.py": "print('a script the model does not need')\n",
    };
    for (const [name, text] of Object.entries(code)) writeFileSync(path.join(source, name), text);

    const cls = await LtgBertForSequenceClassification.fromPretrained(source, { numLabels: 2 });
    const out = path.join(work, "remote-code-out");
    const written = await cls.savePretrained(out);
    cls.dispose();
    const carried = ["configuration_ltgbert.py", "modeling_ltgbert.py", "activations_ltg.py"];
    expect(written.slice(2)).toEqual(carried.map((name) => path.join(out, name)));
    for (const name of carried) expect(readFileSync(path.join(out, name), "utf8")).toBe(code[name]);
    expect(readdirSync(out).sort()).toEqual(["config.json", "model.safetensors", ...carried].sort());
    expect(readJson(path.join(out, "config.json")).auto_map).toEqual(config.auto_map);

    // Loaded from the saved folder and saved again, the code goes along again.
    const back = await LtgBertForSequenceClassification.fromPretrained(out);
    const out2 = path.join(work, "remote-code-out2");
    expect((await back.savePretrained(out2)).slice(2)).toEqual(carried.map((name) => path.join(out2, name)));
    back.dispose();
  });

  it("rejects bad arguments and disposed models with stable codes", async () => {
    const mlm = await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "hub-mlm"));
    const out = path.join(work, "bad-args");
    await expect(mlm.savePretrained(out, { format: "onnx" as "pytorch" })).rejects.toMatchObject({
      name: "LtgBertError",
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringMatching(/^options\.format: expected "safetensors" or "pytorch", got "onnx"/),
    });
    await expect(mlm.savePretrained("")).rejects.toMatchObject({ code: "LTGBERT_INVALID_ARGUMENT" });
    const file = path.join(work, "a-file");
    writeFileSync(file, "x");
    const error = await mlm.savePretrained(path.join(file, "sub")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LtgBertError);
    expect((error as LtgBertError).message.startsWith(path.join(file, "sub"))).toBe(true);
    mlm.dispose();
    await expect(mlm.savePretrained(out)).rejects.toMatchObject({ code: "LTGBERT_DISPOSED" });
  });
});

describe("a failed save leaves the model already in the folder", () => {
  it("keeps it when the weights cannot replace their target (model.safetensors is a folder)", async () => {
    const dir = path.join(work, "atomic-rename");
    const good = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    await good.savePretrained(dir, { format: "pytorch" });
    good.dispose();
    mkdirSync(path.join(dir, "model.safetensors"));
    const before = new Map(["config.json", "pytorch_model.bin"].map((f) => [f, readFileSync(path.join(dir, f))]));

    const other = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "hub-cls"));
    const error = await other.savePretrained(dir).catch((e: unknown) => e);
    other.dispose();
    expect(error).toBeInstanceOf(LtgBertError);
    expect((error as LtgBertError).code).toBe("LTGBERT_IO");
    expect((error as LtgBertError).message.startsWith(path.join(dir, "model.safetensors"))).toBe(true);

    for (const [file, bytes] of before) expect(readFileSync(path.join(dir, file)).equals(bytes), file).toBe(true);
    expect(tempFiles(dir)).toEqual([]);
    const back = await LtgBertForSequenceClassification.fromPretrained(dir);
    expect(back.config.classifier_head).toBe("linear");
    expect(maxAbsDiff((await back.forward(inputs)).logits.data, f32(tiny, "seed_cls.logits"))).toBeLessThan(TOL);
    back.dispose();
  });

  it("keeps it when the write itself fails half-way (a file-size limit, which binds root too)", async () => {
    const dir = path.join(work, "atomic-write");
    const good = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    await good.savePretrained(dir);
    good.dispose();
    const before = new Map(["config.json", "model.safetensors"].map((f) => [f, readFileSync(path.join(dir, f))]));

    // 64 KiB: less than the model (about 280 KB), so write(2) fails with
    // EFBIG part-way through the temporary file. Node ignores SIGXFSZ.
    const child = path.join(HERE, "helpers", "save-child.mjs");
    const stdout = execFileSync(
      "bash",
      [
        "-c",
        'ulimit -f 64 && exec "$0" "$@"',
        process.execPath,
        child,
        path.join(TINY, "hub-cls"),
        "sequence_classification",
        dir,
        "safetensors",
      ],
      { encoding: "utf8" },
    );
    const result = JSON.parse(stdout.trim().split("\n").pop()!) as { ok: boolean; code?: string; message?: string };
    expect(result.ok).toBe(false);
    expect(result.code).toBe("LTGBERT_IO");
    expect(result.message).toMatch(/^.*model\.safetensors: cannot write .* \(File too large\)/);

    for (const [file, bytes] of before) expect(readFileSync(path.join(dir, file)).equals(bytes), file).toBe(true);
    expect(tempFiles(dir)).toEqual([]);
    const back = await LtgBertForSequenceClassification.fromPretrained(dir);
    expect(maxAbsDiff((await back.forward(inputs)).logits.data, f32(tiny, "seed_cls.logits"))).toBeLessThan(TOL);
    back.dispose();
  });
});

describe("a save killed part-way", () => {
  // A child saves the same model over and over into one folder and is killed
  // (SIGKILL, no clean-up) at a random moment, three times: the folder must
  // still hold the complete previous file, which loads strictly.
  it("leaves the previous weights complete and loadable", async () => {
    const dir = path.join(work, "killed");
    mkdirSync(dir, { recursive: true });
    const config = {
      vocab_size: 16384,
      hidden_size: 256,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      intermediate_size: 512,
      architectures: ["LtgBertForMaskedLM"],
    };
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
    const child = path.join(HERE, "helpers", "save-child.mjs");
    let reference: Buffer | null = null;
    const delays: number[] = [];
    for (let round = 0; round < 3; round++) {
      const proc = spawn(process.execPath, [child, dir, "masked_lm", dir, "safetensors", "--repeat"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        proc.on("exit", (_code, signal) => resolve(signal)),
      );
      // Wait for a first complete save of this round, then kill at random.
      await new Promise<void>((resolve, reject) => {
        proc.stdout.on("data", () => resolve());
        proc.on("exit", () => reject(new Error("save-child exited before saving")));
      });
      reference ??= readFileSync(path.join(dir, "model.safetensors"));
      const delay = Math.floor(Math.random() * 150);
      delays.push(delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      proc.kill("SIGKILL");
      expect(await exited, `round ${round}, killed after ${delay} ms`).toBe("SIGKILL");
      expect(readFileSync(path.join(dir, "model.safetensors")).equals(reference), `killed after ${delay} ms`).toBe(
        true,
      );
    }
    const back = await LtgBertForMaskedLM.fromPretrained(dir, { strict: true });
    expect(back.loadReport).toMatchObject({ missing: [], unexpected: [], mismatched: [] });
    back.dispose();
    // A killed process cannot remove its temporary file; loaders never read it.
    expect(
      tempFiles(dir).every((name) => name.startsWith(".model.safetensors.tmp-")),
      delays.join(", "),
    ).toBe(true);
  });
});

const python = PYTHON_WITH_TORCH;
const skipPython =
  python === null ? "no python3 with torch (set LTGBERT_TEST_PYTHON, or apt-get install python3-torch)" : "";

interface PythonSummary {
  keys: string[];
  key_set_equal: boolean;
  order_equal?: boolean;
  mismatched: string[];
  unreferenced: string[];
  count: number;
}

describe.skipIf(python === null)(`the Python round trip${skipPython ? ` (skipped: ${skipPython})` : ""}`, () => {
  function runPython(script: string, args: string[]): string {
    return execFileSync(python!, [path.join(HERE, "python", script), ...args], { encoding: "utf8", timeout: 120_000 });
  }

  async function saveBoth(name: string, Model: typeof LtgBertForMaskedLM | typeof LtgBertForSequenceClassification) {
    const model = await Model.fromPretrained(path.join(TINY, name));
    const dirs = { safetensors: path.join(work, "py", `${name}-st`), pytorch: path.join(work, "py", `${name}-pt`) };
    await model.savePretrained(dirs.safetensors);
    await model.savePretrained(dirs.pytorch, { format: "pytorch" });
    model.dispose();
    return dirs;
  }

  function check(spec: Record<string, unknown>) {
    const file = path.join(work, `spec-${Math.random().toString(16).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(spec));
    return JSON.parse(runPython("check_saved.py", [file])) as {
      torch_version: string;
      pytorch: PythonSummary & { type: string };
      pytorch_weights_only: PythonSummary | null;
      safetensors: PythonSummary & { metadata: unknown; problems: string[]; dtypes: string[] };
    };
  }

  it("torch.load and a plain safetensors parse read hub-mlm as saved: the reference's keys, bitwise weights", async () => {
    const dirs = await saveBoth("hub-mlm", LtgBertForMaskedLM);
    const hubKeys = [...readSafetensorsRaw(path.join(TINY, "hub-mlm", "model.safetensors")).keys()];
    expect(new Set(hubKeys)).toEqual(new Set(mlmKeysSafetensors));
    const summary = check({
      safetensors_dir: dirs.safetensors,
      pytorch_dir: dirs.pytorch,
      references: [path.join(TINY, "hub-mlm", "model.safetensors"), path.join(TINY, "seed-mlm", "pytorch_model.bin")],
      tied: { [TIED_ALIAS]: "embedding.word_embedding.weight" },
      expected_keys_pytorch: mlmKeysPytorch,
      expected_keys_safetensors: hubKeys,
    });
    for (const part of [summary.pytorch, summary.safetensors, summary.pytorch_weights_only]) {
      if (part === null) continue;
      expect(part.key_set_equal).toBe(true);
      expect(part.mismatched).toEqual([]);
      expect(part.unreferenced).toEqual([]);
    }
    expect(summary.pytorch.keys).toEqual(mlmKeysPytorch);
    expect(summary.pytorch.order_equal).toBe(true);
    expect(summary.pytorch.type).toMatch(/^(OrderedDict|dict)$/);
    if (summary.pytorch_weights_only) expect(summary.pytorch_weights_only.keys).toEqual(mlmKeysPytorch);
    expect(new Set(summary.safetensors.keys)).toEqual(new Set(mlmKeysSafetensors));
    expect(summary.safetensors.metadata).toEqual({ format: "pt" });
    expect(summary.safetensors.problems).toEqual([]);
    expect(summary.safetensors.dtypes).toEqual(["torch.float32"]);
  });

  it("torch.load and a plain safetensors parse read seed-cls as saved: the fixture's keys, bitwise weights", async () => {
    const dirs = await saveBoth("seed-cls", LtgBertForSequenceClassification);
    const fixture = path.join(TINY, "seed-cls", "model.safetensors");
    const keys = [...readSafetensorsRaw(fixture).keys()];
    const cls = await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"));
    const order = cls
      .stateDict()
      .keys()
      .filter((k) => !k.endsWith(".attention.position_indices"));
    cls.dispose();
    expect(new Set(order)).toEqual(new Set(keys));
    const summary = check({
      safetensors_dir: dirs.safetensors,
      pytorch_dir: dirs.pytorch,
      references: [fixture],
      expected_keys_pytorch: order,
      expected_keys_safetensors: keys,
    });
    for (const part of [summary.pytorch, summary.safetensors, summary.pytorch_weights_only]) {
      if (part === null) continue;
      expect(part.key_set_equal).toBe(true);
      expect(part.mismatched).toEqual([]);
      expect(part.unreferenced).toEqual([]);
    }
    expect(summary.pytorch.order_equal).toBe(true);
    expect(summary.safetensors.count).toBe(keys.length);
  });

  it("what Python writes (a hand-written model.safetensors, torch.save of an OrderedDict) reads here, bitwise", async () => {
    const out = path.join(work, "from-python");
    runPython("write_model.py", [path.join(TINY, "hub-mlm"), out]);
    const expected = JSON.parse(readFileSync(path.join(out, "expected.json"), "utf8")) as {
      tensors: { key: string; shape: number[]; offset: number; nbytes: number }[];
    };
    const blob = readFileSync(path.join(out, "expected.bin"));
    expect(new Set(expected.tensors.map((t) => t.key))).toEqual(new Set(mlmKeysPytorch));
    for (const sub of ["safetensors", "pytorch"]) {
      const mlm = await LtgBertForMaskedLM.fromPretrained(path.join(out, sub));
      expect(mlm.loadReport).toMatchObject({ missing: [], unexpected: [], mismatched: [] });
      const sd = mlm.stateDict();
      for (const t of expected.tensors) {
        const got = await sd.read(t.key);
        expect(got.shape, `${sub}: ${t.key}`).toEqual(t.shape);
        const bytes = Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength);
        expect(bytes.equals(blob.subarray(t.offset, t.offset + t.nbytes)), `${sub}: ${t.key}`).toBe(true);
      }
      // Perturbed weights: the reference's logits no longer hold.
      expect(maxAbsDiff((await mlm.forward(inputs)).logits.data, f32(tiny, "hub_mlm.logits"))).toBeGreaterThan(1e-3);
      mlm.dispose();
    }
  });
});
