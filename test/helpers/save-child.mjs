// A child process for the save tests: loads a model through the raw addon
// (no TypeScript needed) and saves its weights into OUT_DIR, so a test can
// run the write under limits only a separate process can have (a file-size
// limit) or kill it part-way.
//
// Usage: node save-child.mjs MODEL_DIR TASK OUT_DIR FORMAT [--repeat]
//   MODEL_DIR holds config.json and, unless the model is to be initialised
//   (seed 1), its weights. Prints one JSON line: { ok } or { ok, code,
//   message }. With --repeat it saves again and again, printing "saved" after
//   each, until killed.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [modelDir, task, outDir, format, repeat] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const addon = require("node-gyp-build")(root);

const model = new addon.Model();
const config = JSON.parse(readFileSync(path.join(modelDir, "config.json"), "utf8"));
const hasWeights = ["model.safetensors", "pytorch_model.bin"].some((f) => existsSync(path.join(modelDir, f)));
await model.load(JSON.stringify({ ...config, task }), {
  checkpoint: hasWeights ? modelDir : undefined,
  seed: 1,
  strict: true,
});
if (repeat === "--repeat") {
  for (;;) {
    await model.save(outDir, { format });
    process.stdout.write("saved\n");
  }
}
try {
  await model.save(outDir, { format });
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, code: error.code, message: error.message }));
}
model.dispose();
