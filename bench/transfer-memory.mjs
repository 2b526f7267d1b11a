#!/usr/bin/env node
// Peak memory of a weight transfer at the base size (98 M parameters):
// masked-LM checkpoint on disk -> sequence classifier in memory -> saved.
// The package and PyTorch (the project's reference model) each run in a
// child process of their own, one after the other; each reports its
// resident-set size after start-up (libraries loaded, no model) and its
// peak, and the figure is the growth, as a multiple of the model's size.
//
//   node bench/transfer-memory.mjs [--json] [--keep DIR]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PRESETS, PYTHON, ROOT } from "./common.mjs";

const root = ROOT;
const python = PYTHON;
const json = process.argv.includes("--json");
const BASE = PRESETS.base;

const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-transfer-memory-"));
const mlmDir = path.join(work, "mlm");
const clsDir = path.join(work, "cls");

function child(script, args = []) {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script, ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`child failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").pop());
}

try {
  // The checkpoint to transfer from, written by the package itself.
  child(
    `import { LtgBertForMaskedLM } from "./dist/index.js";
     const m = await LtgBertForMaskedLM.fromConfig(${JSON.stringify(BASE)});
     await m.savePretrained(process.argv[1]);
     console.log(JSON.stringify({ parameters: m.numParameters() }));`,
    [mlmDir],
  );

  const node = child(
    `import { LtgBertForSequenceClassification, systemInfo } from "./dist/index.js";
     systemInfo();
     const before = process.memoryUsage.rss();
     const cls = await LtgBertForSequenceClassification.fromPretrained(process.argv[1], { numLabels: 3 });
     await cls.savePretrained(process.argv[2]);
     const parameters = cls.numParameters();
     console.log(JSON.stringify({ before, peak: process.resourceUsage().maxRSS * 1024, parameters }));`,
    [mlmDir, clsDir],
  );

  const pyScript = `
import json, resource, sys
sys.path.insert(0, "reference")
import torch
import ltg_bert as ref
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
before = rss()
config = ref.LtgBertConfig(**json.loads(sys.argv[2]), num_labels=3)
mlm_state = ref.read_state_dict(sys.argv[1])
cls = ref.LtgBertForSequenceClassification(config)
cls.embedding.load_state_dict({k[len("embedding."):]: v for k, v in mlm_state.items() if k.startswith("embedding.")})
cls.transformer.load_state_dict({k[len("transformer."):]: v for k, v in mlm_state.items() if k.startswith("transformer.")}, strict=False)
del mlm_state
torch.save(cls.state_dict(), sys.argv[3])
print(json.dumps({"before": before, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "parameters": sum(p.numel() for p in cls.parameters())}))
`;
  let torch = null;
  try {
    const out = execFileSync(python, ["-c", pyScript, mlmDir, JSON.stringify(BASE), path.join(work, "torch-cls.bin")], {
      cwd: root,
      encoding: "utf8",
      timeout: 600_000,
    });
    torch = JSON.parse(out.trim().split("\n").pop());
  } catch (error) {
    console.error(`PyTorch side skipped: ${error.message.split("\n")[0]}`);
  }

  const modelBytes = node.parameters * 4;
  const row = (name, r) => ({
    name,
    startupMB: r.before / 2 ** 20,
    peakMB: r.peak / 2 ** 20,
    growthMB: (r.peak - r.before) / 2 ** 20,
    growthOverModel: (r.peak - r.before) / modelBytes,
  });
  const rows = [row("ltgbert", node), ...(torch ? [row("pytorch", torch)] : [])];
  if (json) {
    console.log(JSON.stringify({ parameters: node.parameters, modelMB: modelBytes / 2 ** 20, rows }));
  } else {
    console.log(
      `transfer of a ${(node.parameters / 1e6).toFixed(1)} M-parameter masked LM into a 3-label classifier, then save`,
    );
    console.log(`model size (float32): ${(modelBytes / 2 ** 20).toFixed(0)} MiB`);
    for (const r of rows) {
      console.log(
        `  ${r.name.padEnd(8)} start-up ${r.startupMB.toFixed(0)} MiB, peak ${r.peakMB.toFixed(0)} MiB, growth ${r.growthMB.toFixed(0)} MiB = ${r.growthOverModel.toFixed(2)}x the model`,
      );
    }
  }
} finally {
  if (!process.argv.includes("--keep")) rmSync(work, { recursive: true, force: true });
}
