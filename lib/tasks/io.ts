// What the task readers share: the bad-data error, a file check, a line
// reader, CSV rows with their line numbers, and a JSON parser that remembers
// the line each object starts on, so that an error in a SQuAD file names its
// line as an error in a CSV file does.
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { describe, LtgBertError } from "../errors.js";

/** `file:line: message` as an LTGBERT_BAD_DATA error (no `:line` when line is null); lib/data.ts uses it too. */
export function badData(file: string, line: number | null, message: string, cause?: unknown): LtgBertError {
  return new LtgBertError("LTGBERT_BAD_DATA", `${file}${line === null ? "" : `:${line}`}: ${message}`, { cause });
}

/** LTGBERT_FILE_NOT_FOUND unless `file` is a regular file. */
export async function checkFile(file: string): Promise<void> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${file}: not a file`);
  } catch (error) {
    if (error instanceof LtgBertError) throw error;
    throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${file}: no such file`, { cause: error });
  }
}

/**
 * The lines of a UTF-8 text file with their 1-based numbers, without the line
 * break ("\n" or "\r\n") and without a byte-order mark on line 1.
 */
export async function* readLines(file: string): AsyncGenerator<{ line: number; text: string }, void, undefined> {
  const source = createReadStream(file, "utf8");
  const lines = createInterface({ input: source, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      yield { line, text: line === 1 ? text.replace(/^\uFEFF/, "") : text };
    }
  } catch (error) {
    throw badData(file, null, `cannot be read: ${(error as Error).message}`, error);
  } finally {
    lines.close();
    source.destroy();
  }
}

/** A number however spelled: "1", "1.0", "0.5", "1e3", "-2" (labels in lib/data.ts, scores here). */
export const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function count(fields: string[], pattern: RegExp): number {
  return fields.reduce((n, field) => n + (field.match(pattern)?.length ?? 0), 0);
}

/**
 * The records of a CSV or TSV file with the 1-based line each starts on; the
 * first is the header. CSV follows RFC 4180 (quoted fields may hold commas,
 * quotes and line breaks); TSV is read as GLUE writes it: tab-separated, no
 * quoting, so a `"` is text. A malformed file is LTGBERT_BAD_DATA. lib/data.ts
 * reads its CSV and TSV files through it too.
 */
export async function* csvRecords(
  file: string,
  format: "csv" | "tsv" = "csv",
): AsyncGenerator<{ line: number; record: string[] }, void, undefined> {
  // Loaded here rather than with the package: a process that never reads a
  // CSV keeps it out of its heap (every major collection walks the heap).
  const { CsvError, parse } = await import("csv-parse");
  const source = createReadStream(file);
  const parser = source.pipe(
    parse({
      delimiter: format === "tsv" ? "\t" : ",",
      quote: format === "tsv" ? false : '"',
      bom: true,
      skip_empty_lines: true,
      info: true,
    }),
  );
  let extra = 0;
  let header: number | null = null;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      // info.lines is the line the record ends on, except that csv-parse
      // counts a "\r\n" inside a quoted field as two lines; line breaks
      // inside the fields then give the line the record starts on.
      extra += count(record, /\r\n/g);
      const line = info.lines - extra - count(record, /\r\n|\r|\n/g);
      header ??= record.length;
      yield { line, record };
    }
  } catch (error) {
    if (error instanceof LtgBertError) throw error;
    if (error instanceof CsvError) {
      const at = typeof error.lines === "number" ? error.lines - extra : null;
      const detail =
        error.code === "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH"
          ? `${error.message} (the header has ${header} fields)`
          : error.message;
      throw badData(file, at, `malformed ${format.toUpperCase()}: ${detail}`, error);
    }
    throw badData(file, null, `cannot be read: ${(error as Error).message}`, error);
  } finally {
    source.destroy();
  }
}

// ---------------------------------------------------------------------------
// JSON with line numbers

/** A parsed JSON document and the 1-based line on which each of its objects and arrays starts. */
export interface LocatedJson {
  value: unknown;
  lineOf(node: object): number | null;
}

