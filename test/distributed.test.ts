// Data-parallel training over loopback: two processes of
// test/helpers/ddp-child.mjs, each with half of every global batch, against
// this process training on the whole batch. With dropout off the gradient
// of the whole batch is the ranks' average (each micro-batch weighted by its
// share of the scored items), so the weights must agree to float error.
// The same steps under PyTorch's own DistributedDataParallel (Gloo, 2 ranks,
// test/python/ddp_reference.py on the project's reference) give the same
// losses and weights. Then the failures: a rank killed, a rank stopped.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  distributedAvailable,
  LtgBertForMaskedLM,
  LtgBertForSequenceClassification,
  type OptimizerOptions,
  ProcessGroup,
  processGroupOptionsFromEnv,
} from "../lib/index.js";
import { floatWeights, freePort, maxAbsDiff, PYTHON_WITH_TORCH, TINY } from "./helpers/fixtures.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const child = path.join(root, "test", "helpers", "ddp-child.mjs");
const tmp = mkdtempSync(path.join(tmpdir(), "ltgbert-ddp-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => {
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: root,
    },
  );
});

const noDropout = { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 };
// eps 1 keeps each update near lr * gradient, so that the comparison is of
// gradients rather than of the signs of near-zero ones.
const options: OptimizerOptions = {
  learningRate: 1e-2,
  eps: 1,
  weightDecay: 0.01,
  maxGradNorm: 1,
  schedule: { kind: "linear", warmupSteps: 1, totalSteps: 10 },
};

interface Micro {
  ids: number[][];
  mask: number[][];
  labels: number[] | number[][];
}

/** Rows of a seeded batch: ids in the tiny vocabulary, padding at the end of some rows. */
function makeBatch(seed: number, rows: number, task: "cls" | "mlm", T = 17): Micro {
  let state = seed * 7919 + 17;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const ids: number[][] = [];
  const mask: number[][] = [];
  const labels: number[][] = [];
  const classes: number[] = [];
  for (let r = 0; r < rows; r++) {
    const length = T - next(6);
    ids.push(Array.from({ length: T }, (_, t) => (t === 0 ? 1 : t < length ? 7 + next(90) : 3)));
    mask.push(Array.from({ length: T }, (_, t) => (t < length ? 1 : 0)));
    // A different number of scored positions in every row.
    labels.push(Array.from({ length: T }, (_, t) => (t > 0 && t < length && next(4) === 0 ? 7 + next(90) : -100)));
    classes.push(next(3));
  }
  return { ids, mask, labels: task === "mlm" ? labels : classes };
}

/** Rows from .. to - 1 of a batch. */
function rows(m: Micro, from: number, to: number): Micro {
  return {
    ids: m.ids.slice(from, to),
    mask: m.mask.slice(from, to),
    labels: (m.labels as unknown[]).slice(from, to) as Micro["labels"],
  };
}

/** Rank r's half of a batch of 4 rows (2 ranks). */
const half = (m: Micro, r: number): Micro => rows(m, 2 * r, 2 * r + 2);

function toInputs(micro: Micro) {
  const matrix = (rows: number[][]) => ({
    data: BigInt64Array.from(rows.flat(), (v) => BigInt(v)),
    shape: [rows.length, rows[0].length],
  });
  return {
    inputIds: matrix(micro.ids),
    attentionMask: matrix(micro.mask),
    labels: Array.isArray(micro.labels[0]) ? matrix(micro.labels as number[][]) : (micro.labels as number[]),
  };
}

interface Report {
  rank: number;
  steps: { loss: number; gradNorm: number; step: number }[];
  weights?: Record<string, number[]>;
  error?: { code: string; message: string };
}

interface RankRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  report: Report | null;
  stderr: string;
}

