#!/usr/bin/env node
// Checks the C++ sources against .clang-format (skips, saying so, where
// clang-format is not installed).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const probe = spawnSync("clang-format", ["--version"], { encoding: "utf8" });
if (probe.status !== 0) {
  console.log("check-cpp-format: clang-format is not installed; C++ formatting not checked");
  process.exit(0);
}
// Every C++ file under native/ (read from the tree: CI's copy has no .git).
const files = readdirSync(path.join(root, "native"), { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".cc") || file.endsWith(".h"))
  .map((file) => path.join("native", file))
  .sort();
const result = spawnSync("clang-format", ["--dry-run", "--Werror", ...files], { cwd: root, encoding: "utf8" });
if (result.status !== 0) {
  process.stderr.write(result.stderr.split("\n").slice(0, 30).join("\n") + "\n");
  console.error("check-cpp-format: run `npm run format`");
  process.exit(1);
}
console.log(`check-cpp-format: ${files.length} files formatted`);
