// A child process for the save tests: loads a model directory through the
// raw addon (no TypeScript needed) and saves its weights into OUT_DIR, so a
// test can run the write under limits that only a separate process can have
// (a file-size limit). Prints one JSON line: { ok } or { ok, code, message }.
//
// Usage: node save-child.mjs MODEL_DIR TASK OUT_DIR FORMAT
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [modelDir, task, outDir, format] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const addon = require("node-gyp-build")(root);

const model = new addon.Model();
const config = JSON.parse(readFileSync(path.join(modelDir, "config.json"), "utf8"));
await model.load(JSON.stringify({ ...config, task }), { checkpoint: modelDir, strict: true });
try {
  await model.save(outDir, { format });
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, code: error.code, message: error.message }));
}
model.dispose();
