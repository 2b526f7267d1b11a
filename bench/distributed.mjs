#!/usr/bin/env node
// Data-parallel training benchmark, one command, on this machine's cores:
//
//   1 rank x 2 threads, batch 2b        one process, both cores
//   2 ranks x 1 thread, batch b each    the same global batch over c10d/Gloo
//   PyTorch DDP, 2 ranks x 1 thread     torch.nn.parallel.DistributedDataParallel,
//                                       the same model, batch and optimizer
//
// Every figure is a median over --runs timed steps after --warmup untimed
// ones, each step started at a barrier (bench/distributed-worker.mjs,
// bench/pytorch/ddp_bench.py). For the 2-rank ltgbert run the share of a
// step spent waiting on collectives (the item count, what is left of the
// gradients' all-reduce once backward is done, the loss) is the workers'
// own measure. The runs go one after the other,
// never at once. See bench/README.md.
//
//   node bench/distributed.mjs [--presets mini,base] [--batch 4] [--seq 128]
//                              [--runs 5] [--warmup 2] [--skip-python] [--json]
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PYTHON, median } from "./common.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const presets = flag("--presets", "mini,base").split(",");
const batch = Number(flag("--batch", "4"));
const seq = Number(flag("--seq", "128"));
const runs = Number(flag("--runs", "5"));
const warmup = Number(flag("--warmup", "2"));
const skipPython = args.includes("--skip-python");
const json = args.includes("--json");

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function run(command, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command} ${argv.join(" ")}: ${code}\n${err}`)),
    );
  });
}

async function ltgbert(preset, world, threads, rowsPerRank) {
  const port = await freePort();
  const worker = path.join(HERE, "distributed-worker.mjs");
  const outs = await Promise.all(
    Array.from({ length: world }, (_, rank) =>
      run(process.execPath, [worker, preset, rank, world, port, rowsPerRank, seq, threads, warmup, runs]),
    ),
  );
  const reports = outs.map((o) => JSON.parse(o.trim().split("\n").at(-1)));
  // A step ends when its slowest rank's does.
  const steps = reports[0].stepSeconds.map((_, i) => Math.max(...reports.map((r) => r.stepSeconds[i])));
  const share = reports[0].stepSeconds.map((s, i) => reports[0].communicationSeconds[i] / s);
  return { step: median(steps), communicationShare: world > 1 ? median(share) : null };
}

async function torchDdp(preset, world, threads, rowsPerRank) {
  const out = await run(PYTHON, [
    path.join(HERE, "pytorch", "ddp_bench.py"),
    "--preset",
    preset,
    "--world",
    String(world),
    "--threads",
    String(threads),
    "--batch",
    String(rowsPerRank),
    "--seq",
    String(seq),
    "--runs",
    String(runs),
    "--warmup",
    String(warmup),
    "--port",
    String(await freePort()),
  ]);
  const report = JSON.parse(out.trim().split("\n").at(-1));
  return { step: median(report.step_seconds), torch: report.torch_version };
}

const results = [];
for (const preset of presets) {
  const single = await ltgbert(preset, 1, 2, 2 * batch);
  const two = await ltgbert(preset, 2, 1, batch);
  const torch = skipPython ? null : await torchDdp(preset, 2, 1, batch);
  const global = 2 * batch;
  results.push({
    preset,
    globalBatch: global,
    seq,
    oneRankTwoThreads: { stepSeconds: single.step, sequencesPerSecond: global / single.step },
    twoRanksOneThread: {
      stepSeconds: two.step,
      sequencesPerSecond: global / two.step,
      communicationShare: two.communicationShare,
    },
    pytorchDdpTwoRanks: torch && {
      stepSeconds: torch.step,
      sequencesPerSecond: global / torch.step,
      torch: torch.torch,
    },
    twoRanksOverOneRank: single.step / two.step,
    ltgbertOverPytorchDdp: torch && torch.step / two.step,
  });
}
if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
else {
  console.log(`global batch ${2 * batch} x ${seq}, median of ${runs} steps after ${warmup}`);
  console.log(
    "| preset | 1 rank x 2 threads | 2 ranks x 1 thread | collectives share | PyTorch DDP 2 x 1 | 2 ranks / 1 rank | ltgbert / PyTorch DDP |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    const s = (x) => `${x.stepSeconds.toFixed(3)} s`;
    console.log(
      `| ${r.preset} | ${s(r.oneRankTwoThreads)} | ${s(r.twoRanksOneThread)} | ${(100 * r.twoRanksOneThread.communicationShare).toFixed(1)}% | ${r.pytorchDdpTwoRanks ? s(r.pytorchDdpTwoRanks) : "-"} | ${r.twoRanksOverOneRank.toFixed(2)}x | ${r.ltgbertOverPytorchDdp ? `${r.ltgbertOverPytorchDdp.toFixed(2)}x` : "-"} |`,
    );
  }
  console.log("ratios above 1: the first is faster (throughput of the same global batch)");
}
