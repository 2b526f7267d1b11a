// The `ltgbert` command line. Most commands run in this process through
// main(argv, io) with captured output, on a tiny random model (hidden 32,
// two layers, the BabyLM tokenizer) and 40 + 20 SST-2 rows; `pretrain` on
// the 12 kB WikiText-2 slice with a 800-token tokenizer; exit codes,
// `transfer` and Ctrl-C run as a user runs them: a child process of the
// built dist/cli.js (built here from lib/ first). One libtorch thread, as in
// the other training tests.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_DIR, main, resolveModelDir } from "../lib/cli.js";
import {
  LtgBertError,
  encodeMultipleChoice,
  LtgBertForMaskedLM,
  LtgBertForMultipleChoice,
  LtgBertForQuestionAnswering,
  LtgBertForSequenceClassification,
  LtgBertForTokenClassification,
  readConllu,
  readMultipleChoice,
  readRegressionTsv,
  readSquad,
  setNumThreads,
  Tokenizer,
} from "../lib/index.js";
import { PRETRAIN_SIZES, BABYLM, FIXTURES, PYTHON_WITH_TORCH, TINY } from "./helpers/fixtures.js";

setNumThreads(1);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist", "cli.js");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-cli-"));
const expected = JSON.parse(readFileSync(path.join(TINY, "expected.json"), "utf8"));

const CONFIG = {
  vocab_size: 16384,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 128,
};

const at = (...parts: string[]): string => path.join(work, ...parts);
const dataDir = at("sst2");
const mlmDir = at("tiny-mlm");
const clsDir = at("tiny-cls");
/** Written by the first finetune test, read by the later ones. */
const tunedDir = at("tuned");
let clsParameters = 0;

/** Runs a child process of dist/cli.js. */
function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 120_000 });
}

/** Runs main() in this process with captured output; `stdin` is what predict reads when given no texts. */
async function ltgbert(args: string[], stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(["node", "ltgbert", ...args], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from([stdin]),
  });
  return { code, stdout, stderr };
}

/** Asserts one line on stderr that contains each of `parts`. */
function expectOneLine(stderr: string, ...parts: string[]): void {
  const lines = stderr.trim().split("\n");
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^ltgbert: /);
  for (const part of parts) expect(lines[0]).toContain(part);
}

