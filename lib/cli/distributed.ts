// Data-parallel runs of the training commands (`finetune`, `pretrain`):
// `--nproc-per-node N` makes this process a launcher of N workers on this
// machine, as torchrun does; a worker (or a process torchrun, Slurm or
// Kubernetes started with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT)
// joins the group and trains its share. Rank 0 alone prints and writes.
import { spawn, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import type { ProcessGroup } from "../train/distributed.js";
import { CliExit, nonNegativeInteger, positiveInteger, usageError, type CliIo } from "./common.js";

export interface DistributedCliOptions {
  nprocPerNode?: number;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  threads?: number;
}

/** Set in the workers a launcher starts, so that they do not launch again. */
const WORKER_MARK = "LTGBERT_LAUNCHED_WORKER";
/** How long the other workers get to stop by themselves after one failed. */
const GRACE_MS = 10_000;

export function distributedOptions(command: Command): Command {
  return command
    .option(
      "--nproc-per-node <n>",
      "data parallelism: start n worker processes on this machine, each training on its share of every batch (--batch-size is per process; default threads: the cores shared out)",
      positiveInteger,
    )
    .option("--nnodes <n>", "machines taking part, each starting --nproc-per-node workers (default 1)", positiveInteger)
    .option("--node-rank <n>", "this machine's place among them, 0 to nnodes-1 (default 0)", nonNegativeInteger)
    .option(
      "--master-addr <host>",
      "the machine of rank 0, where the ranks meet (default: MASTER_ADDR, else 127.0.0.1)",
    )
    .option("--master-port <port>", "the port they meet on (default: MASTER_PORT, else 29500)", positiveInteger);
}

let group: ProcessGroup | undefined;

/** The group this process trains in, when it is a data-parallel worker. */
export function currentGroup(): ProcessGroup | undefined {
  return group;
}

/**
 * Runs a training command's `body` as this process's part of the run:
 * as the launcher of --nproc-per-node workers (resolves to their exit
 * code), as a worker of a group described by the environment (joins it
 * first; ranks other than 0 print nothing on stdout), or alone.
 */
export async function runDistributed(
  options: DistributedCliOptions,
  io: CliIo,
  argv: readonly string[],
  body: (io: CliIo) => Promise<void>,
): Promise<void> {
  const worker = process.env[WORKER_MARK] === "1" || (process.env.WORLD_SIZE ?? "") !== "";
  if (options.nprocPerNode !== undefined && !worker) {
    const { code, failure } = await launch(options, io, argv);
    // The workers said what happened; the launcher adds what it saw.
    if (code !== 0) throw new CliExit(code, failure ?? "");
    return;
  }
  if (options.nnodes !== undefined || options.nodeRank !== undefined) {
    if (options.nprocPerNode === undefined && !worker)
      throw usageError("--nnodes, --node-rank: with --nproc-per-node (or RANK and WORLD_SIZE from a launcher)");
  }
  if (!worker) return body(io);
  if (process.env[WORKER_MARK] === "1") endWithLauncher();
  const { ProcessGroup: Group } = await import("../train/distributed.js");
  group = await Group.join();
  const quiet: CliIo = group.rank === 0 ? io : { ...io, stdout: { write: () => true } };
  try {
    await body(quiet);
  } finally {
    const joined = group;
    group = undefined;
    await joined.shutdown();
  }
}

/**
 * Starts the workers, forwards SIGINT and SIGTERM to them, and once one
 * fails stops the others (SIGTERM, then SIGKILL after a grace period).
 * Resolves to the exit code: 0, or the first failed worker's.
 */
async function launch(
  options: DistributedCliOptions,
  io: CliIo,
  argv: readonly string[],
): Promise<{ code: number; failure: string | null }> {
  const perNode = options.nprocPerNode!;
  const nodes = options.nnodes ?? 1;
  const nodeRank = options.nodeRank ?? 0;
  if (nodeRank >= nodes) throw usageError(`--node-rank: expected 0 to ${nodes - 1}, got ${nodeRank}`);
  const world = perNode * nodes;
  const masterAddr = options.masterAddr ?? process.env.MASTER_ADDR ?? "127.0.0.1";
  const masterPort = options.masterPort ?? Number(process.env.MASTER_PORT ?? 29500);
  // The worker's command line: this one without the launcher's options,
  // with a thread count that shares the cores out.
  const args = withoutLauncherOptions(argv.slice(2));
  if (options.threads === undefined)
    args.push("--threads", String(Math.max(1, Math.floor(availableParallelism() / perNode))));

  const children: ChildProcess[] = [];
  const exits: Promise<{ rank: number; code: number | null; signal: NodeJS.Signals | null }>[] = [];
  let failed: { rank: number; code: number; what: string } | null = null;
  let stopping: NodeJS.Signals | null = null;
  let killer: NodeJS.Timeout | null = null;
  const stopOthers = () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    killer ??= setTimeout(() => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }, GRACE_MS);
  };
  for (let local = 0; local < perNode; local++) {
    const rank = nodeRank * perNode + local;
    const child = spawn(process.execPath, [argv[1], ...args], {
      env: {
        ...process.env,
        [WORKER_MARK]: "1",
        RANK: String(rank),
        LOCAL_RANK: String(local),
        WORLD_SIZE: String(world),
        LOCAL_WORLD_SIZE: String(perNode),
        MASTER_ADDR: masterAddr,
        MASTER_PORT: String(masterPort),
      },
      stdio: ["ignore", rank === 0 ? "pipe" : "ignore", "pipe"],
      // A group of their own: Ctrl-C in a terminal reaches the launcher
      // alone, which passes it on once (a second SIGINT would make the
      // workers quit without a checkpoint).
      detached: true,
    });
    children.push(child);
    if (rank === 0) child.stdout!.on("data", (chunk) => io.stdout.write(String(chunk)));
    // Rank 0's messages as they are; the others' only when they say
    // something rank 0 does not (their errors), marked with their rank.
    let pending = "";
    child.stderr!.on("data", (chunk) => {
      if (rank === 0) {
        io.stderr.write(String(chunk));
        return;
      }
      pending += String(chunk);
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) if (line.startsWith("ltgbert:")) io.stderr.write(`[rank ${rank}] ${line}\n`);
    });
    exits.push(
      new Promise((resolve) =>
        child.on("exit", (code, signal) => {
          if ((code !== 0 || signal !== null) && failed === null && stopping === null) {
            failed = {
              rank,
              code: code ?? 1,
              what: `rank ${rank} ${signal ? `was ended by ${signal}` : `exited with code ${code}`}; the other ranks were stopped`,
            };
            stopOthers();
          }
          resolve({ rank, code, signal });
        }),
      ),
    );
  }
  const forward = (signal: NodeJS.Signals) => () => {
    stopping ??= signal;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    const ended = await Promise.all(exits);
    const failure = failed as { code: number; what: string } | null;
    if (failure !== null) return { code: failure.code, failure: failure.what };
    // Stopped by a signal: the workers' exit code (130, 143), and rank 0 said where the checkpoint is.
    const bad = ended.find((e) => e.code !== 0);
    return { code: bad === undefined ? 0 : (bad.code ?? 1), failure: null };
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    if (killer !== null) clearTimeout(killer);
  }
}

/** A worker whose launcher is gone (killed) ends too, rather than train on unwatched. */
function endWithLauncher(): void {
  const launcher = process.ppid;
  setInterval(() => {
    if (process.ppid !== launcher) process.kill(process.pid, "SIGKILL");
  }, 1000).unref();
}

const LAUNCHER_FLAGS = new Set(["--nproc-per-node", "--nnodes", "--node-rank", "--master-addr", "--master-port"]);

function withoutLauncherOptions(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const [flag] = args[i].split("=", 1);
    if (LAUNCHER_FLAGS.has(flag)) {
      if (!args[i].includes("=")) i++;
      continue;
    }
    out.push(args[i]);
  }
  return out;
}
