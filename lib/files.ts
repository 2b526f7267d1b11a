// Reading the small files a model directory holds (config.json, the
// tokenizer's JSON files): regular files only, and bounded in size.
import { constants, type Stats } from "node:fs";
import { open } from "node:fs/promises";
import { describe, LtgBertError } from "./errors.js";

/** What a path that is not a regular file is, for messages. */
export function fileKind(stats: Stats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isSocket()) return "a socket";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  return "not a regular file";
}

/**
 * Reads `file` as UTF-8 when it is a regular file of at most `maxBytes`.
 * Anything else fails with an error whose `code` is "ENOTREG" or "EFBIG" and
 * whose message says what the path is; a missing file fails as `readFile`
 * does (ENOENT). The file is opened without blocking, so a FIFO is refused
 * at once instead of waiting for a writer.
 */
export async function readRegularFile(file: string, maxBytes: number): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw Object.assign(new Error(`not a regular file (${fileKind(stats)})`), { code: "ENOTREG" });
    }
    if (stats.size > maxBytes) {
      throw Object.assign(new Error(`${stats.size} bytes, more than the ${maxBytes} read for such a file`), {
        code: "EFBIG",
      });
    }
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/**
 * Reads and parses `<dir>/config.json` (here, not in config.ts, so that the
 * command line's help reads it without loading the addon).
 */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readRegularFile(file, 64 << 20);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${file}: no such file (a model directory needs a config.json)`);
    }
    throw new LtgBertError("LTGBERT_BAD_CONFIG", `${file}: cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new LtgBertError("LTGBERT_BAD_CONFIG", `${file}: not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new LtgBertError("LTGBERT_BAD_CONFIG", `${file}: expected a JSON object, got ${describe(parsed)}`);
  }
  return parsed as Record<string, unknown>;
}
