// Writing a Hugging Face model directory around the weights the addon saves:
// the folder, config.json, and the tokenizer files copied from where the
// model came from. Every file is written to a temporary name beside its
// target and renamed over it, so a failure never leaves half a file.
import { randomBytes } from "node:crypto";
import { lstat, mkdir, mkdtemp, open, readFile, realpath, rename, rm, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { problemTypeOf, type LtgBertConfig } from "./config.js";
import { LtgBertError, type LtgBertErrorCode } from "./errors.js";
import { nonEmptyString, object, oneOf } from "./validate.js";
import { fileKind } from "./files.js";

/** The weights file format of `savePretrained`. */
export type SaveFormat = "safetensors" | "pytorch";

/** Options of `savePretrained`. */
export interface SaveOptions {
  /**
   * "safetensors" (default): `model.safetensors`, without the tied decoder
   * alias, as Hugging Face's `save_pretrained` writes it. "pytorch":
   * `pytorch_model.bin` as `torch.save(model.state_dict())` writes it, tied
   * alias included; `torch.load` (also `weights_only=True`) reads it.
   */
  format?: SaveFormat;
}

/** Tokenizer files copied along from the directory a model was loaded from. */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"];

/** Validates `savePretrained`'s arguments; returns the format. */
export function checkSaveArguments(outDir: unknown, options: unknown): SaveFormat {
  nonEmptyString("outDir", outDir, "a directory path");
  object("options", options);
  return oneOf("options.format", (options as SaveOptions).format ?? "safetensors", ["safetensors", "pytorch"]);
}

/** Like the addon's writers: a missing folder, a refused target, or anything else. */
function ioError(file: string, what: string, error: unknown): LtgBertError {
  const errno = (error as NodeJS.ErrnoException).code;
  const code: LtgBertErrorCode = errno === "ENOENT" || errno === "ENOTDIR" ? "LTGBERT_FILE_NOT_FOUND" : "LTGBERT_IO";
  return new LtgBertError(code, `${file}: ${what} (${(error as Error).message})`, { cause: error });
}

/**
 * Creates `dir` and its parents when missing. Not Node's recursive mkdir: that
 * one loops for ever where mkdir answers ENOENT under an existing folder
 * (/proc/self/x); here each missing level is created once, top down, and the
 * first refusal is the error.
 */
export async function makeDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    let stats;
    try {
      stats = await stat(at);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(dir, "cannot create the folder", error);
      missing.push(at);
      if (path.dirname(at) === at) break;
      continue;
    }
    if (!stats.isDirectory()) {
      throw new LtgBertError("LTGBERT_IO", `${dir}: cannot create the folder: ${at} is ${fileKind(stats)}`);
    }
    break;
  }
  for (const level of missing.reverse()) {
    try {
      await mkdir(level);
    } catch (error) {
      // Made meanwhile by another writer: fine when it is a folder.
      const made = (error as NodeJS.ErrnoException).code === "EEXIST" && (await stat(level)).isDirectory();
      if (!made) throw ioError(dir, "cannot create the folder", error);
    }
  }
}

/**
 * Writes `data` to `file` atomically: a temporary file in the same folder,
 * synced, then renamed over the target. On failure the temporary file is
 * removed and the target left as it was.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  let step = "cannot create";
  try {
    const handle = await open(temp, "wx");
    try {
      step = "cannot write";
      await handle.writeFile(data);
      step = "cannot flush";
      await handle.sync();
    } finally {
      await handle.close();
    }
    step = "cannot replace it with";
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw ioError(file, `${step} ${temp}`, error);
  }
}

/**
 * The config.json of a saved model: the model's resolved config, snake_case,
 * with `model_type`, `architectures` and `position_qk_split` always written
 * and, for a classifier, its labels as Hugging Face writes them. Keys sorted,
 * as `save_pretrained` writes them.
 */
export function savedConfig(
  config: LtgBertConfig,
  architecture: string,
  classification: { numLabels: number } | null,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...config,
    model_type: "ltgbert",
    architectures: [architecture],
    position_qk_split: config.position_qk_split ?? "per_head",
  };
  if (classification) {
    const n = classification.numLabels;
    // Hugging Face rebuilds the labels when their count disagrees with num_labels.
    const given = config.id2label;
    const keep = given !== undefined && Object.keys(given).length === n;
    const id2label: Record<string, string> = keep
      ? { ...given }
      : Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), `LABEL_${i}`]));
    const label2id: Record<string, number> =
      keep && config.label2id !== undefined && Object.keys(config.label2id).length === n
        ? { ...config.label2id }
        : Object.fromEntries(Object.entries(id2label).map(([id, label]) => [label, Number(id)]));
    Object.assign(out, {
      num_labels: n,
      id2label,
      label2id,
      problem_type: problemTypeOf(config),
      classifier_head: config.classifier_head,
    });
  }
  return Object.fromEntries(
    Object.keys(out)
      .sort()
      .filter((key) => out[key] !== undefined)
      .map((key) => [key, out[key]]),
  );
}

