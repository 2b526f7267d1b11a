// `ltgbert finetune --nproc-per-node 2`: the launcher, its workers and what
// they write, in child processes over loopback. Two ranks of batch b make
// the steps of one process of batch 2b (dropout off: the same weights);
// Ctrl-C stops both ranks after the same step with a checkpoint that
// --resume continues exactly; a rank that dies takes the run down with an
// error and leaves the last checkpoint loadable.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { distributedAvailable, LtgBertForMaskedLM, LtgBertForSequenceClassification } from "../lib/index.js";
import { FIXTURES, floatWeights, freePort, maxAbsDiff, PRETRAIN_SIZES } from "./helpers/fixtures.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist", "cli.js");
const tmp = mkdtempSync(path.join(tmpdir(), "ltgbert-cli-ddp-"));
const at = (name: string) => path.join(tmp, name);
const dataDir = at("data");
const noDropoutModel = at("default-no-dropout");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  spawnSync(
    process.execPath,
    [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: root,
    },
  );
  const rows = readFileSync(path.join(FIXTURES, "sst2", "train-2000.tsv"), "utf8").split("\n");
  mkdirSync(dataDir);
  writeFileSync(path.join(dataDir, "train.tsv"), `${[rows[0], ...rows.slice(1, 49)].join("\n")}\n`);
  writeFileSync(path.join(dataDir, "dev.tsv"), `${[rows[0], ...rows.slice(49, 73)].join("\n")}\n`);
  // The shipped default with dropout off, so that runs can be compared weight for weight.
  cpSync(path.join(root, "models", "default"), noDropoutModel, { recursive: true });
  const configFile = path.join(noDropoutModel, "config.json");
  const config = JSON.parse(readFileSync(configFile, "utf8"));
  writeFileSync(
    configFile,
    JSON.stringify({ ...config, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 }),
  );
});

function finetuneArgs(model: string, out: string, batchSize: number, extra: string[] = []): string[] {
  return [
    cli,
    "finetune",
    "--model",
    model,
    "--data",
    dataDir,
    "--out",
    out,
    "--epochs",
    "2",
    "--batch-size",
    String(batchSize),
    "--lr",
    "2e-4",
    "--seed",
    "5",
    "--threads",
    "1",
    "--json",
    ...extra,
  ];
}

async function weights(dir: string): Promise<Map<string, Float32Array>> {
  const model = await LtgBertForSequenceClassification.fromPretrained(dir);
  const out = await floatWeights(model);
  model.dispose();
  return out;
}

function expectSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>, tolerance: number): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [key, values] of a) expect(maxAbsDiff(values, b.get(key)!), key).toBeLessThan(tolerance);
}

/** Starts the CLI, sends SIGINT once the training log has `lines` lines, and waits for it to exit. */
async function interruptAfter(args: string[], out: string, lines: number) {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const log = path.join(out, "train_log.jsonl");
  const started = Date.now();
  while (!(existsSync(log) && readFileSync(log, "utf8").split("\n").length > lines)) {
    if (Date.now() - started > 60_000 || child.exitCode !== null) throw new Error(`no training step: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGINT");
  return { code: await exited, stdout, stderr };
}

/** The live processes whose environment has MASTER_PORT=port, with their RANK. */
function workersOf(port: number): { pid: number; rank: number }[] {
  const out: { pid: number; rank: number }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${name}/environ`, "latin1");
    } catch {
      continue;
    }
    const vars = environ.split("\0");
    if (!vars.includes(`MASTER_PORT=${port}`)) continue;
    const rank = vars.find((v) => v.startsWith("RANK="));
    if (rank !== undefined) out.push({ pid: Number(name), rank: Number(rank.slice(5)) });
  }
  return out;
}

const describeDistributed = distributedAvailable() ? describe : describe.skip;

