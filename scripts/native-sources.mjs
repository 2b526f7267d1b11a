#!/usr/bin/env node
// Lists the addon's C++ sources for binding.gyp (CMake globs them itself).
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const sources = readdirSync(path.join(root, "native"), { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".cc"))
  .map((file) => path.posix.join("native", file.split(path.sep).join("/")))
  .sort();
process.stdout.write(sources.join(" "));
