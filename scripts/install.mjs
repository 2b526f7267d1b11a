#!/usr/bin/env node
// npm's install step: use a prebuilt or already-built addon when one loads,
// else build it with cmake-js against the libtorch that find-libtorch picks.
//   node scripts/install.mjs            build only if nothing loads
//   node scripts/install.mjs --force    always build
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findLibtorch, HOW_TO_GET_LIBTORCH } from "./find-libtorch.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

function existingAddonLoads() {
  try {
    const load = require("node-gyp-build");
    load(root);
    return true;
  } catch {
    return false;
  }
}

function build() {
  const torch = findLibtorch();
  if (!torch) {
    console.error(HOW_TO_GET_LIBTORCH);
    process.exit(1);
  }
  console.log(
    `ltgbert: building the native addon against libtorch ${torch.version} (${torch.source}: ${torch.torchDir})`,
  );
  const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
  const args = [cmakeJs, "compile", `--CDTorch_DIR=${torch.torchDir}`, "--parallel", String(os.availableParallelism())];
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    console.error("ltgbert: the native build failed (see the compiler output above).");
    process.exit(result.status ?? 1);
  }
}

if (process.argv.includes("--force") || !existingAddonLoads()) build();
