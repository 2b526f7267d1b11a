// The texts `predict` classifies: a plain file (one text per line), a data
// file's text column(s) (CSV, TSV, JSON lines; labels not needed), or stdin.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { parse } from "csv-parse/sync";
import { EXTENSIONS as DATA_EXTENSIONS, findTextColumns } from "../data.js";
import { describe, LtgBertError } from "../errors.js";
import type { TextInput } from "../tokenizer.js";

export interface TextColumns {
  textColumn?: string;
  textPairColumn?: string;
}

function badData(file: string, line: number | null, message: string): LtgBertError {
  return new LtgBertError("LTGBERT_BAD_DATA", `${file}${line === null ? "" : `:${line}`}: ${message}`);
}

/** The text column(s) among `present`, as readDataset picks them. */
function pickColumns(file: string, present: string[], options: TextColumns): { text: string; pair?: string } {
  const has = (c: string): boolean => present.includes(c);
  const listed = present.map((c) => JSON.stringify(c)).join(", ") || "none";
  const picked = findTextColumns(present, options.textColumn, options.textPairColumn);
  if (picked === null) {
    throw badData(
      file,
      1,
      `no text column (looked for "sentence", "text", "sentence1"/"sentence2", "premise"/"hypothesis"; name it with --text-column); its columns: ${listed}`,
    );
  }
  const { text, pair } = picked;
  for (const [flag, column] of [
    ["--text-column", text],
    ["--text-pair-column", pair],
  ] as const) {
    if (column !== undefined && !has(column))
      throw badData(file, 1, `no column ${JSON.stringify(column)} (${flag}); its columns: ${listed}`);
  }
  return { text, pair };
}

function textOf(file: string, line: number, value: unknown, column: string): string {
  if (typeof value !== "string" || value.trim() === "")
    throw badData(file, line, `${JSON.stringify(column)}: expected a non-empty text, got ${describe(value)}`);
  return value.trim();
}

/** Reads the texts of `file`: a data file's text column, else one text per non-empty line. */
export async function readTexts(file: string, options: TextColumns): Promise<TextInput[]> {
  let content: string;
  try {
    content = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const what = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a directory, not a file" : String(error);
    throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${file}: ${what} (--file)`, { cause: error });
  }
  content = content.replace(/^\uFEFF/, "");
  const format = DATA_EXTENSIONS[path.extname(file).toLowerCase()];
  if (format === undefined) {
    return content
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "");
  }
  if (format === "jsonl") {
    const out: TextInput[] = [];
    let columns: { text: string; pair?: string } | null = null;
    content.split(/\r?\n/).forEach((text, i) => {
      if (text.trim() === "") return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw badData(file, i + 1, `not valid JSON: ${(error as Error).message}`);
      }
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw badData(file, i + 1, `expected a JSON object per line, got ${describe(value)}`);
      const record = value as Record<string, unknown>;
      columns ??= pickColumns(file, Object.keys(record), options);
      const first = textOf(file, i + 1, record[columns.text], columns.text);
      out.push(columns.pair === undefined ? first : [first, textOf(file, i + 1, record[columns.pair], columns.pair)]);
    });
    return out;
  }
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(content, {
      delimiter: format === "tsv" ? "\t" : ",",
      quote: format === "tsv" ? false : '"',
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    throw badData(file, null, `malformed ${format.toUpperCase()}: ${(error as Error).message}`);
  }
  if (rows.length === 0) throw badData(file, null, "empty file (expected a header line with the column names)");
  const [{ record: header }, ...body] = rows;
  const columns = pickColumns(file, header, options);
  const textAt = header.indexOf(columns.text);
  const pairAt = columns.pair === undefined ? -1 : header.indexOf(columns.pair);
  // info.lines is the line a record ends on: the line of the error for one-line records.
  return body.map(({ record, info }) => {
    const first = textOf(file, info.lines, record[textAt], columns.text);
    return pairAt < 0 ? first : ([first, textOf(file, info.lines, record[pairAt], columns.pair!)] as const);
  });
}

/** Reads stdin to its end, one text per non-empty line. */
export async function readLines(input: NodeJS.ReadableStream): Promise<string[]> {
  const out: string[] = [];
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    const text = line.trim();
    if (text !== "") out.push(text);
  }
  return out;
}