/** Starts `world` ranks, rank r with its own steps and environment; resolves when all have ended. */
async function runRanks(
  task: "cls" | "mlm",
  perRank: Micro[][][],
  extra: Record<string, unknown> = {},
  env: (rank: number) => NodeJS.ProcessEnv = () => ({}),
  spawned: (rank: number, proc: ReturnType<typeof spawn>) => void = () => {},
  specOf: (rank: number) => Record<string, unknown> = () => ({}),
): Promise<RankRun[]> {
  const port = await freePort();
  const world = perRank.length;
  const started = Date.now();
  return Promise.all(
    perRank.map(
      (steps, rank) =>
        new Promise<RankRun>((resolve) => {
          const out = path.join(tmp, `${task}-${port}-${rank}.json`);
          const spec = path.join(tmp, `${task}-${port}-${rank}.spec.json`);
          writeFileSync(
            spec,
            JSON.stringify({
              task,
              modelDir: path.join(TINY, task === "mlm" ? "seed-mlm" : "seed-cls"),
              config: noDropout,
              rank,
              worldSize: world,
              port,
              options,
              steps,
              out,
              ...extra,
              ...specOf(rank),
            }),
          );
          const proc = spawn(process.execPath, [child, spec], {
            env: { ...process.env, ...env(rank) },
            stdio: ["ignore", "ignore", "pipe"],
          });
          spawned(rank, proc);
          let stderr = "";
          proc.stderr!.on("data", (d) => (stderr += d));
          proc.on("exit", (code, signal) => {
            let report: Report | null = null;
            try {
              report = JSON.parse(readFileSync(out, "utf8"));
            } catch {
              report = null;
            }
            resolve({ code, signal, seconds: (Date.now() - started) / 1000, report, stderr });
          });
        }),
    ),
  );
}

/** One process, the whole global batch of every step in one micro-batch. */
async function oneProcess(task: "cls" | "mlm", steps: Micro[]) {
  const model =
    task === "mlm"
      ? await LtgBertForMaskedLM.fromPretrained(path.join(TINY, "seed-mlm"), { config: noDropout })
      : await LtgBertForSequenceClassification.fromPretrained(path.join(TINY, "seed-cls"), { config: noDropout });
  const initial = await floatWeights(model);
  const optimizer = model.createOptimizer(options);
  const results = [];
  for (const step of steps) results.push(await model.trainStep(toInputs(step), optimizer));
  const weights = await floatWeights(model);
  model.dispose();
  return { results, weights, initial };
}

function expectSameTraining(ranks: RankRun[], single: Awaited<ReturnType<typeof oneProcess>>) {
  for (const run of ranks) {
    expect(run.report?.error, run.stderr).toBeUndefined();
    expect(run.code, run.stderr).toBe(0);
    const report = run.report!;
    expect(report.steps).toHaveLength(single.results.length);
    report.steps.forEach((s, i) => {
      expect(Math.abs(s.loss - single.results[i].loss)).toBeLessThan(1e-5);
      expect(Math.abs(s.gradNorm - single.results[i].gradNorm) / single.results[i].gradNorm).toBeLessThan(1e-5);
    });
    expect(Object.keys(report.weights!).sort()).toEqual([...single.weights.keys()].sort());
    for (const [name, values] of single.weights) {
      expect(maxAbsDiff(report.weights![name], values), `rank ${report.rank}: ${name}`).toBeLessThan(1e-5);
    }
  }
  // The steps moved the weights well beyond that tolerance.
  const moved = Math.max(...[...single.weights].map(([name, v]) => maxAbsDiff(v, single.initial.get(name)!)));
  expect(moved).toBeGreaterThan(1e-3);
}

const describeDistributed = distributedAvailable() ? describe : describe.skip;

describeDistributed("data parallelism over loopback (2 ranks, Gloo)", () => {
  const STEPS = 4;

  it("2 ranks x 2 rows of a classifier train as 1 process x 4 rows", async () => {
    const global = Array.from({ length: STEPS }, (_, s) => makeBatch(s + 1, 4, "cls"));
    const [single, ranks] = await Promise.all([
      oneProcess("cls", global),
      runRanks(
        "cls",
        [0, 1].map((r) => global.map((m) => [half(m, r)])),
      ),
    ]);
    expectSameTraining(ranks, single);
  });

  it("the masked LM, whose halves score different numbers of tokens, trains as one process", async () => {
    const global = Array.from({ length: STEPS }, (_, s) => makeBatch(s + 11, 4, "mlm"));
    // The halves must differ, or a mean of means would pass too.
    const scored = (m: Micro) => (m.labels as number[][]).flat().filter((l) => l !== -100).length;
    expect(scored(rows(global[0], 0, 2))).not.toBe(scored(rows(global[0], 2, 4)));
    const [single, ranks] = await Promise.all([
      oneProcess("mlm", global),
      runRanks(
        "mlm",
        [0, 1].map((r) => global.map((m) => [rows(m, 2 * r, 2 * r + 2)])),
      ),
    ]);
    expectSameTraining(ranks, single);
  });

  it("with gradient accumulation: 2 ranks x 2 micro-batches of 2 rows train as 1 process x 8 rows", async () => {
    const global = Array.from({ length: STEPS }, (_, s) => makeBatch(s + 21, 8, "mlm"));
    const [single, ranks] = await Promise.all([
      oneProcess("mlm", global),
      runRanks(
        "mlm",
        [0, 1].map((r) => global.map((m) => [rows(m, 4 * r, 4 * r + 2), rows(m, 4 * r + 2, 4 * r + 4)])),
      ),
    ]);
    expectSameTraining(ranks, single);
  });
});