const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const JSON_SPACE = /[ \t\n\r]*/y;
/** Deeper than any dataset needs; a guard against a stack overflow on hostile input. */
const MAX_JSON_DEPTH = 512;

/**
 * Parses JSON text (RFC 8259) as JSON.parse does, but records where each
 * object and array starts. Strings are decoded by JSON.parse itself, so
 * escapes and surrogate pairs follow it exactly; duplicate keys keep the last
 * value, as JSON.parse keeps it. A syntax error is LTGBERT_BAD_DATA naming
 * the line.
 */
export function parseJsonWithLines(file: string, text: string): LocatedJson {
  const starts = new WeakMap<object, number>();
  const lineStarts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lineStarts.push(i + 1);
  const lineAt = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  let pos = 0;
  const fail = (what: string): never => {
    const found = pos >= text.length ? "the end of the file" : describe(text.slice(pos, pos + 20));
    throw badData(file, lineAt(Math.min(pos, text.length)), `not valid JSON: expected ${what}, found ${found}`);
  };
  const space = (): void => {
    JSON_SPACE.lastIndex = pos;
    JSON_SPACE.test(text);
    pos = JSON_SPACE.lastIndex;
  };
  const string = (): string => {
    const start = pos;
    let i = pos + 1;
    for (;;) {
      const quote = text.indexOf('"', i);
      if (quote < 0) {
        pos = start;
        return fail("a closing quote for this string");
      }
      let backslashes = 0;
      for (let j = quote - 1; text.charCodeAt(j) === 0x5c; j--) backslashes++;
      i = quote + 1;
      if (backslashes % 2 === 0) break;
    }
    try {
      pos = i;
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      pos = start;
      return fail("a string (a control character or a bad escape in it)");
    }
  };
  const value = (depth: number): unknown => {
    if (depth > MAX_JSON_DEPTH) fail(`at most ${MAX_JSON_DEPTH} levels of nesting`);
    space();
    const c = text[pos];
    if (c === "{") {
      const node: Record<string, unknown> = {};
      starts.set(node, pos);
      pos++;
      space();
      if (text[pos] === "}") {
        pos++;
        return node;
      }
      for (;;) {
        space();
        if (text[pos] !== '"') fail("a key (a string)");
        const key = string();
        space();
        if (text[pos] !== ":") fail('":"');
        pos++;
        const item = value(depth + 1);
        // A plain assignment of "__proto__" would set the prototype.
        Object.defineProperty(node, key, { value: item, enumerable: true, writable: true, configurable: true });
        space();
        if (text[pos] === ",") pos++;
        else if (text[pos] === "}") {
          pos++;
          return node;
        } else fail('"," or "}"');
      }
    }
    if (c === "[") {
      const node: unknown[] = [];
      starts.set(node, pos);
      pos++;
      space();
      if (text[pos] === "]") {
        pos++;
        return node;
      }
      for (;;) {
        node.push(value(depth + 1));
        space();
        if (text[pos] === ",") pos++;
        else if (text[pos] === "]") {
          pos++;
          return node;
        } else fail('"," or "]"');
      }
    }
    if (c === '"') return string();
    for (const [word, literal] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return literal;
      }
    }
    JSON_NUMBER.lastIndex = pos;
    const match = JSON_NUMBER.exec(text);
    if (match === null) return fail("a JSON value");
    pos += match[0].length;
    return Number(match[0]);
  };
  const parsed = value(0);
  space();
  if (pos < text.length) fail("the end of the JSON text");
  return {
    value: parsed,
    lineOf: (node) => {
      const offset = starts.get(node);
      return offset === undefined ? null : lineAt(offset);
    },
  };
}

/** Reads a UTF-8 JSON file (a byte-order mark is allowed) with parseJsonWithLines. */
export async function readJsonWithLines(file: string): Promise<LocatedJson> {
  await checkFile(file);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw badData(file, null, `cannot be read: ${(error as Error).message}`, error);
  }
  return parseJsonWithLines(file, text.replace(/^\uFEFF/, ""));
}
