// Which files of a data directory are its train and dev splits.
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { LtgBertError } from "../errors.js";
import { usageError } from "./common.js";

/** Extensions of the data files (readDataset's, and CoNLL-U for tagging), in the order they are looked for. */
const EXTENSIONS = [".tsv", ".csv", ".jsonl", ".ndjson", ".json", ".conllu"];
export const TRAIN_NAMES = ["train"];
export const DEV_NAMES = ["dev", "validation"];

/** "train.*" or "dev.* or validation.*", for help texts. */
export function splitNames(names: readonly string[]): string {
  return names.map((n) => `${n}.*`).join(" or ");
}

/** "train.tsv, train.csv, …": the file names looked for. */
export function candidates(names: readonly string[]): string {
  return names.flatMap((n) => EXTENSIONS.map((e) => `${n}${e}`)).join(", ");
}

async function kindOf(file: string): Promise<"file" | "directory" | null> {
  const info = await stat(file).catch(() => null);
  if (info === null) return null;
  return info.isDirectory() ? "directory" : "file";
}

/** The one split file of `dir` named `<name>.<ext>` for one of `names`, or null; two of them are an error. */
async function findSplit(dir: string, names: readonly string[], what: string, flag: string): Promise<string | null> {
  const wanted = new Set(names.flatMap((n) => EXTENSIONS.map((e) => `${n}${e}`)));
  const entries = await readdir(dir, { withFileTypes: true });
  const found = entries.filter((e) => e.isFile() && wanted.has(e.name)).map((e) => e.name);
  if (found.length > 1) {
    throw usageError(`${dir}: more than one ${what} split (${found.sort().join(", ")}); name one with ${flag}`);
  }
  return found.length === 1 ? path.join(dir, found[0]) : null;
}

export interface Splits {
  train: string;
  dev: string | null;
}

/**
 * The train and dev files of `finetune`: `--data` is a file (the train
 * split) or a directory holding train.* and dev.* or validation.*;
 * `--train` and `--dev` name files directly and win over the directory's.
 */
export async function findSplits(options: { data?: string; train?: string; dev?: string }): Promise<Splits> {
  const { data, train, dev } = options;
  if (data === undefined) {
    if (train === undefined) {
      throw usageError(
        "--data: required (a data file, or a directory with train and dev splits), unless --train names the file",
      );
    }
    return { train, dev: dev ?? null };
  }
  const kind = await kindOf(data);
  if (kind === null) throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${data}: no such file or directory (--data)`);
  if (kind === "file") {
    if (train !== undefined) throw usageError(`--train: --data ${data} is already the training file; give one of them`);
    return { train: data, dev: dev ?? null };
  }
  const trainFile = train ?? (await findSplit(data, TRAIN_NAMES, "train", "--train"));
  if (trainFile === null) {
    throw new LtgBertError(
      "LTGBERT_FILE_NOT_FOUND",
      `${data}: no train split (looked for ${candidates(TRAIN_NAMES)}); name the file with --train`,
    );
  }
  return { train: trainFile, dev: dev ?? (await findSplit(data, DEV_NAMES, "dev", "--dev")) };
}

/** The file `evaluate` reads: `--data` itself, or a directory's dev split. */
export async function findEvalFile(data: string): Promise<string> {
  const kind = await kindOf(data);
  if (kind !== "directory") return data; // readDataset names a missing file
  const dev = await findSplit(data, DEV_NAMES, "dev", "a file path");
  if (dev === null) {
    throw new LtgBertError(
      "LTGBERT_FILE_NOT_FOUND",
      `${data}: no dev split (looked for ${candidates(DEV_NAMES)}); give the file itself`,
    );
  }
  return dev;
}