async function sameDirectory(a: string, b: string): Promise<boolean> {
  try {
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/**
 * Copies the tokenizer files that `sourceDir` has into `outDir` (each
 * atomically); nothing when the two are the same folder. Returns the files
 * written.
 */
export async function copyTokenizerFiles(
  sourceDir: string | null,
  outDir: string,
  finalDir: string = outDir,
): Promise<string[]> {
  if (sourceDir === null || (await sameDirectory(sourceDir, finalDir))) return [];
  const written: string[] = [];
  for (const name of TOKENIZER_FILES) {
    const from = path.join(sourceDir, name);
    let data: Buffer;
    try {
      data = await readFile(from);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw ioError(from, "cannot read", error);
    }
    const to = path.join(outDir, name);
    await writeFileAtomic(to, data);
    written.push(to);
  }
  return written;
}

/**
 * The Python files of a directory's custom model code, as Hugging Face's
 * `trust_remote_code` loads it: each module that config.json's `auto_map`
 * names ("modeling_ltgbert.LtgBertForMaskedLM" is modeling_ltgbert.py;
 * a "repo--module.Class" value names code on the Hub and no file), and the
 * modules those import relatively (`from .configuration_ltgbert import …`),
 * as found in `sourceDir`.
 */
async function remoteCodeFiles(sourceDir: string, autoMap: unknown): Promise<string[]> {
  if (typeof autoMap !== "object" || autoMap === null) return [];
  const references = Object.values(autoMap).flatMap((v: unknown) => (Array.isArray(v) ? v : [v]));
  const pending = references
    .filter((r): r is string => typeof r === "string" && r.includes(".") && !r.includes("--"))
    .map((r) => r.slice(0, r.lastIndexOf(".")));
  const found: string[] = [];
  while (pending.length > 0) {
    const module = pending.shift()!;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(module) || found.includes(`${module}.py`)) continue;
    let code: string;
    try {
      code = await readFile(path.join(sourceDir, `${module}.py`), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue; // not there: nothing to carry
      throw ioError(path.join(sourceDir, `${module}.py`), "cannot read", error);
    }
    found.push(`${module}.py`);
    for (const match of code.matchAll(/^\s*from\s+\.([A-Za-z_][A-Za-z0-9_]*)\s+import\b/gm)) pending.push(match[1]);
  }
  return found;
}

/**
 * Copies the custom model code that config.json's `auto_map` refers to
 * (see `remoteCodeFiles`) from the directory the model was loaded from, so
 * that Python's `from_pretrained(outDir, trust_remote_code=True)` loads the
 * saved directory as it loaded the source. Returns the paths written.
 */
export async function copyRemoteCodeFiles(
  sourceDir: string | null,
  outDir: string,
  config: Record<string, unknown>,
  finalDir: string = outDir,
): Promise<string[]> {
  if (sourceDir === null || (await sameDirectory(sourceDir, finalDir))) return [];
  const written: string[] = [];
  for (const name of await remoteCodeFiles(sourceDir, config.auto_map)) {
    const to = path.join(outDir, name);
    await writeFileAtomic(to, await readFile(path.join(sourceDir, name)));
    written.push(to);
  }
  return written;
}

/**
 * Puts the finished folder `from` at `to`, replacing a folder already
 * there: the old one is first renamed aside, then `from` renamed into
 * place, then the old one removed, so `to` is never a half-written folder.
 */
export async function replaceDirectory(from: string, to: string): Promise<void> {
  const aside = `${to}.old-${process.pid}-${randomBytes(4).toString("hex")}`;
  let moved = false;
  try {
    await rename(to, aside);
    moved = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      throw ioError(to, `cannot move it aside to ${aside}`, error);
  }
  try {
    await rename(from, to);
  } catch (error) {
    if (moved) await rename(aside, to).catch(() => {});
    throw ioError(to, `cannot rename ${from} to it`, error);
  }
  if (moved) await rm(aside, { recursive: true, force: true });
}

/**
 * Saves a model directory as one: `write` puts every file of the new model
 * into a staging folder inside `outDir` (same file system) and returns their
 * paths; only when all of them are written, and no target is in the way (a
 * folder where a file goes), are they renamed over the old ones. A failure
 * before that leaves every file of the old model as it was. Returns the
 * final paths. Other files in `outDir` are left alone.
 */
export async function saveDirectoryAtomically(
  outDir: string,
  write: (stage: string) => Promise<string[]>,
): Promise<string[]> {
  await makeDirectory(outDir);
  let stage: string;
  try {
    stage = await mkdtemp(path.join(outDir, ".ltgbert-save-"));
  } catch (error) {
    throw ioError(outDir, "cannot create a staging folder in it", error);
  }
  try {
    const staged = await write(stage);
    const moves = staged.map((file) => [file, path.join(outDir, path.relative(stage, file))] as const);
    for (const [, to] of moves) {
      const stats = await lstat(to).catch(() => null);
      if (stats !== null && !stats.isFile() && !stats.isSymbolicLink()) {
        throw new LtgBertError("LTGBERT_IO", `${to}: cannot replace it: it is ${fileKind(stats)}; nothing was saved`);
      }
    }
    for (const [from, to] of moves) {
      try {
        await rename(from, to);
      } catch (error) {
        throw ioError(to, `cannot rename ${from} to it`, error);
      }
    }
    await syncDirectory(outDir);
    return moves.map(([, to]) => to);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * Flushes a folder's entries (the renames into it) to disk, so that after a
 * power loss the folder names the new files, whose contents their writers
 * synced. Best effort, as for the native writers: some file systems refuse
 * to sync a folder, and the files are in place by then.
 */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r").catch(() => null);
  if (handle === null) return;
  await handle.sync().catch(() => {});
  await handle.close().catch(() => {});
}
