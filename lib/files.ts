// Reading the small files a model directory holds (config.json, the
// tokenizer's JSON files): regular files only, and bounded in size.
import { constants, type Stats } from "node:fs";
import { open } from "node:fs/promises";

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