/** The same ranks' steps under PyTorch's DistributedDataParallel (test/python/ddp_reference.py). */
async function pytorchDdp(task: "cls" | "mlm", perRank: Micro[][][]) {
  const spec = path.join(tmp, `torch-${task}.spec.json`);
  const out = path.join(tmp, `torch-${task}.json`);
  writeFileSync(
    spec,
    JSON.stringify({
      task,
      model_dir: path.join(TINY, task === "mlm" ? "seed-mlm" : "seed-cls"),
      port: await freePort(),
      options: {
        learning_rate: options.learningRate,
        eps: options.eps,
        weight_decay: options.weightDecay,
        max_grad_norm: options.maxGradNorm,
        warmup_steps: 1,
        total_steps: 10,
      },
      ranks: perRank,
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const proc = spawn(PYTHON_WITH_TORCH!, [path.join(root, "test", "python", "ddp_reference.py"), spec, out], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    proc.stderr!.on("data", (d) => (stderr += d));
    proc.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`ddp_reference.py: ${code}\n${stderr}`))));
  });
  return JSON.parse(readFileSync(out, "utf8")) as {
    losses: number[];
    grad_norms: number[];
    weights: Record<string, number[]>;
  };
}

const describeAgainstTorch = distributedAvailable() && PYTHON_WITH_TORCH ? describe : describe.skip;

describeAgainstTorch("against PyTorch's DistributedDataParallel (Gloo, 2 ranks, the fixture models)", () => {
  const cases: [string, "cls" | "mlm", Micro[][][]][] = [
    [
      "the classifier, 2 rows a rank",
      "cls",
      [0, 1].map((r) =>
        Array.from({ length: 4 }, (_, s) => {
          return [half(makeBatch(s + 51, 4, "cls"), r)];
        }),
      ),
    ],
    [
      "the masked LM, 2 micro-batches of 2 rows a rank",
      "mlm",
      [0, 1].map((r) =>
        Array.from({ length: 4 }, (_, s) => {
          const m = makeBatch(s + 61, 8, "mlm");
          return [rows(m, 4 * r, 4 * r + 2), rows(m, 4 * r + 2, 4 * r + 4)];
        }),
      ),
    ],
  ];
  for (const [name, task, perRank] of cases) {
    it(`${name}: the same losses, norms and weights`, async () => {
      const [torch, ranks] = await Promise.all([pytorchDdp(task, perRank), runRanks(task, perRank)]);
      for (const run of ranks) {
        expect(run.report?.error, run.stderr).toBeUndefined();
        const report = run.report!;
        report.steps.forEach((s, i) => {
          expect(Math.abs(s.loss - torch.losses[i]), `step ${i + 1} loss`).toBeLessThan(1e-5);
          expect(Math.abs(s.gradNorm - torch.grad_norms[i]) / torch.grad_norms[i]).toBeLessThan(1e-5);
        });
        const keys = Object.keys(report.weights!);
        expect(keys.length).toBeGreaterThan(20);
        for (const key of keys) {
          expect(torch.weights[key], key).toBeDefined();
          expect(maxAbsDiff(report.weights![key], torch.weights[key]), `rank ${report.rank}: ${key}`).toBeLessThan(
            1e-5,
          );
        }
      }
    });
  }
});

