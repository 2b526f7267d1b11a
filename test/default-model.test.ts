// The model shipped in models/default: complete, within the size the
// package promises, with the package's own tokenizer (not the GPL-licensed
// LTG-BERT ones of the fixtures), a model card that names the corpus files
// that are in data/corpus, masked-token predictions on held-out WikiText far
// above a random model of the same architecture, and a published package that
// carries the model and none of the repository's data.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_DIR } from "../lib/cli.js";
import * as api from "../lib/index.js";
import { LtgBertForMaskedLM, setNumThreads, Tokenizer, Trainer } from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

setNumThreads(1);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-default-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const file = (name: string): string => path.join(DEFAULT_MODEL_DIR, name);
const config = JSON.parse(readFileSync(file("config.json"), "utf8"));
const card = readFileSync(file("README.md"), "utf8");

describe("models/default", () => {
  it("is a masked LM of at most 20 MB with the package's own tokenizer", async () => {
    expect(DEFAULT_MODEL_DIR).toBe(path.join(root, "models", "default"));
    expect(api.DEFAULT_MODEL_DIR).toBe(DEFAULT_MODEL_DIR); // the package root exports it too
    expect(config.architectures).toEqual(["LtgBertForMaskedLM"]);
    expect(statSync(file("model.safetensors")).size).toBeLessThanOrEqual(20_000_000);

    const tok = await Tokenizer.fromPretrained(DEFAULT_MODEL_DIR);
    expect(tok.vocabSize).toBe(config.vocab_size);
    // LTG-BERT's special tokens at ids 0-6.
    const special = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "[PAR]", "[TAB]"];
    expect(special.map((t) => tok.tokenToId(t))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const other of ["ltg-bert-babylm", "ltg-bert-babylm-10m"]) {
      const gpl = readFileSync(path.join(FIXTURES, "tokenizers", other, "tokenizer.json"), "utf8");
      expect(readFileSync(file("tokenizer.json"), "utf8")).not.toBe(gpl);
      const theirs = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", other));
      expect(theirs.vocabSize).not.toBe(tok.vocabSize);
    }
  });

  it("has a model card with the command that made it, its final loss, and the corpus files as they are in data/corpus", () => {
    const command = /```sh\n(ltgbert pretrain [^\n]+)\n```/.exec(card);
    expect(command, "the pretrain command line").not.toBeNull();
    expect(command![1]).toContain("--out models/default");
    expect(card).toMatch(/final training MLM loss[^|]*\| \d\.\d{4} \|/);
    expect(card).toContain("CC BY-SA 3.0");

    const rows = [...card.matchAll(/^\| `([^`]+\.txt)` \| [\d,]+ \| [\d,]+ \| `([0-9a-f]{64})` \|$/gm)];
    expect(rows.length).toBeGreaterThan(0);
    for (const [, name, sha] of rows) {
      const text = path.join(root, "data", "corpus", name);
      expect(command![1]).toContain(`data/corpus/${name}`);
      expect(createHash("sha256").update(readFileSync(text)).digest("hex"), name).toBe(sha);
    }
  });

  it("predicts held-out masked tokens far better than a random model of its architecture", async () => {
    // WikiText-2 validation lines 61-80: held out from the pretraining (the card says so).
    expect(card).toMatch(/Held out for evaluation: `wikitext-2-valid\.txt`/);
    const heldOut = path.join(FIXTURES, "corpus", "wikitext-2-valid-61-80.txt");
    const accuracy = async (model: LtgBertForMaskedLM, name: string): Promise<number> => {
      const trainer = new Trainer(model, {
        trainData: heldOut,
        evalData: heldOut,
        outputDir: path.join(work, name),
        sequenceLength: 128,
        batchSize: 16,
      });
      const { accuracy } = await trainer.evaluate();
      model.dispose();
      return accuracy;
    };
    const shipped = await accuracy(await LtgBertForMaskedLM.fromPretrained(DEFAULT_MODEL_DIR), "shipped");
    const fresh = await LtgBertForMaskedLM.fromConfig(config, { seed: 1 });
    fresh.tokenizer = await Tokenizer.fromPretrained(DEFAULT_MODEL_DIR);
    const random = await accuracy(fresh, "random");
    // The card reports 0.28 on the whole validation split; a random model gets about 0.
    expect(shipped).toBeGreaterThan(0.2);
    expect(shipped).toBeGreaterThan(random + 0.15);
  });
});

describe("the published package", () => {
  it("carries the default model and none of the repository's data, tests, benches, training logs or demo output", () => {
    const [pack] = JSON.parse(
      execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }),
    );
    const files: string[] = pack.files.map((f: { path: string }) => f.path);
    for (const name of ["config.json", "model.safetensors", "tokenizer.json", "README.md"])
      expect(files).toContain(`models/default/${name}`);
    // the model card stays; the training run's logs and arguments do not ship
    for (const name of ["train_log.jsonl", "trainer_state.json", "training_args.json"])
      expect(files).not.toContain(`models/default/${name}`);
    expect(files.filter((f) => /^(data|test|demo-output|bench|reference|lib|fuzz)\//.test(f))).toEqual([]);
    expect(files.filter((f) => /checkpoint-\d+/.test(f))).toEqual([]);
    // the scripts that build the addon on install, and no others
    expect(files.filter((f) => f.startsWith("scripts/")).sort()).toEqual([
      "scripts/find-libtorch.mjs",
      "scripts/install.mjs",
      "scripts/native-sources.mjs",
    ]);
  });
});