describeDistributed("ltgbert finetune --nproc-per-node 2 (child processes, loopback)", () => {
  it("2 processes x batch 4 end with the weights and dev metrics of 1 process x batch 8 (dropout off)", async () => {
    const one = spawnSync(process.execPath, finetuneArgs(noDropoutModel, at("one"), 8), { encoding: "utf8" });
    expect(one.status, one.stderr).toBe(0);
    const port = await freePort();
    const two = spawnSync(
      process.execPath,
      finetuneArgs(noDropoutModel, at("two"), 4, ["--nproc-per-node", "2", "--master-port", String(port)]),
      { encoding: "utf8" },
    );
    expect(two.status, two.stderr).toBe(0);
    const [a, b] = [JSON.parse(one.stdout), JSON.parse(two.stdout)];
    // Rank 0 alone printed: one JSON document.
    expect(b.steps).toBe(a.steps);
    expect(b.steps).toBe(12); // 48 rows, 8 a global batch, 2 epochs
    expect(Math.abs(b.trainLoss - a.trainLoss)).toBeLessThan(1e-5);
    expect(b.metrics.accuracy).toBe(a.metrics.accuracy);
    expect(Math.abs(b.metrics.loss - a.metrics.loss)).toBeLessThan(1e-5);
    expectSameWeights(await weights(at("one")), await weights(at("two")), 1e-5);
    const args = JSON.parse(readFileSync(path.join(at("two"), "training_args.json"), "utf8"));
    expect(args).toMatchObject({ batchSize: 4, worldSize: 2 });
  });

  it("Ctrl-C stops both ranks after the same step with a checkpoint; --resume ends as a run straight through (dropout on)", async () => {
    const model = path.join(root, "models", "default");
    const portA = await freePort();
    const straight = spawnSync(
      process.execPath,
      finetuneArgs(model, at("straight"), 4, ["--nproc-per-node", "2", "--master-port", String(portA)]),
      { encoding: "utf8" },
    );
    expect(straight.status, straight.stderr).toBe(0);

    const out = at("stopped");
    const portB = await freePort();
    const args = finetuneArgs(model, out, 4, [
      "--nproc-per-node",
      "2",
      "--master-port",
      String(portB),
      "--eval-every",
      "100",
      "--save-every",
      "100",
    ]);
    const { code, stdout, stderr } = await interruptAfter(args, out, 2);
    expect(code, stderr).toBe(130);
    const stopped = JSON.parse(stdout);
    expect(stopped.interrupted).toBe(true);
    expect(stopped.steps).toBeLessThan(12);
    expect(readdirSync(out)).toContain(`checkpoint-${stopped.steps}`);
    // Rank 0's optimizer state holds rank 1's random state too.
    const header = readFileSync(path.join(out, `checkpoint-${stopped.steps}`, "optimizer.safetensors"));
    expect(header.subarray(0, 20000).toString("latin1")).toContain("rng_state.rank1");

    const resumed = spawnSync(process.execPath, [...args, "--resume"], { encoding: "utf8" });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ resumed: true, interrupted: false, steps: 12 });
    expectSameWeights(await weights(at("straight")), await weights(out), 1e-6);
  });

  it("pretrain: 2 processes x batch 4 end with the weights and held-out metrics of 1 process x batch 8 (dropout off)", async () => {
    const corpus = path.join(FIXTURES, "corpus", "wikitext-2-valid-1-60.txt");
    const args = (out: string, batch: number, extra: string[] = []) => [
      cli,
      "pretrain",
      "--corpus",
      corpus,
      "--eval",
      corpus,
      "--out",
      out,
      "--vocab-size",
      "600",
      ...PRETRAIN_SIZES,
      "--batch-size",
      String(batch),
      "--max-steps",
      "6",
      "--eval-every",
      "3",
      "--dropout",
      "0",
      "--json",
      ...extra,
    ];
    const one = spawnSync(process.execPath, args(at("pt-one"), 8), { encoding: "utf8" });
    expect(one.status, one.stderr).toBe(0);
    const port = await freePort();
    const two = spawnSync(
      process.execPath,
      args(at("pt-two"), 4, ["--nproc-per-node", "2", "--master-port", String(port)]),
      { encoding: "utf8" },
    );
    expect(two.status, two.stderr).toBe(0);
    const [a, b] = [JSON.parse(one.stdout), JSON.parse(two.stdout)];
    expect(b.steps).toBe(6);
    expect(Math.abs(b.metrics.loss - a.metrics.loss)).toBeLessThan(1e-5);
    expect(b.metrics.tokens).toBe(a.metrics.tokens);
    expect(b.metrics.accuracy).toBe(a.metrics.accuracy);
    // The tokenizer rank 0 trained is the one both wrote from.
    expect(readFileSync(path.join(at("pt-two"), "tokenizer.json"), "utf8")).toBe(
      readFileSync(path.join(at("pt-one"), "tokenizer.json"), "utf8"),
    );
    const model = async (dir: string) => {
      const m = await LtgBertForMaskedLM.fromPretrained(dir);
      const out = await floatWeights(m);
      m.dispose();
      return out;
    };
    expectSameWeights(await model(at("pt-one")), await model(at("pt-two")), 1e-5);
  });

  it("workers started as torchrun starts them (RANK, WORLD_SIZE, ...) refuse to train with different seeds", async () => {
    const port = await freePort();
    const runs = await Promise.all(
      [0, 1].map(
        (rank) =>
          new Promise<{ code: number | null; stderr: string }>((resolve) => {
            const child = spawn(
              process.execPath,
              finetuneArgs(path.join(root, "models", "default"), at(`seeds-${rank}`), 4, ["--seed", String(rank + 1)]),
              {
                env: {
                  ...process.env,
                  RANK: String(rank),
                  WORLD_SIZE: "2",
                  MASTER_ADDR: "127.0.0.1",
                  MASTER_PORT: String(port),
                },
                stdio: ["ignore", "ignore", "pipe"],
              },
            );
            let stderr = "";
            child.stderr.on("data", (d) => (stderr += d));
            child.on("close", (code) => resolve({ code, stderr }));
          }),
      ),
    );
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain("differs between the ranks");
      expect(run.stderr).toContain('"seed":1');
      expect(run.stderr).toContain("LTGBERT_DISTRIBUTED");
    }
    // Nothing was trained: no checkpoint.
    expect(existsSync(path.join(at("seeds-0"), "checkpoint-1"))).toBe(false);
  });

  it("a launcher killed outright (SIGKILL) leaves no worker behind", async () => {
    const out = at("launcher-killed");
    const port = await freePort();
    const args = finetuneArgs(path.join(root, "models", "default"), out, 4, [
      "--nproc-per-node",
      "2",
      "--master-port",
      String(port),
      "--epochs",
      "20",
    ]);
    const launcher = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "ignore"] });
    const started = Date.now();
    while (workersOf(port).length < 2) {
      if (Date.now() - started > 60_000) throw new Error("the workers did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
    launcher.kill("SIGKILL");
    const killed = Date.now();
    while (workersOf(port).length > 0) {
      if (Date.now() - killed > 15_000) throw new Error(`workers left: ${JSON.stringify(workersOf(port))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it("a rank that dies ends the run with an error naming it; the checkpoint before stays loadable", async () => {
    const out = at("killed");
    const port = await freePort();
    const args = finetuneArgs(path.join(root, "models", "default"), out, 4, [
      "--nproc-per-node",
      "2",
      "--master-port",
      String(port),
      "--save-every",
      "2",
      "--epochs",
      "20",
    ]);
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const started = Date.now();
    while (!existsSync(path.join(out, "checkpoint-2"))) {
      if (Date.now() - started > 60_000 || child.exitCode !== null) throw new Error(`no checkpoint: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Rank 1 is the worker whose environment says RANK=1 and this run's port.
    const rank1 = workersOf(port).find((w) => w.rank === 1)?.pid;
    expect(rank1).toBeDefined();
    process.kill(rank1!, "SIGKILL");
    const code = await exited;
    expect(code, stderr).toBe(1);
    expect(stderr).toContain("rank 1 was ended by SIGKILL");
    expect(stderr).toContain("LTGBERT_DISTRIBUTED");
    // No worker is left.
    expect(workersOf(port)).toEqual([]);
    const checkpoints = readdirSync(out).filter((name) => /^checkpoint-\d+$/.test(name));
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const name of checkpoints) await weights(path.join(out, name));
  });
});
