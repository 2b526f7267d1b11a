#!/usr/bin/env node
// npm's install step. Uses the addon node-gyp-build would load (a local build
// in build/Release, else the prebuilt one in prebuilds/<platform>-<arch>/,
// which `npm pack` puts there) when it loads and runs here; else builds one
// with cmake-js against the libtorch that find-libtorch picks. Says once
// which happened.
//   node scripts/install.mjs            build only if nothing usable loads
//   node scripts/install.mjs --force    always build
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findLibtorch, HOW_TO_GET_LIBTORCH } from "./find-libtorch.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const platform = `${process.platform}-${process.arch}`;

/**
 * Loads `file` in a child process with every symbol bound at once (RTLD_NOW:
 * a libtorch of another soname or C++ ABI fails here, not at its first call)
 * and asks it what it runs on. Returns that, or the reason it failed.
 */
export function checkAddon(file) {
  const script = `
    const os = require("node:os");
    const m = { exports: {} };
    process.dlopen(m, ${JSON.stringify(file)}, os.constants.dlopen.RTLD_NOW);
    const info = m.exports.systemInfo();
    process.stdout.write(JSON.stringify({ libtorch: info.libtorchVersion, oneDnn: info.oneDnn, oneDnnStatus: info.oneDnnStatus }));`;
  const child = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 120_000 });
  if (child.status === 0) return { ok: true, info: JSON.parse(child.stdout) };
  const lines = `${child.stderr ?? ""}${child.error?.message ?? ""}`.split("\n").map((l) => l.trim());
  const reason = lines.find((l) => /^Error: /.test(l)) ?? lines.find(Boolean) ?? `exit ${child.status ?? child.signal}`;
  return { ok: false, reason: reason.replace(/^Error: /, "") };
}

function describe(info) {
  return `libtorch ${info.libtorch}, ${info.oneDnn ? `oneDNN ${info.oneDnn}` : `no oneDNN (${info.oneDnnStatus})`}`;
}

function build(why) {
  const torch = findLibtorch();
  if (!torch) {
    console.error(`ltgbert: ${why}, and no libtorch to build one against.`);
    console.error(HOW_TO_GET_LIBTORCH);
    process.exit(1);
  }
  console.log(
    `ltgbert: ${why}: building the native addon from source against libtorch ${torch.version} (${torch.source}: ${torch.torchDir})`,
  );
  const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
  const args = [cmakeJs, "compile", `--CDTorch_DIR=${torch.torchDir}`, "--parallel", String(os.availableParallelism())];
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    console.error("ltgbert: the native build failed (see the compiler output above).");
    process.exit(result.status ?? 1);
  }
}

function main() {
  if (process.argv.includes("--force")) return build("asked to build");
  let file;
  try {
    file = require("node-gyp-build").resolve(root);
  } catch {
    return build(`no built addon here and no prebuilt one for ${platform}`);
  }
  const where = path.relative(root, file);
  const prebuilt = where.startsWith("prebuilds");
  const check = checkAddon(file);
  if (check.ok) {
    console.log(
      prebuilt
        ? `ltgbert: using the prebuilt addon ${where} (${describe(check.info)}): nothing to compile`
        : `ltgbert: the addon in ${where} loads (${describe(check.info)}): nothing to build`,
    );
    return;
  }
  build(`the ${prebuilt ? "prebuilt" : "built"} addon ${where} does not load here (${check.reason})`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