beforeAll(async () => {
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    { cwd: root },
  );
  const rows = readFileSync(path.join(FIXTURES, "sst2", "train-2000.tsv"), "utf8").split("\n");
  mkdirSync(dataDir);
  writeFileSync(path.join(dataDir, "train.tsv"), `${[rows[0], ...rows.slice(1, 41)].join("\n")}\n`);
  writeFileSync(path.join(dataDir, "dev.tsv"), `${[rows[0], ...rows.slice(41, 61)].join("\n")}\n`);

  const tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm"));
  const mlm = await LtgBertForMaskedLM.fromConfig(CONFIG, { seed: 1 });
  await mlm.setTokenizer(tok).savePretrained(mlmDir);
  mlm.dispose();
  const cls = await LtgBertForSequenceClassification.fromConfig(CONFIG, { numLabels: 2, seed: 2 });
  cls.setTokenizer(tok).setLabelNames(["negative", "positive"]);
  clsParameters = cls.numParameters();
  await cls.savePretrained(clsDir);
  cls.dispose();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("ltgbert --help", () => {
  it("lists every command, and each command documents its options", async () => {
    const top = await ltgbert(["--help"]);
    expect(top.code).toBe(0);
    for (const command of ["info", "transfer", "finetune", "evaluate", "predict", "serve"])
      for (const command of ["info", "transfer", "finetune", "pretrain", "evaluate", "predict"])
        expect(top.stdout).toContain(command);

    const flags: Record<string, string[]> = {
      finetune: [
        "--model",
        "--data",
        "--train",
        "--dev",
        "--out",
        "--epochs",
        "--batch-size",
        "--lr",
        "--warmup-ratio",
        "--weight-decay",
        "--max-length",
        "--seed",
        "--eval-every",
        "--save-every",
        "--text-column",
        "--text-pair-column",
        "--label-column",
        "--num-labels",
        "--threads",
        "--resume",
        "--json",
      ],
      pretrain: [
        "--corpus",
        "--out",
        "--eval",
        "--tokenizer",
        "--vocab-size",
        "--hidden-size",
        "--layers",
        "--heads",
        "--intermediate-size",
        "--max-position-embeddings",
        "--position-bucket-size",
        "--sequence-length",
        "--batch-size",
        "--epochs",
        "--max-steps",
        "--lr",
        "--warmup-ratio",
        "--weight-decay",
        "--max-grad-norm",
        "--mask-probability",
        "--eval-every",
        "--save-every",
        "--embedding-init",
        "--seed",
        "--threads",
        "--resume",
        "--card-notes",
        "--json",
      ],
      evaluate: ["--data", "--batch-size", "--json"],
      predict: ["--file", "--top-k", "--batch-size", "--json"],
      info: ["--json"],
    };
    for (const [command, expectedFlags] of Object.entries(flags)) {
      const help = await ltgbert([command, "--help"]);
      expect(help.code).toBe(0);
      if (command !== "pretrain") expect(help.stdout).toContain('"default"');
      for (const flag of expectedFlags) expect(help.stdout, `${command} ${flag}`).toContain(flag);
    }
  });

  it("answers --help and --version with exit code 0 (child process)", () => {
    const help = run("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("finetune");
    const version = run("--version");
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("ltgbert info", () => {
  it("describes a classifier directory", async () => {
    const text = await ltgbert(["info", clsDir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("LtgBertForSequenceClassification (linear head, 2 labels: negative, positive)");
    expect(text.stdout).toContain("vocab 16384, hidden 32, 2 layers, 2 heads of 16, intermediate 64");
    expect(text.stdout).toContain(clsParameters.toLocaleString("en-US"));
    expect(text.stdout).toMatch(/tokenizer\s+\S+tokenizer\.json: WordPiece, vocab 16384; \[CLS\] 1, \[SEP\] 2/);
    expect(text.stdout).toContain("no trainer_state.json");

    const json = await ltgbert(["info", clsDir, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const info = JSON.parse(json.stdout);
    expect(info.architecture).toBe("LtgBertForSequenceClassification");
    expect(info.config).toMatchObject({
      vocabSize: 16384,
      hiddenSize: 32,
      layers: 2,
      attentionHeads: 2,
      intermediateSize: 64,
      maxPositionEmbeddings: 128,
      positionQkSplit: "per_head",
      positionQkSplitAssumed: false, // saved by this package, which always writes the key
      head: "linear",
      numLabels: 2,
    });
    expect(info.labels).toEqual(["negative", "positive"]);
    expect(info.parameters).toBe(clsParameters);
    expect(info.weights.file).toBe(path.join(clsDir, "model.safetensors"));
    expect(info.weights.bytes).toBe(statSync(info.weights.file).size);
    expect(info.tokenizer).toMatchObject({ type: "WordPiece", vocabSize: 16384 });
    expect(info.tokenizer.specialTokens.pad).toEqual({ token: "[PAD]", id: 3 });
    expect(info.tokenizer.lowercase).toBe(false);
    expect(info.training).toBeNull();
  });

  it("describes a masked LM saved by torch.save, without a tokenizer", async () => {
    const { code, stdout } = await ltgbert(["info", path.join(TINY, "seed-mlm"), "--json"]);
    expect(code).toBe(0);
    const info = JSON.parse(stdout);
    expect(info.architecture).toBe("LtgBertForMaskedLM");
    expect(info.config.head).toBe("masked_lm");
    expect(info.parameters).toBe(expected.parameter_counts.seed_mlm);
    expect(info.weights.format).toBe("pytorch");
    expect(info.tokenizer).toBeNull();
    // Its config.json has no position_qk_split: the split is the default, and info says so.
    expect(info.config).toMatchObject({ positionQkSplit: "per_head", positionQkSplitAssumed: true });
    const text = await ltgbert(["info", path.join(TINY, "seed-mlm")]);
    expect(text.stdout).toMatch(/q\/k split per_head \(not in config\.json, so assumed; .*"global"\)/);
    const babylm = await ltgbert(["info", BABYLM, "--json"]);
    expect(JSON.parse(babylm.stdout).config).toMatchObject({
      positionQkSplit: "global",
      positionQkSplitAssumed: false,
    });
  });
});

describe("ltgbert finetune", () => {
  it("trains a question-answering model when the data is SQuAD JSON (task detected); evaluate and predict score and answer", async () => {
    const squad = path.join(FIXTURES, "tasks", "xquad-en-slice.json");
    const out = at("qa");
    const common = ["--max-length", "128", "--doc-stride", "32"];
    const { code, stdout, stderr } = await ltgbert([
      "finetune",
      "--model",
      mlmDir,
      "--train",
      squad,
      "--dev",
      squad,
      "--out",
      out,
      "--epochs",
      "1",
      "--batch-size",
      "8",
      ...common,
      "--json",
    ]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      task: "question-answering",
      transferred: true,
      train: { file: squad, examples: 30 },
      dev: { file: squad, examples: 30 },
      interrupted: false,
    });
    expect(Object.keys(result.metrics).sort()).toEqual(["exactMatch", "f1", "loss", "samples", "windows"]);
    expect(stderr).toMatch(/dev loss \d+\.\d{4}, exact match \d+\.\d{2}, F1 \d+\.\d{2} \(30 questions, \d+ windows\)/);
    const config = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"));
    expect(config.architectures).toEqual(["LtgBertForQuestionAnswering"]);

    const evaluated = await ltgbert(["evaluate", out, "--data", squad, ...common, "--json"]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const e = JSON.parse(evaluated.stdout);
    expect(e).toMatchObject({ task: "question-answering", examples: 30 });
    expect(e.metrics.f1).toBe(result.metrics.f1);
    const preds = at("qa-preds.jsonl");
    const predicted = await ltgbert(["predict", out, "--file", squad, "--output", preds, ...common.slice(2)]);
    expect(predicted.code, predicted.stderr).toBe(0);
    const lines = readFileSync(preds, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const gold = await readSquad(squad);
    expect(lines.map((l) => l.id)).toEqual(gold.examples.map((x) => x.id));
    expect(Object.keys(lines[0]).sort()).toEqual(["answer", "id"]);
  });

  it("trains a multiple-choice model when the data is ARC JSONL (task detected); predict writes the chosen key", async () => {
    const arc = path.join(FIXTURES, "tasks", "arc-easy-dev-slice.jsonl");
    const out = at("mc");
    const { code, stdout, stderr } = await ltgbert([
      "finetune",
      "--model",
      mlmDir,
      "--train",
      arc,
      "--dev",
      arc,
      "--out",
      out,
      "--epochs",
      "1",
      "--batch-size",
      "4",
      "--json",
    ]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      task: "multiple-choice",
      transferred: true,
      train: { examples: 21 },
      interrupted: false,
    });
    expect(Object.keys(result.metrics).sort()).toEqual(["accuracy", "chance", "loss", "samples"]);
    expect(stderr).toMatch(/dev loss \d+\.\d{4}, accuracy \d\.\d{4} \(chance 0\.\d{4}, 21 questions\)/);
    const evaluated = JSON.parse((await ltgbert(["evaluate", out, "--data", arc, "--json"])).stdout);
    expect(evaluated.metrics.accuracy).toBe(result.metrics.accuracy);
    const preds = at("mc-preds.jsonl");
    const predicted = await ltgbert(["predict", out, "--file", arc, "--output", preds]);
    expect(predicted.code, predicted.stderr).toBe(0);
    const lines = readFileSync(preds, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const gold = await readMultipleChoice(arc);
    expect(lines.map((l) => l.id)).toEqual(gold.examples.map((x) => x.id));
    // The key as the file writes it: line 9 of the slice uses 1-4.
    lines.forEach((l, i) => expect(gold.examples[i].choiceLabels).toContain(l.choice));
    const right = lines.filter((l, i) => l.choice === gold.examples[i].answerKey).length;
    expect(right / 21).toBe(evaluated.metrics.accuracy);
    const asClassifier = await ltgbert(["predict", out, "a text"]);
    expect(asClassifier.code).toBe(1);
    expectOneLine(asClassifier.stderr, "--file");
  });

  it("trains a regression model when the data is STS-B's TSV (task detected); evaluate and predict score pairs", async () => {
    const stsb = path.join(FIXTURES, "tasks", "stsb-dev-slice.tsv");
    const out = at("stsb");
    const { code, stdout, stderr } = await ltgbert([
      "finetune",
      "--model",
      mlmDir,
      "--train",
      stsb,
      "--dev",
      stsb,
      "--out",
      out,
      "--epochs",
      "1",
      "--batch-size",
      "5",
      "--json",
    ]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      task: "regression",
      transferred: true,
      numLabels: 1,
      train: { file: stsb, examples: 25, columns: { sentence1: "sentence1", sentence2: "sentence2", score: "score" } },
      interrupted: false,
    });
    expect(Object.keys(result.metrics).sort()).toEqual(["loss", "pearson", "samples", "spearman"]);
    expect(stderr).toMatch(/dev loss \(MSE\) \d+\.\d{4}, Pearson -?\d\.\d{4}, Spearman -?\d\.\d{4} \(25 pairs\)/);
    const config = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"));
    expect(config).toMatchObject({ architectures: ["LtgBertForSequenceClassification"], problem_type: "regression" });

    const evaluated = await ltgbert(["evaluate", out, "--data", stsb, "--json"]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const e = JSON.parse(evaluated.stdout);
    expect(e).toMatchObject({ task: "regression", examples: 25 });
    // Batches of another size pad differently: float sums differ in the last digits.
    expect(e.metrics.pearson).toBeCloseTo(result.metrics.pearson, 5);
    const preds = at("stsb-preds.jsonl");
    const predicted = await ltgbert(["predict", out, "--file", stsb, "--output", preds]);
    expect(predicted.code, predicted.stderr).toBe(0);
    const lines = readFileSync(preds, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(25);
    expect(Object.keys(lines[0])).toEqual(["score"]);
    const gold = (await readRegressionTsv(stsb)).examples.map((x) => x.score);
    const mse = lines.reduce((a, l, i) => a + (l.score - gold[i]) ** 2, 0) / 25;
    expect(mse).toBeCloseTo(e.metrics.loss, 4);
    // GLUE's test files have no score column: predict reads their pairs all the same.
    const unscored = at("stsb-test.tsv");
    writeFileSync(
      unscored,
      readFileSync(stsb, "utf8")
        .split("\n")
        .map((l) => l.replace(/\t[^\t]*$/, ""))
        .join("\n"),
    );
    const blind = await ltgbert(["predict", out, "--file", unscored, "--json"]);
    expect(blind.code, blind.stderr).toBe(0);
    JSON.parse(blind.stdout).predictions.forEach((p: { score: number }, i: number) =>
      expect(p.score).toBeCloseTo(lines[i].score, 5),
    );
    const wrongTask = await ltgbert([
      "finetune",
      "--model",
      out,
      "--train",
      stsb,
      "--out",
      at("x"),
      "--task",
      "sequence-classification",
      "--text-column",
      "sentence1",
      "--label-column",
      "genre",
    ]);
    expect(wrongTask.code).toBe(1);
    expectOneLine(wrongTask.stderr, "regression model");
  });

  it("trains a tagger when the data is CoNLL-U (task detected): a new token-classification head on a masked LM", async () => {
    const conllu = path.join(FIXTURES, "tasks", "ewt-dev-slice.conllu");
    const out = at("tagger");
    const { code, stdout, stderr } = await ltgbert([
      "finetune",
      "--model",
      mlmDir,
      "--train",
      conllu,
      "--dev",
      conllu,
      "--out",
      out,
      "--epochs",
      "2",
      "--batch-size",
      "4",
      "--json",
    ]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      task: "token-classification",
      transferred: true,
      numLabels: 14, // distinct UPOS of the slice (awk)
      train: { file: conllu, examples: 9, words: 184 },
      dev: { file: conllu, examples: 9, words: 184 },
      steps: 6,
      interrupted: false,
    });
    expect(result.labels).toContain("PROPN");
    expect(Object.keys(result.metrics).sort()).toEqual(["accuracy", "loss", "samples", "words"]);
    expect(result.metrics.words).toBe(184);
    expect(stderr).toMatch(/^step 3 \(epoch 1\.00\): dev loss \d+\.\d{4}, accuracy \d\.\d{4} \(184 words\)$/m);
    const config = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"));
    expect(config.architectures).toEqual(["LtgBertForTokenClassification"]);

    // evaluate scores the saved tagger as the run's last evaluation did; predict writes its tags.
    const evaluated = await ltgbert(["evaluate", out, "--data", conllu, "--json"]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const e = JSON.parse(evaluated.stdout);
    expect(e).toMatchObject({ task: "token-classification", examples: 9, metrics: { words: 184 } });
    expect(e.metrics.accuracy).toBe(result.metrics.accuracy);
    const preds = at("tagger-preds.jsonl");
    const predicted = await ltgbert(["predict", out, "--file", conllu, "--output", preds]);
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(predicted.stderr).toContain(`wrote 9 sentences to ${preds}`);
    const lines = readFileSync(preds, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const gold = await readConllu(conllu);
    expect(lines.map((l) => l.words)).toEqual(gold.sentences.map((x) => x.words));
    let correct = 0;
    lines.forEach((l, i) => gold.sentences[i].tags.forEach((t, j) => (correct += l.labels[j] === t ? 1 : 0)));
    expect(correct / 184).toBe(e.metrics.accuracy);
    const plain = await ltgbert(["predict", out, "The cat sat."]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^The\/\S+ cat\/\S+ sat\/\S+ \.\/\S+\n$/);

    // Classification options are refused for tagging, and the tagger is not a classifier's start.
    const wrong = await ltgbert([
      "finetune",
      "--model",
      mlmDir,
      "--train",
      conllu,
      "--out",
      at("x"),
      "--label-column",
      "2",
    ]);
    expect(wrong.code).toBe(1);
    expectOneLine(wrong.stderr, "--label-column: not for token classification");
    const asClassifier = await ltgbert([
      "finetune",
      "--model",
      out,
      "--data",
      dataDir,
      "--out",
      at("x"),
      "--task",
      "sequence-classification",
    ]);
    expect(asClassifier.code).toBe(1);
    expectOneLine(asClassifier.stderr, "is a tagger (token classification)");
    expect(existsSync(at("x"))).toBe(false);
  });

  it("puts a head on a masked LM, trains on a data directory's splits and saves a model that loads back", async () => {
    const args = ["finetune", "--model", mlmDir, "--data", dataDir, "--out", tunedDir];
    const { code, stdout, stderr } = await ltgbert([...args, "--epochs", "2", "--batch-size", "8", "--json"]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      transferred: true,
      head: "linear",
      numLabels: 2,
      labels: ["LABEL_0", "LABEL_1"],
      train: { file: path.join(dataDir, "train.tsv"), examples: 40 },
      dev: { file: path.join(dataDir, "dev.tsv"), examples: 20 },
      output: tunedDir,
      interrupted: false,
      steps: 10,
      epochs: 2,
    });
    expect(result.trainLoss).toBeGreaterThan(0);
    expect(Object.keys(result.metrics).sort()).toEqual(["accuracy", "examples", "loss", "macroF1", "mcc"]);
    expect(result.metrics.examples).toBe(20);
    // Without a terminal, each evaluation is a line on stderr.
    expect(stderr).toMatch(/^step 5 \(epoch 1\.00\): dev loss \d/m);

    const model = await LtgBertForSequenceClassification.fromPretrained(tunedDir);
    expect(model.numLabels).toBe(2);
    expect(model.tokenizer).not.toBeNull();
    model.dispose();
    for (const file of ["config.json", "model.safetensors", "tokenizer.json", "trainer_state.json"])
      expect(existsSync(path.join(tunedDir, file)), file).toBe(true);

    // info reads what the run left.
    const info = await ltgbert(["info", tunedDir]);
    expect(info.stdout).toContain(`trained on    ${path.join(dataDir, "train.tsv")} (40 examples)`);
    expect(info.stdout).toMatch(/training\s+10 steps, 2\.00 epochs, batch 8/);
    const json = JSON.parse((await ltgbert(["info", tunedDir, "--json"])).stdout);
    expect(json.training).toMatchObject({ steps: 10, trainExamples: 40, evalExamples: 20 });
    expect(json.training.lastEval.accuracy).toBe(result.metrics.accuracy);
  });

  it("goes on training a classifier from --train and --dev files, and prints what it did", async () => {
    const out = at("tuned-cls");
    const { code, stdout, stderr } = await ltgbert([
      "finetune",
      "--model",
      clsDir,
      "--train",
      path.join(dataDir, "train.tsv"),
      "--dev",
      path.join(dataDir, "dev.tsv"),
      "--out",
      out,
      "--max-steps",
      "3",
      "--batch-size",
      "16",
      "--lr",
      "1e-4",
      "--warmup-ratio",
      "0.5",
      "--weight-decay",
      "0.01",
    ]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^fine-tuned \S+tiny-cls on \S+train\.tsv \(40 examples\): 3 steps/);
    expect(stdout).toMatch(/dev \S+dev\.tsv \(20 examples\) at step 3: loss \d\.\d{4}, accuracy \d\.\d{4}, macro-F1 /);
    expect(stdout).toContain(`saved to ${out} (labels: negative, positive)`);
    const args = JSON.parse(readFileSync(path.join(out, "training_args.json"), "utf8"));
    expect(args).toMatchObject({ learningRate: 1e-4, warmupSteps: 2, weightDecay: 0.01, totalSteps: 3 });
  });

  it("--random-init starts from the model's architecture and tokenizer with fresh seeded weights", async () => {
    const out = at("random-init");
    const args = ["finetune", "--model", mlmDir, "--data", dataDir, "--random-init", "--seed", "3"];
    // A learning rate of 0 leaves the weights where they started.
    const { code, stdout, stderr } = await ltgbert([...args, "--out", out, "--max-steps", "1", "--lr", "0", "--json"]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ transferred: false, randomInit: true, head: "linear", numLabels: 2 });

    const saved = await LtgBertForSequenceClassification.fromPretrained(out);
    const mlm = await LtgBertForMaskedLM.fromPretrained(mlmDir);
    const fresh = await LtgBertForSequenceClassification.fromConfig(CONFIG, { numLabels: 2, seed: 3 });
    expect(saved.tokenizer).not.toBeNull();
    for (const key of ["embedding.word_embedding.weight", "transformer.layers.1.mlp.mlp.1.weight"]) {
      const weights = (await saved.stateDict().read(key)).data;
      expect(weights, key).toEqual((await fresh.stateDict().read(key)).data);
      expect(weights, key).not.toEqual((await mlm.stateDict().read(key)).data);
    }
    for (const model of [saved, mlm, fresh]) model.dispose();

    const text = await ltgbert([...args, "--out", at("random-init-2"), "--max-steps", "1"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^fine-tuned random weights in \S+tiny-mlm's architecture \(linear head\)/);
  });

  it("--labels names the label ids of the data, and predict prints the names", async () => {
    const out = at("named");
    const args = ["finetune", "--model", mlmDir, "--data", dataDir, "--max-steps", "1"];
    const { code, stdout, stderr } = await ltgbert([...args, "--out", out, "--labels", "negative, positive", "--json"]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout).labels).toEqual(["negative", "positive"]);
    expect(JSON.parse(readFileSync(path.join(out, "config.json"), "utf8")).id2label).toEqual({
      0: "negative",
      1: "positive",
    });
    const predicted = await ltgbert(["predict", out, "a fine film ."]);
    expect(predicted.stdout).toMatch(/^(negative|positive)\t0\.\d{4}\ta fine film \.\n$/);

    const three = await ltgbert([...args, "--out", at("named-3"), "--labels", "a,b,c"]);
    expect(three.code).toBe(1);
    expectOneLine(three.stderr, "--labels", "expected 2 distinct", '"a,b,c"', "LTGBERT_INVALID_ARGUMENT");
  });

  it("refuses a bad command line with one line naming the option or file", async () => {
    const bad = await ltgbert(["finetune", "--data", dataDir, "--out", at("x"), "--epochs", "zero"]);
    expect(bad.code).toBe(2);
    expectOneLine(bad.stderr, "--epochs", "zero", "Expected a positive integer");

    const unknown = await ltgbert(["finetune", "--data", dataDir, "--out", at("x"), "--epoch", "2"]);
    expect(unknown.code).toBe(2);
    expectOneLine(unknown.stderr, "unknown option '--epoch'", "--epochs");

    const noOut = await ltgbert(["finetune", "--data", dataDir]);
    expect(noOut.code).toBe(2);
    expectOneLine(noOut.stderr, "--out");

    const missing = await ltgbert(["finetune", "--model", mlmDir, "--data", at("nowhere"), "--out", at("x")]);
    expect(missing.code).toBe(1);
    expectOneLine(missing.stderr, at("nowhere"), "LTGBERT_FILE_NOT_FOUND");

    const noTrain = await ltgbert(["finetune", "--model", mlmDir, "--data", work, "--out", at("x")]);
    expect(noTrain.code).toBe(1);
    expectOneLine(noTrain.stderr, `${work}: no train split`, "train.tsv", "--train");

    const head = await ltgbert(["finetune", "--model", clsDir, "--data", dataDir, "--out", at("x"), "--head", "mlp"]);
    expect(head.code).toBe(1);
    expectOneLine(head.stderr, "--head", clsDir);

    const again = await ltgbert(["finetune", "--model", mlmDir, "--data", dataDir, "--out", tunedDir]);
    expect(again.code).toBe(1);
    expectOneLine(again.stderr, "--out", "checkpoint-", "--resume");
    expect(existsSync(at("x"))).toBe(false);
  });
});

// Each directory `finetune` wrote above, loaded by the project's Python
// reference (reference/ltg_bert.py, strict: every key in its place) and run
// on the same inputs: the same logits and loss as Node's.
const python = PYTHON_WITH_TORCH;
describe.skipIf(python === null)(
  `fine-tuned directories in the Python reference${python === null ? " (skipped: no python3 with torch; set LTGBERT_TEST_PYTHON)" : ""}`,
  () => {
    const script = path.join(root, "test", "python", "heads_roundtrip.py");
    const nested = (data: ArrayLike<number | bigint>, shape: number[]): unknown => {
      const build = (offset: number, dims: number[]): unknown =>
        dims.length === 1
          ? Array.from({ length: dims[0] }, (_, i) => Number(data[offset + i]))
          : Array.from({ length: dims[0] }, (_, i) =>
              build(offset + i * dims.slice(1).reduce((a, b) => a * b, 1), dims.slice(1)),
            );
      return build(0, shape);
    };
    interface Encoded {
      inputIds: { data: ArrayLike<number | bigint>; shape: number[] };
      attentionMask: { data: ArrayLike<number | bigint>; shape: number[] };
    }
    /** Python's outputs and loss for `dir` on `batch` (and labels). */
    function reference(dir: string, batch: Encoded, labels?: unknown) {
      const file = path.join(dir, "roundtrip-inputs.json");
      writeFileSync(
        file,
        JSON.stringify({
          input_ids: nested(batch.inputIds.data, batch.inputIds.shape),
          attention_mask: nested(batch.attentionMask.data, batch.attentionMask.shape),
          ...(labels === undefined ? {} : { labels }),
        }),
      );
      const out = execFileSync(python!, [script, "run", dir, file], { encoding: "utf8", timeout: 120_000 });
      rmSync(file);
      return JSON.parse(out) as {
        architecture: string;
        outputs: Record<string, { shape: number[]; data: number[] }>;
        loss?: number;
      };
    }
    function expectClose(
      name: string,
      node: { data: Float32Array; shape: number[] },
      py: { shape: number[]; data: number[] },
    ) {
      expect(node.shape, name).toEqual(py.shape);
      let max = 0;
      node.data.forEach((x, i) => (max = Math.max(max, Math.abs(x - py.data[i]))));
      expect(max, name).toBeLessThan(1e-5);
    }
    const texts = ["A man is playing a guitar.", "The cat sat on the mat while the dog slept.", "Rain."];

    it("a tagger, a question-answering model, a multiple-choice model, a regression model and a classifier", async () => {
      const tok = await Tokenizer.fromPretrained(mlmDir);
      const single = await tok.encodeBatch(texts);
      const pairs = await tok.encodeBatch([
        [texts[0], "A man plays the guitar."],
        [texts[1], "Nothing like it."],
        [texts[2], texts[2]],
      ]);

      const tagger = await LtgBertForTokenClassification.fromPretrained(at("tagger"), { strict: true });
      const tagged = await tagger.forward(single);
      const pyTagged = reference(at("tagger"), single);
      expect(pyTagged.architecture).toBe("LtgBertForTokenClassification");
      expectClose("tagger logits", tagged.logits, pyTagged.outputs.logits);
      tagger.dispose();

      const qa = await LtgBertForQuestionAnswering.fromPretrained(at("qa"), { strict: true });
      const answered = await qa.forward(pairs);
      const pyAnswered = reference(at("qa"), pairs);
      expectClose("start logits", answered.startLogits, pyAnswered.outputs.start_logits);
      expectClose("end logits", answered.endLogits, pyAnswered.outputs.end_logits);
      qa.dispose();

      const mc = await LtgBertForMultipleChoice.fromPretrained(at("mc"), { strict: true });
      const arc = await readMultipleChoice(path.join(FIXTURES, "tasks", "arc-easy-dev-slice.jsonl"));
      const four = arc.examples.filter((e) => e.choices.length === 4).slice(0, 2);
      const choices = await encodeMultipleChoice(tok, four);
      const labels = four.map((e) => e.label);
      const chosen = await mc.forward({ ...choices, labels: Int32Array.from(labels) });
      const pyChosen = reference(at("mc"), choices, labels);
      expectClose("choice logits", chosen.logits, pyChosen.outputs.logits);
      expect(Math.abs(chosen.loss! - pyChosen.loss!)).toBeLessThan(1e-5);
      mc.dispose();

      const sts = await LtgBertForSequenceClassification.fromPretrained(at("stsb"), { strict: true });
      const scores = [4.5, 0.25, 5];
      const scored = await sts.forward({ ...pairs, labels: Float32Array.from(scores) });
      const pyScored = reference(at("stsb"), pairs, scores);
      expectClose("scores", scored.logits, pyScored.outputs.logits);
      expect(Math.abs(scored.loss! - pyScored.loss!)).toBeLessThan(1e-5);
      sts.dispose();

      const cls = await LtgBertForSequenceClassification.fromPretrained(tunedDir, { strict: true });
      const classified = await cls.forward({ ...single, labels: Int32Array.from([1, 0, 1]) });
      const pyClassified = reference(tunedDir, single, [1, 0, 1]);
      expectClose("class logits", classified.logits, pyClassified.outputs.logits);
      expect(Math.abs(classified.loss! - pyClassified.loss!)).toBeLessThan(1e-5);
      cls.dispose();
    });
  },
);

describe("ltgbert pretrain", () => {
  const corpus = path.join(FIXTURES, "corpus", "wikitext-2-valid-1-60.txt");
  const heldOut = path.join(FIXTURES, "corpus", "wikitext-2-valid-61-80.txt");
  const pretrainedDir = at("pretrained");

  it("trains a tokenizer and a masked LM on a corpus, and leaves a model card that says how", async () => {
    const notes = at("notes.md");
    writeFileSync(notes, "WikiText-2 (CC BY-SA 3.0), two slices of the validation split.\n");
    const args = [
      "pretrain",
      "--corpus",
      corpus,
      "--eval",
      heldOut,
      "--out",
      pretrainedDir,
      "--vocab-size",
      "800",
      "--lowercase",
      ...PRETRAIN_SIZES,
      "--max-steps",
      "4",
      "--eval-every",
      "2",
      "--save-every",
      "2",
      "--lr",
      "3e-3",
      "--card-notes",
      notes,
      "--json",
    ];
    const { code, stdout, stderr } = await ltgbert(args);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      output: pretrainedDir,
      modelCard: path.join(pretrainedDir, "README.md"),
      command: `ltgbert ${args.join(" ")}`,
      interrupted: false,
      resumed: false,
      corpus: [{ file: corpus, bytes: 12475, lines: 60 }],
      eval: { file: heldOut, bytes: 10150, lines: 20 },
      tokenizer: { vocabSize: 800, trained: true, source: null, lowercase: true },
      config: { vocabSize: 800, hiddenSize: 32, layers: 2, attentionHeads: 2, intermediateSize: 64 },
      steps: 4,
      passes: { complete: 0, batches: 4 },
      finalLossSteps: 4,
      threads: 1,
      embeddingInit: "random",
      cooccurrence: null,
      dropout: 0.1,
    });
    expect(result.corpus[0].sha256).toBe("356c2b3428c960edd3960013a08182ba83487d70a0cc0db9ddc18a30874d4c23");
    expect(result.finalLoss).toBeGreaterThan(0);
    expect(result.metrics.perplexity).toBeCloseTo(Math.exp(result.metrics.loss), 6);
    expect(result.weights.bytes).toBe(statSync(path.join(pretrainedDir, "model.safetensors")).size);
    // With --json, stderr has only the line per evaluation.
    expect(stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^step 2 \(epoch 0\.00\): held-out loss \d+\.\d{4}, accuracy \d\.\d{4}, perplexity /),
      expect.stringMatching(/^step 4 /),
    ]);

    const card = readFileSync(result.modelCard, "utf8");
    expect(card).toMatch(/^---\nlibrary_name: ltgbert\n/);
    expect(card).toContain("\n# pretrained\n");
    expect(card).toContain(`\n${result.command}\n`);
    expect(card).toMatch(/\(ltgbert \d+\.\d+\.\d+\)/);
    expect(card).toContain(`| parameters | ${result.parameters.toLocaleString("en-US")} |`);
    expect(card).toContain("trained on the corpus below; 800 asked for; lowercases all text) |");
    expect(card).toContain("| `wikitext-2-valid-1-60.txt` | 12,475 | 60 | `356c2b34");
    expect(card).toContain(`| final training MLM loss (mean of the last 4 steps) | ${result.finalLoss.toFixed(4)} |`);
    expect(card).toContain(`| held-out perplexity | ${result.metrics.perplexity.toFixed(2)} |`);
    expect(card).toContain("1 libtorch thread on cpu");
    expect(card).toContain("- Dropout 0.1 on the hidden states and attention.\n");
    // The notes close the card, verbatim.
    expect(card).toMatch(
      /\n## Data licence and notes\n\nWikiText-2 \(CC BY-SA 3\.0\), two slices of the validation split\.\n$/,
    );

    // The directory loads as a masked LM with its tokenizer, and info reads the run and the card.
    const mlm = await LtgBertForMaskedLM.fromPretrained(pretrainedDir);
    expect(mlm.tokenizer?.vocabSize).toBe(800);
    expect(mlm.numParameters()).toBe(result.parameters);
    mlm.dispose();
    const info = await ltgbert(["info", pretrainedDir]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toContain(`trained on    ${corpus} (12,475 bytes), evaluated on ${heldOut}`);
    expect(info.stdout).toMatch(
      /training\s+4 steps \(4 batches of the first pass over the corpus\), batch 8 × 64 tokens/,
    );
    expect(info.stdout).toContain(`perplexity ${result.metrics.perplexity.toFixed(2)}`);
    expect(info.stdout).toContain(`model card    ${result.modelCard}: pretrained`);
    expect(info.stdout).toContain("WordPiece, vocab 800, lowercases; [CLS] 1");
    const infoJson = JSON.parse((await ltgbert(["info", pretrainedDir, "--json"])).stdout);
    expect(infoJson.tokenizer.lowercase).toBe(true);
    expect(infoJson.training.bestCheckpointKept).toBe(true);
    expect(existsSync(path.join(pretrainedDir, path.basename(infoJson.training.bestCheckpoint)))).toBe(true);
    expect(infoJson.training).toMatchObject({
      task: "masked_lm",
      trainData: [corpus],
      trainBytes: 12475,
      steps: 4,
      sequenceLength: 64,
      passes: { complete: 0, batches: 4 },
    });
    expect(infoJson.training.lastEval).toEqual({
      step: 4,
      loss: result.metrics.loss,
      accuracy: result.metrics.accuracy,
      perplexity: result.metrics.perplexity,
      tokens: result.metrics.tokens,
      examples: result.metrics.samples,
    });
  });

  it("takes a tokenizer, starts the embeddings from co-occurrence, trains whole epochs without dropout; prints what it did", async () => {
    const out = at("pretrained-epochs");
    const tokenizer = path.join(FIXTURES, "tokenizers", "ltg-bert-babylm-10m");
    const { code, stdout, stderr } = await ltgbert([
      "pretrain",
      "--corpus",
      corpus,
      heldOut,
      "--out",
      out,
      "--tokenizer",
      tokenizer,
      ...PRETRAIN_SIZES,
      "--epochs",
      "1",
      "--warmup-ratio",
      "0",
      "--embedding-init",
      "cooccurrence",
      "--dropout",
      "0",
    ]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(
      /^pretrained LtgBertForMaskedLM \(vocab 4096, hidden 32, 2 layers, 2 heads; [\d,]+ parameters\) on 2 files \(22\.1 KiB\): \d+ steps \(1 pass over the corpus\), final training loss \d+\.\d{4} \(mean of the last \d+ steps\)\n/,
    );
    expect(stdout).toContain(`saved to ${out} (model.safetensors `);
    expect(stderr).toContain("pretraining LtgBertForMaskedLM of");
    expect(stderr).toMatch(
      /word embeddings from document co-occurrence in .*\n {2}[\d,]+ documents, [\d,]+ token pairs, /,
    );
    const card = readFileSync(path.join(out, "README.md"), "utf8");
    expect(card).toContain("pretrained from random weights and word embeddings from the corpus's co-occurrence counts");
    expect(card).toMatch(
      /- Word embeddings \(tied to the output layer\) started from document co-occurrence in the corpus, not noise: .*\d+ documents, [\d,]+ tokens, [\d,]+ pairs kept\), reduced to 32 dimensions/,
    );
    expect(card).toContain(`| vocabulary | 4,096 (the tokenizer of \`${tokenizer}\`) |`);
    expect(card).toContain("No held-out file was evaluated (`--eval`).");
    expect(card).toContain("no warm-up");
    expect(card).toContain("_Not stated.");
    expect(existsSync(path.join(out, "tokenizer.json"))).toBe(true);
    // Pretrained without dropout, the run's checkpoint says so; the final config.json asks fine-tuning for 0.1.
    expect(card).toContain(
      "- Dropout 0 on the hidden states and attention while pretraining; config.json says 0.1, for fine-tuning.",
    );
    const dropout = (dir: string) => {
      const c = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
      return [c.hidden_dropout_prob, c.attention_probs_dropout_prob];
    };
    expect(dropout(out)).toEqual([0.1, 0.1]);
    const checkpoint = readdirSync(out).find((name) => name.startsWith("checkpoint-"));
    expect(checkpoint).toBeDefined();
    expect(dropout(path.join(out, checkpoint!))).toEqual([0, 0]);
  });

  it("refuses a bad command line with one line naming the option or file, and writes nothing", async () => {
    const out = at("not-written");
    const base = ["pretrain", "--corpus", corpus, "--out", out, ...PRETRAIN_SIZES];

    const missing = await ltgbert(["pretrain", "--corpus", corpus, at("no-such.txt"), "--out", out]);
    expect(missing.code).toBe(1);
    expectOneLine(missing.stderr, `${at("no-such.txt")}: no such file (--corpus)`, "LTGBERT_FILE_NOT_FOUND");

    const noEval = await ltgbert([...base, "--eval", at("none.txt")]);
    expect(noEval.code).toBe(1);
    expectOneLine(noEval.stderr, at("none.txt"), "--eval");

    const badValue = await ltgbert([...base, "--mask-probability", "0"]);
    expect(badValue.code).toBe(2);
    expectOneLine(badValue.stderr, "pretrain:", "--mask-probability", "greater than 0");

    const unknown = await ltgbert([...base, "--layer", "2"]);
    expect(unknown.code).toBe(2);
    expectOneLine(unknown.stderr, "unknown option '--layer'", "--layers");

    const both = await ltgbert([...base, "--tokenizer", at("tok"), "--vocab-size", "100"]);
    expect(both.code).toBe(2);
    expectOneLine(both.stderr, "--vocab-size", "--tokenizer");

    const lowerAndGiven = await ltgbert([...base, "--tokenizer", at("tok"), "--lowercase"]);
    expect(lowerAndGiven.code).toBe(2);
    expectOneLine(lowerAndGiven.stderr, "--lowercase", "--tokenizer");

    const stepsAndEpochs = await ltgbert([...base, "--epochs", "2", "--max-steps", "3"]);
    expect(stepsAndEpochs.code).toBe(2);
    expectOneLine(stepsAndEpochs.stderr, "--epochs", "--max-steps");

    const noCorpus = await ltgbert(["pretrain", "--out", out]);
    expect(noCorpus.code).toBe(2);
    expectOneLine(noCorpus.stderr, "--corpus");

    const heads = await ltgbert([...base, "--heads", "3"]);
    expect(heads.code).toBe(1);
    expectOneLine(heads.stderr, "--hidden-size: 32 is not a multiple of --heads 3", "LTGBERT_INVALID_ARGUMENT");

    const length = await ltgbert([...base, "--sequence-length", "128"]);
    expect(length.code).toBe(1);
    expectOneLine(length.stderr, "--sequence-length: 128 is more than --max-position-embeddings 64");

    const noCheckpoint = await ltgbert([...base, "--resume"]);
    expect(noCheckpoint.code).toBe(1);
    expectOneLine(noCheckpoint.stderr, out, "no checkpoint-<step> folder to resume from");
    expect(existsSync(out)).toBe(false);

    // An earlier run's checkpoints are not overwritten by a fresh run.
    const again = await ltgbert(["pretrain", "--corpus", corpus, "--out", pretrainedDir, ...PRETRAIN_SIZES]);
    expect(again.code).toBe(1);
    expectOneLine(again.stderr, "--out", "checkpoint-2, checkpoint-4", "--resume");
  });
});

describe("ltgbert evaluate", () => {
  it("gives loss, accuracy, macro-F1 and MCC: those of the fine-tuning run's last evaluation", async () => {
    const run = JSON.parse(readFileSync(path.join(tunedDir, "trainer_state.json"), "utf8"));
    const last = run.log_history.filter((e: Record<string, number>) => "eval_loss" in e).at(-1);

    const json = await ltgbert(["evaluate", tunedDir, "--data", dataDir, "--json", "--batch-size", "7"]);
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({ model: tunedDir, data: path.join(dataDir, "dev.tsv"), examples: 20 });
    expect(result.accuracy).toBe(last.eval_accuracy);
    expect(result.macroF1).toBe(last.eval_macro_f1);
    expect(result.mcc).toBe(last.eval_mcc);
    expect(result.loss).toBeCloseTo(last.eval_loss, 5);

    const text = await ltgbert(["evaluate", tunedDir, "--data", path.join(dataDir, "dev.tsv")]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("(20 examples)");
    expect(text.stdout).toMatch(/accuracy\s+\d\.\d{4}\n/);
    expect(text.stdout).toMatch(/MCC\s+-?\d\.\d{4}\n/);
  });

  it("fails with one line naming a missing file or a masked LM", async () => {
    const missing = await ltgbert(["evaluate", tunedDir, "--data", at("no-such.tsv")]);
    expect(missing.code).toBe(1);
    expectOneLine(missing.stderr, "no-such.tsv", "LTGBERT_FILE_NOT_FOUND");

    const mlm = await ltgbert(["evaluate", mlmDir, "--data", dataDir]);
    expect(mlm.code).toBe(1);
    expectOneLine(mlm.stderr, mlmDir, "masked LM", "finetune");

    const noData = await ltgbert(["evaluate", tunedDir]);
    expect(noData.code).toBe(2);
    expectOneLine(noData.stderr, "--data");
  });
});

describe("ltgbert predict", () => {
  it("--output writes one JSON object per text, in input order", async () => {
    const file = at("preds.jsonl");
    const texts = ["a gorgeous , witty , seductive movie .", "a dull , lifeless film ."];
    const { code, stderr } = await ltgbert(["predict", clsDir, ...texts, "--output", file]);
    expect(code, stderr).toBe(0);
    const json = JSON.parse((await ltgbert(["predict", clsDir, ...texts, "--json"])).stdout);
    const lines = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual(json.predictions);
  });

  it("labels texts from the command line, with scores and the top k", async () => {
    const texts = ["a gorgeous , witty , seductive movie .", "a dull , lifeless film ."];
    const json = await ltgbert(["predict", clsDir, ...texts, "--json", "--top-k", "2"]);
    expect(json.code, json.stderr).toBe(0);
    const { model, predictions } = JSON.parse(json.stdout);
    expect(model).toBe(clsDir);
    expect(predictions.map((p: { text: string }) => p.text)).toEqual(texts);
    for (const p of predictions) {
      expect(["negative", "positive"]).toContain(p.label);
      expect(p.score).toBeGreaterThanOrEqual(0.5);
      expect(p.top).toHaveLength(2);
      expect(p.top[0]).toEqual({ label: p.label, labelId: p.labelId, score: p.score });
      expect(p.top[0].score + p.top[1].score).toBeCloseTo(1, 10);
    }

    // The same numbers as the library's predict.
    const cls = await LtgBertForSequenceClassification.fromPretrained(clsDir);
    const direct = await cls.predict(texts);
    cls.dispose();
    expect(predictions.map((p: { score: number }) => p.score)).toEqual(direct.map((p) => p.score));

    const text = await ltgbert(["predict", clsDir, texts[0]]);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(`${direct[0].label}\t${direct[0].score.toFixed(4)}\t${texts[0]}\n`);
  });

  it("reads a text file, a data file's text column, or stdin", async () => {
    const txt = at("texts.txt");
    writeFileSync(txt, "first text\n\nsecond text\n");
    const fromTxt = JSON.parse((await ltgbert(["predict", clsDir, "--file", txt, "--json"])).stdout);
    expect(fromTxt.predictions.map((p: { text: string }) => p.text)).toEqual(["first text", "second text"]);

    const fromTsv = JSON.parse(
      (await ltgbert(["predict", clsDir, "--file", path.join(dataDir, "dev.tsv"), "--json"])).stdout,
    );
    expect(fromTsv.predictions).toHaveLength(20);

    const jsonl = at("pairs.jsonl");
    writeFileSync(jsonl, `${JSON.stringify({ premise: "a man sleeps", hypothesis: "someone rests" })}\n`);
    const pairs = JSON.parse((await ltgbert(["predict", clsDir, "--file", jsonl, "--json"])).stdout);
    expect(pairs.predictions[0]).toMatchObject({ text: "a man sleeps", textPair: "someone rests" });

    const fromStdin = await ltgbert(["predict", clsDir], "one\ntwo\nthree\n");
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(
      fromStdin.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("\t").at(-1)),
    ).toEqual(["one", "two", "three"]);
  });

  it("fails with one line naming what is wrong", async () => {
    const missing = await ltgbert(["predict", clsDir, "--file", at("none.txt")]);
    expect(missing.code).toBe(1);
    expectOneLine(missing.stderr, at("none.txt"), "--file", "LTGBERT_FILE_NOT_FOUND");

    const column = await ltgbert(["predict", clsDir, "--file", path.join(dataDir, "dev.tsv"), "--text-column", "x"]);
    expect(column.code).toBe(1);
    expectOneLine(column.stderr, "dev.tsv", '"x"', "--text-column", "LTGBERT_BAD_DATA");

    const empty = await ltgbert(["predict", clsDir], "\n\n");
    expect(empty.code).toBe(1);
    expectOneLine(empty.stderr, "no texts");

    const topK = await ltgbert(["predict", clsDir, "x", "--top-k", "-1"]);
    expect(topK.code).toBe(2);
    expectOneLine(topK.stderr, "--top-k");
  });
});

describe('the model "default"', () => {
  it("is <package root>/models/default, and its absence is a one-line error naming it", async () => {
    const installed = existsSync(DEFAULT_MODEL_DIR);
    if (installed) expect(resolveModelDir("default")).toBe(DEFAULT_MODEL_DIR);
    else expect(() => resolveModelDir("default")).toThrow(LtgBertError);
    expect(resolveModelDir("./default")).toBe("./default");

    const { code, stdout, stderr } = await ltgbert(["info", "default", "--json"]);
    if (installed) {
      expect(code, stderr).toBe(0);
      const info = JSON.parse(stdout);
      expect(info.architecture).toBe("LtgBertForMaskedLM");
      // The shipped model comes without its checkpoint directories, and info says so
      // (false: the best one is gone; null: the run's evaluation picked none).
      expect([false, null]).toContain(info.training.bestCheckpointKept);
      // finetune starts from it when --model is not given.
      const tuned = await ltgbert([
        "finetune",
        "--data",
        dataDir,
        "--out",
        at("from-default"),
        "--max-steps",
        "2",
        "--json",
      ]);
      expect(tuned.code, tuned.stderr).toBe(0);
      expect(JSON.parse(tuned.stdout)).toMatchObject({ model: DEFAULT_MODEL_DIR, transferred: true, steps: 2 });
    } else {
      expect(code).toBe(1);
      expectOneLine(stderr, DEFAULT_MODEL_DIR, "default model is not installed", "LTGBERT_FILE_NOT_FOUND");
      // finetune starts from it when --model is not given.
      const finetune = await ltgbert(["finetune", "--data", dataDir, "--out", at("from-default")]);
      expect(finetune.code).toBe(1);
      expectOneLine(finetune.stderr, DEFAULT_MODEL_DIR, "LTGBERT_FILE_NOT_FOUND");
    }
  });
});

/**
 * Runs the CLI with `args` in a child process, sends it SIGINT once its
 * training log has a line (training is under way), and waits for it to exit.
 */
async function interruptAfterFirstStep(
  args: string[],
  out: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const log = path.join(out, "train_log.jsonl");
  const started = Date.now();
  while (!(existsSync(log) && readFileSync(log, "utf8").length > 0)) {
    if (Date.now() - started > 60_000 || child.exitCode !== null) throw new Error(`no training step: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGINT");
  const code = await exited;
  return { code, stdout, stderr };
}

describe("exit codes of the built CLI (child processes)", () => {
  it("0 on success, 1 on a failure, 2 on a bad command line; one line on stderr", () => {
    const ok = run("info", clsDir, "--json");
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).parameters).toBe(clsParameters);
    expect(ok.stderr).toBe("");

    const missing = run("info", at("no-model"));
    expect(missing.status).toBe(1);
    expectOneLine(missing.stderr, at("no-model"), "LTGBERT_FILE_NOT_FOUND");
    expect(missing.stdout).toBe("");

    const badOption = run("evaluate", clsDir, "--data", dataDir, "--batch-size", "0");
    expect(badOption.status).toBe(2);
    expectOneLine(badOption.stderr, "--batch-size");

    const unknownCommand = run("finetun");
    expect(unknownCommand.status).toBe(2);
    expectOneLine(unknownCommand.stderr, "unknown command 'finetun'", "finetune");

    const nothing = run();
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toContain("Usage: ltgbert");
  });

  it("stops fine-tuning at Ctrl-C with a checkpoint and exit code 130, and --resume finishes the run", async () => {
    const out = at("interrupted");
    const args = [
      cli,
      "finetune",
      "--model",
      clsDir,
      "--data",
      dataDir,
      "--out",
      out,
      "--batch-size",
      "4",
      "--max-steps",
      "300",
      "--eval-every",
      "1000",
      "--save-every",
      "1000",
      "--threads",
      "1",
      "--json",
    ];
    const { code, stdout, stderr } = await interruptAfterFirstStep(args, out);
    expect(code, stderr).toBe(130);
    const stopped = JSON.parse(stdout);
    expect(stopped.interrupted).toBe(true);
    expect(stopped.steps).toBeLessThan(300);
    expect(stopped.checkpoint).toBe(path.join(out, `checkpoint-${stopped.steps}`));
    expect(readdirSync(out)).toContain(`checkpoint-${stopped.steps}`);
    expectOneLine(stderr, "SIGINT", `step ${stopped.steps}`, stopped.checkpoint, "--resume");

    const resumed = spawnSync(process.execPath, [...args, "--resume"], { encoding: "utf8", timeout: 120_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ resumed: true, interrupted: false, steps: 300 });
  });
});

describe("ltgbert pretrain (child processes)", () => {
  it("stops at Ctrl-C with a checkpoint and exit code 130; --resume finishes the run and says so in the card", async () => {
    const out = at("pretrain-interrupted");
    const args = [
      cli,
      "pretrain",
      "--corpus",
      path.join(FIXTURES, "corpus", "wikitext-2-valid-1-60.txt"),
      "--out",
      out,
      "--vocab-size",
      "800",
      ...PRETRAIN_SIZES,
      "--max-steps",
      "200",
      "--json",
    ];
    const { code, stdout, stderr } = await interruptAfterFirstStep(args, out);
    expect(code, stderr).toBe(130);
    const stopped = JSON.parse(stdout);
    expect(stopped).toMatchObject({ interrupted: true, signal: "SIGINT" });
    expect(stopped.steps).toBeLessThan(200);
    expect(stopped.checkpoint).toBe(path.join(out, `checkpoint-${stopped.steps}`));
    expectOneLine(stderr, "SIGINT", `step ${stopped.steps}`, stopped.checkpoint, "--resume");
    expect(existsSync(path.join(out, "README.md"))).toBe(false);

    const resumed = spawnSync(process.execPath, [...args, "--resume"], { encoding: "utf8", timeout: 120_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      interrupted: false,
      resumed: true,
      resumedFrom: stopped.steps,
      steps: 200,
      tokenizer: { vocabSize: 800, trained: true },
    });
    const card = readFileSync(path.join(out, "README.md"), "utf8");
    expect(card).toContain(`Resumed from \`checkpoint-${stopped.steps}\``);
    expect(card).toContain(" --threads 1 --max-steps 200 --json --resume\n");
  });
});

describe("ltgbert transfer", () => {
  it("turns the seed's masked LM into a 3-label classifier and reports what moved", async () => {
    const out = at("seed-cls");
    const result = run("transfer", path.join(TINY, "seed-mlm"), out, "--labels", "neg,neu,pos", "--json");
    expect(result.status, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary.numLabels).toBe(3);
    expect(summary.report.missing).toEqual(["classifier.bias", "classifier.weight"]);
    expect([...summary.report.unexpected].sort()).toEqual([
      "classifier.nonlinearity.1.bias",
      "classifier.nonlinearity.1.weight",
      "classifier.nonlinearity.5.bias",
      "classifier.nonlinearity.5.weight",
    ]);
    // Everything of the encoder moved: the reference's keys outside the MLM head.
    const encoderKeys = expected.seed_mlm_state_dict_keys.filter((k: string) => !k.startsWith("classifier."));
    expect([...summary.report.loaded].sort()).toEqual([...encoderKeys].sort());

    const cls = await LtgBertForSequenceClassification.fromPretrained(out);
    expect(cls.numLabels).toBe(3);
    expect(cls.config.id2label).toEqual({ 0: "neg", 1: "neu", 2: "pos" });
    expect(cls.config.classifier_head).toBe("linear");
    expect(cls.numParameters()).toBe(expected.parameter_counts.seed_cls_3_labels);
    cls.dispose();
  });

  it("prints a readable report without --json", async () => {
    const result = await ltgbert([
      "transfer",
      path.join(TINY, "hub-mlm"),
      at("hub-cls"),
      "--num-labels",
      "2",
      "--head",
      "mlp",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("mlp head, 2 labels");
    expect(result.stdout).toMatch(/new\s+4 \(initialised\): head\.nonlinearity\.1\.bias/);
  });

  it("fails with one line naming what is wrong, and a non-zero exit code", () => {
    const missing = run("transfer", at("no-such-model"), at("x"), "--num-labels", "2");
    expect(missing.status).toBe(1);
    expectOneLine(missing.stderr, "no-such-model", "LTGBERT_FILE_NOT_FOUND");

    const badOption = run("transfer", "a", "b", "--num-labels", "zero");
    expect(badOption.status).toBe(2);
    expectOneLine(badOption.stderr, "--num-labels");

    const badHead = run("transfer", "a", "b", "--num-labels", "2", "--head", "deep");
    expect(badHead.status).toBe(2);
    expectOneLine(badHead.stderr, "--head", "deep", "linear, mlp");

    const mismatch = run("transfer", path.join(TINY, "seed-mlm"), at("y"), "--num-labels", "2", "--labels", "a,b,c");
    expect(mismatch.status).toBe(1);
    expectOneLine(mismatch.stderr, "--labels: expected 2 names");
  });

  it("documents itself", async () => {
    const help = await ltgbert(["transfer", "--help"]);
    expect(help.code).toBe(0);
    for (const flag of ["--num-labels", "--head", "--labels", "--seed", "--format", "--json"])
      expect(help.stdout).toContain(flag);
  });
});
