// The model shipped in models/default: complete, within the size the
// package promises, with the package's own tokenizer (not the GPL-licensed
// LTG-BERT ones of the fixtures), a model card that names the IMDB files as
// scripts/prepare-imdb.mjs makes them (the text itself is not in the
// repository), masked-token predictions on film-review text it never saw far
// above a random model of the same architecture, and a published package that
// carries the model and none of the repository's data.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_DIR } from "../lib/cli.js";
import * as api from "../lib/index.js";
import { LtgBertForMaskedLM, setNumThreads, Tokenizer, Trainer } from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";
// @ts-expect-error: a plain ES module script, without types
import { EXPECTED_SHA256 } from "../scripts/prepare-imdb.mjs";

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

  it("has a model card with the command that made it, the corpus files as scripts/prepare-imdb.mjs makes them, and the data's source", () => {
    const command = /```sh\n(ltgbert pretrain [^\n]+)\n```/.exec(card);
    expect(command, "the pretrain command line").not.toBeNull();
    expect(command![1]).toContain(
      "--corpus data/imdb/imdb-reviews.train.txt data/imdb/imdb-unsup.train.txt --eval data/imdb/imdb-reviews.valid.txt",
    );
    expect(command![1]).toContain("--out models/default");
    expect(card).toMatch(/final training MLM loss[^|]*\| \d\.\d{4} \|/);
    expect(card).toMatch(/held-out MLM loss[^|]*\| \d\.\d{4} \|/);
    expect(card).toContain("Held out for evaluation: `imdb-reviews.valid.txt`");
    // where the archive is published, the paper its authors ask to be cited
    expect(card).toContain("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz");
    expect(card).toContain("Maas");

    // The text is not in the repository: the card's sums are those the
    // preparation script checks its output against.
    const rows = [...card.matchAll(/^\| `([^`]+\.txt)` \| [\d,]+ \| [\d,]+ \| `([0-9a-f]{64})` \|$/gm)];
    expect(rows.map(([, name]) => name)).toEqual(["imdb-reviews.train.txt", "imdb-unsup.train.txt"]);
    const heldOut =
      /Held out for evaluation: `imdb-reviews\.valid\.txt`, [\d,]+ bytes, [\d,]+ lines, sha256 `([0-9a-f]{64})`/.exec(
        card,
      );
    expect(heldOut).not.toBeNull();
    for (const [, name, sha] of [...rows, [, "imdb-reviews.valid.txt", heldOut![1]]])
      expect(sha, name).toBe(EXPECTED_SHA256[name as keyof typeof EXPECTED_SHA256]);
  });

  it("has transfer figures whose means are the means of their seeds, as the README's front page quotes them", () => {
    const row = (start: string): number[] => {
      const match = new RegExp(`^\\| ${start} \\|((?: [\\d.]+ \\|)+)$`, "m").exec(card);
      expect(match, start).not.toBeNull();
      return match![1]
        .split("|")
        .map((c) => c.trim())
        .filter(Boolean)
        .map(Number);
    };
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    for (const start of ["this model", "random weights"]) {
      const cells = row(start);
      const seeds = cells.slice(0, -1);
      expect(seeds.length).toBe(3);
      const mean = seeds.reduce((a, b) => a + b, 0) / seeds.length;
      expect(Math.abs(mean - cells.at(-1)!), start).toBeLessThanOrEqual(0.051); // rounded to one decimal
      expect(readme).toContain(cells.at(-1)!.toFixed(1));
    }
  });

  it("predicts masked tokens of film-review text it never saw far better than a random model of its architecture", async () => {
    // SST-2's dev sentences: Rotten Tomatoes snippets, not in the IMDB
    // pretraining text (the corpus's PROVENANCE.md measured no overlap).
    const heldOut = path.join(work, "sst2-dev.txt");
    const sentences = readFileSync(path.join(root, "data", "sst2", "dev.tsv"), "utf8")
      .split("\n")
      .slice(1)
      .map((line) => line.split("\t")[0].trim())
      .filter(Boolean);
    expect(sentences.length).toBe(872);
    writeFileSync(heldOut, sentences.join("\n") + "\n");
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
    // A random model guesses among 8,192 tokens: about 0.
    expect(random).toBeLessThan(0.02);
    expect(shipped).toBeGreaterThan(0.15);
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
