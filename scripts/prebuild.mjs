#!/usr/bin/env node
// `npm pack`'s prepack and postpack. Before packing, builds the addon with
// cmake-js against Debian 12's libtorch 1.13 (the system's libtorch-dev) and
// puts it in prebuilds/linux-x64/, so that `npm install` of the tarball on a
// machine with the runtime libraries only (libtorch1.13, libopenblas0-openmp,
// libdnnl2) needs no compiler. After packing, removes it again: in a checkout
// the addon is built from the sources (prebuilds/*/ is not committed).
//   node scripts/prebuild.mjs            make prebuilds/linux-x64/ltgbert.node
//   node scripts/prebuild.mjs --clean    remove it
// LTGBERT_SKIP_PREBUILD=1 packs without a prebuilt addon (another platform
// or libtorch: every install then builds from source).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findLibtorch } from "./find-libtorch.mjs";
import { checkAddon } from "./install.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const PLATFORM = "linux-x64";
const target = path.join(root, "prebuilds", PLATFORM);

function fail(message) {
  console.error(`prebuild: ${message}`);
  console.error(
    "prebuild: LTGBERT_SKIP_PREBUILD=1 packs without a prebuilt addon (every install then builds from source).",
  );
  process.exit(1);
}

if (process.argv.includes("--clean")) {
  rmSync(target, { recursive: true, force: true });
  process.exit(0);
}
if (process.env.LTGBERT_SKIP_PREBUILD === "1") {
  console.log("prebuild: LTGBERT_SKIP_PREBUILD=1: packing without a prebuilt addon");
  process.exit(0);
}
if (`${process.platform}-${process.arch}` !== PLATFORM) fail(`prebuilt addons are made on ${PLATFORM} only`);
const torch = findLibtorch();
if (!torch || torch.source !== "system" || !torch.version.startsWith("1.13")) {
  fail(
    `a prebuilt addon is made against Debian 12's libtorch 1.13 (apt-get install libtorch-dev); found ${
      torch ? `libtorch ${torch.version} (${torch.source}: ${torch.torchDir})` : "none"
    }`,
  );
}

// cmake-js's build in build/, brought up to date: when build/ already holds a
// cmake-js build against this libtorch (npm ci made one), that takes a
// second; anything else there (a node-gyp build, another libtorch) is
// cleaned and built anew.
const cache = path.join(root, "build", "CMakeCache.txt");
const sameTorch =
  existsSync(cache) &&
  new RegExp(`^Torch_DIR:[A-Z]+=${torch.torchDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m").test(
    readFileSync(cache, "utf8"),
  );
const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
const args = [
  cmakeJs,
  sameTorch ? "compile" : "rebuild",
  `--CDTorch_DIR=${torch.torchDir}`,
  "--parallel",
  String(os.availableParallelism()),
];
console.log(
  `prebuild: ${sameTorch ? "bringing build/ up to date" : "building the addon"} against libtorch ${torch.version} (${torch.torchDir})`,
);
const result = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
if (result.status !== 0) fail("the build failed (see above)");
const built = path.join(root, "build", "Release", "ltgbert.node");
if (!existsSync(built)) fail(`the build made no ${built}`);
const check = checkAddon(built);
if (!check.ok) fail(`the addon just built does not load: ${check.reason}`);
mkdirSync(target, { recursive: true });
copyFileSync(built, path.join(target, "ltgbert.node"));
if (check.info.oneDnnStatus !== "used") {
  console.warn(
    `prebuild: warning: the addon runs without oneDNN (${check.info.oneDnnStatus}); install libdnnl-dev and ocl-icd-opencl-dev for a faster one`,
  );
}
console.log(
  `prebuild: prebuilds/${PLATFORM}/ltgbert.node (libtorch ${check.info.libtorch}, oneDNN: ${check.info.oneDnnStatus}${
    check.info.oneDnn ? ` ${check.info.oneDnn}` : ""
  })`,
);