describeDistributed("a rank that dies", () => {
  it("makes the others stop with LTGBERT_DISTRIBUTED naming it, within the timeout", async () => {
    const global = Array.from({ length: 6 }, (_, s) => makeBatch(s + 31, 4, "cls"));
    const timeoutMs = 20_000;
    const ranks = await runRanks(
      "cls",
      [0, 1, 2].map((r) => global.map((m) => [half(m, r % 2)])),
      { timeoutMs },
      (rank) => (rank === 2 ? { LTGBERT_TEST_EXIT_AT: "3" } : {}),
    );
    // Rank 2 killed itself before its fourth step.
    expect(ranks[2].signal).toBe("SIGKILL");
    for (const run of ranks.slice(0, 2)) {
      expect(run.code, run.stderr).toBe(1);
      expect(run.report?.error?.code).toBe("LTGBERT_DISTRIBUTED");
      expect(run.report?.error?.message).toMatch(/^rank [01] of 3: /);
      expect(run.report?.error?.message).toContain("rank 2 stopped responding");
      expect(run.report?.steps).toHaveLength(3);
      expect(run.seconds).toBeLessThan(timeoutMs / 1000);
    }
  });
});

describeDistributed("a rank that hangs", () => {
  it("makes the others stop with LTGBERT_DISTRIBUTED naming it once the timeout passes", async () => {
    const global = Array.from({ length: 6 }, (_, s) => makeBatch(s + 41, 4, "cls"));
    const timeoutMs = 4_000;
    // Rank 1 stops itself (SIGSTOP, as a frozen machine would) before its
    // third step; rank 0 must give up on its own. Rank 1 is killed once
    // rank 0 has ended.
    const procs: ReturnType<typeof spawn>[] = [];
    const [rank0, rank1] = await runRanks(
      "cls",
      [0, 1].map((r) => global.map((m) => [half(m, r)])),
      { timeoutMs },
      (rank) => (rank === 1 ? { LTGBERT_TEST_STOP_AT: "2" } : {}),
      (rank, proc) => {
        procs[rank] = proc;
        if (rank === 0) proc.on("exit", () => procs[1]?.kill("SIGKILL"));
      },
    );
    expect(rank1.signal).toBe("SIGKILL");
    expect(rank0.code, rank0.stderr).toBe(1);
    expect(rank0.report?.error?.code).toBe("LTGBERT_DISTRIBUTED");
    expect(rank0.report?.error?.message).toMatch(/^rank 0 of 2: /);
    expect(rank0.report?.error?.message).toContain("rank 1 stopped responding");
    expect(rank0.report?.steps).toHaveLength(2);
  });
});

describeDistributed("ranks that disagree", () => {
  it("on the world size: the rendezvous fails with LTGBERT_DISTRIBUTED naming both sizes", async () => {
    const steps = [[makeBatch(72, 2, "cls")]];
    // Rank 0 of 2 hosts the store; a rank 1 that believes in 3 ranks is refused.
    const [first, second] = await runRanks("cls", [steps, steps], { timeoutMs: 5_000 }, undefined, undefined, (rank) =>
      rank === 1 ? { worldSize: 3 } : {},
    );
    expect(second.report?.error?.code, second.stderr).toBe("LTGBERT_DISTRIBUTED");
    expect(second.report?.error?.message).toContain("WORLD_SIZE is 3 here but 2 on rank 0");
    expect(first.report?.error?.code, first.stderr).toBe("LTGBERT_DISTRIBUTED");
  });
});

describe("the process group's options", () => {
  it("come from torchrun's environment variables", () => {
    expect(processGroupOptionsFromEnv({})).toBeNull();
    expect(
      processGroupOptionsFromEnv({
        RANK: "1",
        WORLD_SIZE: "4",
        LOCAL_RANK: "1",
        MASTER_ADDR: "10.0.0.2",
        MASTER_PORT: "29511",
        GLOO_SOCKET_IFNAME: "eth1",
        LTGBERT_DISTRIBUTED_TIMEOUT: "30",
      }),
    ).toEqual({
      rank: 1,
      worldSize: 4,
      localRank: 1,
      masterAddr: "10.0.0.2",
      masterPort: 29511,
      timeoutMs: 30_000,
      interfaces: "eth1",
    });
    expect(() => processGroupOptionsFromEnv({ WORLD_SIZE: "two" })).toThrow(/WORLD_SIZE/);
  });

  it("a rank outside the world size is refused before any rendezvous", async () => {
    await expect(ProcessGroup.join({ rank: 2, worldSize: 2 })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
    });
  });
});
