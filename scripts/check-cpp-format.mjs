#!/usr/bin/env node
// Checks the C++ sources against .clang-format (skips, saying so, where
// clang-format is not installed).
import { execFileSync, spawnSync } from "node:child_process";

const probe = spawnSync("clang-format", ["--version"], { encoding: "utf8" });
if (probe.status !== 0) {
  console.log("check-cpp-format: clang-format is not installed; C++ formatting not checked");
  process.exit(0);
}
const files = execFileSync("git", ["ls-files", "native/*.cc", "native/*.h"], { encoding: "utf8" })
  .split("\n")
  .filter(Boolean);
const result = spawnSync("clang-format", ["--dry-run", "--Werror", ...files], { encoding: "utf8" });
if (result.status !== 0) {
  process.stderr.write(result.stderr.split("\n").slice(0, 30).join("\n") + "\n");
  console.error("check-cpp-format: run `npm run format`");
  process.exit(1);
}
console.log(`check-cpp-format: ${files.length} files formatted`);
