// Labelled datasets: reading CSV, TSV and JSON-lines files into texts and
// integer labels, tokenizing them once, and cutting them into padded
// batches in an order that is a pure function of (seed, epoch).
import { createReadStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { describe, invalidArgument, LtgBertError } from "./errors.js";
import {
  boolean,
  integerIn,
  MAX_LENGTH_EXPECTED,
  nonEmptyString,
  nonNegativeInteger,
  object,
  oneOf,
  positiveInteger,
} from "./validate.js";
import { mix32 } from "./train/mlm.js";
import { badData, checkFile, csvRecords, NUMBER } from "./tasks/io.js";
import type { IdTensor, RaggedEncoding, Tokenizer } from "./tokenizer.js";

export type DatasetFormat = "csv" | "tsv" | "jsonl";

export interface ReadDatasetOptions {
  /** Default: from the extension (.csv, .tsv, .jsonl / .ndjson / .json for JSON lines). */
  format?: DatasetFormat;
  /**
   * The text column. Default: "sentence" or else "text"; when neither is
   * there, the pairs "sentence1"/"sentence2" and "premise"/"hypothesis".
   */
  textColumn?: string;
  /** The second text of pair tasks (NLI, paraphrase). */
  textPairColumn?: string;
  /** Default: "label", or else "labels". */
  labelColumn?: string;
  /**
   * Label name → id, as config.json's label2id. Without it, integer labels
   * are kept as they are, and other labels get ids in sorted order of their
   * names (JavaScript's default string order), so the same names always get
   * the same ids whatever the order of the rows.
   */
  labelMap?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  /** The model's number of labels: a label id outside [0, numLabels) is an error. */
  numLabels?: number;
  /** Take whitespace off both ends of every text (default true; GLUE's TSVs end every sentence with a space). */
  trim?: boolean;
}

/** A labelled dataset in memory. Example i is `texts[i]` (with `pairs[i]`), `labels[i]`. */
export interface Dataset {
  readonly file: string;
  readonly texts: string[];
  /** Second texts, for pair tasks. */
  readonly pairs?: string[];
  readonly labels: Int32Array;
  /** 1-based line of the file where each example starts. */
  readonly lines: Int32Array;
  /** Label names by id: what a model saves as config.json's `id2label`. */
  readonly labelNames: string[];
  readonly size: number;
  readonly textColumn: string;
  readonly textPairColumn?: string;
  readonly labelColumn: string;
}

/** @internal File extensions read as data files, and their formats. */
export const EXTENSIONS: Record<string, DatasetFormat> = {
  ".csv": "csv",
  ".tsv": "tsv",
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".json": "jsonl",
};
/** @internal The text columns looked for when none is named, in order. */
export const TEXT_COLUMNS = ["sentence", "text"];
/** @internal The text-pair columns looked for when none are named, in order. */
export const PAIR_COLUMNS: [string, string][] = [
  ["sentence1", "sentence2"],
  ["premise", "hypothesis"],
];
const LABEL_COLUMNS = ["label", "labels"];

/** One row as read: 1-based start line and the values by column or key. */
interface RawRow {
  line: number;
  get(column: string): unknown;
}

interface Columns {
  text: string;
  pair?: string;
  label: string;
}

/**
 * The text column(s) to read among `present`: `textColumn` where given, else
 * the first of TEXT_COLUMNS present, else the first PAIR_COLUMNS pair present
 * (`textPairColumn`, where given, replaces a default pair's second column);
 * null where none is present. Whether named columns exist is the caller's
 * to check.
 */
export function findTextColumns(
  present: readonly string[],
  textColumn: string | undefined,
  textPairColumn: string | undefined,
): { text: string; pair?: string } | null {
  const has = (c: string): boolean => present.includes(c);
  if (textColumn !== undefined) return { text: textColumn, pair: textPairColumn };
  const single = TEXT_COLUMNS.find(has);
  if (single !== undefined) return { text: single, pair: textPairColumn };
  const found = PAIR_COLUMNS.find(([a, b]) => has(a) && has(b));
  return found === undefined ? null : { text: found[0], pair: textPairColumn ?? found[1] };
}

function chooseColumns(
  file: string,
  present: readonly string[],
  options: ReadDatasetOptions,
  where: string,
  line: number,
): Columns {
  const has = (c: string): boolean => present.includes(c);
  const list = present.map((c) => JSON.stringify(c)).join(", ") || "none";
  const missing = (what: string): LtgBertError =>
    badData(file, line, `no ${what} in the ${where}; its columns: ${list}`);
  const picked = findTextColumns(present, options.textColumn, options.textPairColumn);
  if (picked === null) {
    const tried = [...TEXT_COLUMNS, ...PAIR_COLUMNS.map(([a, b]) => `${a}/${b}`)].map((c) => JSON.stringify(c));
    throw missing(`text column (looked for ${tried.join(", ")}; name it with textColumn)`);
  }
  const { text, pair } = picked;
  if (!has(text)) throw missing(`text column ${JSON.stringify(text)}`);
  if (pair !== undefined && !has(pair)) throw missing(`text pair column ${JSON.stringify(pair)}`);
  const label = options.labelColumn ?? LABEL_COLUMNS.find(has) ?? "label";
  if (!has(label)) throw missing(`label column ${JSON.stringify(label)}`);
  return { text, pair, label };
}

async function* csvRows(
  file: string,
  format: "csv" | "tsv",
  columns: (header: string[], line: number) => Columns,
): AsyncGenerator<RawRow, void, undefined> {
  let header: string[] | null = null;
  for await (const { line, record } of csvRecords(file, format)) {
    if (header === null) {
      header = record;
      const wanted = columns(header, line);
      for (const c of [wanted.text, wanted.pair, wanted.label]) {
        if (c !== undefined && header.indexOf(c) !== header.lastIndexOf(c))
          throw badData(file, line, `column ${JSON.stringify(c)} appears more than once in the header`);
      }
      continue;
    }
    const row = record;
    const names = header;
    yield { line, get: (column) => row[names.indexOf(column)] };
  }
  if (header === null)
    throw badData(file, null, "empty file (expected a header line with the column names, then rows)");
}

async function* jsonlRows(
  file: string,
  columns: (keys: string[], line: number) => Columns,
): AsyncGenerator<RawRow, void, undefined> {
  const source = createReadStream(file, "utf8");
  const lines = createInterface({ input: source, crlfDelay: Infinity });
  let line = 0;
  let wanted: Columns | null = null;
  try {
    for await (const text of lines) {
      line++;
      if (text.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(line === 1 ? text.replace(/^\uFEFF/, "") : text);
      } catch (error) {
        throw badData(file, line, `not valid JSON: ${(error as Error).message}: ${describe(text)}`, error);
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw badData(file, line, `expected a JSON object per line, got ${describe(value)}`);
      }
      const record = value as Record<string, unknown>;
      wanted ??= columns(Object.keys(record), line);
      for (const key of [wanted.text, wanted.pair, wanted.label]) {
        if (key !== undefined && !(key in record)) {
          throw badData(
            file,
            line,
            `no field ${JSON.stringify(key)}; its fields: ${Object.keys(record)
              .map((k) => JSON.stringify(k))
              .join(", ")}`,
          );
        }
      }
      const lineNo = line;
      yield { line: lineNo, get: (key) => record[key] };
    }
  } finally {
    lines.close();
    source.destroy();
  }
}

function checkReadOptions(options: unknown): ReadDatasetOptions {
  const o = object<ReadDatasetOptions>("options", options);
  if (o.format !== undefined) oneOf("options.format", o.format, ["csv", "tsv", "jsonl"]);
  for (const key of ["textColumn", "textPairColumn", "labelColumn"] as const) {
    if (o[key] !== undefined && (typeof o[key] !== "string" || o[key] === ""))
      throw invalidArgument(`options.${key}`, "a column name", o[key]);
  }
  if (o.numLabels !== undefined) positiveInteger("options.numLabels", o.numLabels);
  if (o.trim !== undefined) boolean("options.trim", o.trim);
  return o;
}

/** The labelMap as entries, checked: ids 0..k-1, each once. */
function labelMapEntries(map: ReadDatasetOptions["labelMap"], numLabels: number | undefined): Map<string, number> {
  const entries =
    map instanceof Map ? [...map.entries()] : typeof map === "object" && map !== null ? Object.entries(map) : null;
  if (entries === null || entries.length === 0)
    throw invalidArgument("options.labelMap", "a Map or object of label name → id", map);
  const ids = entries.map(([, id]) => id).sort((a, b) => a - b);
  if (!ids.every((id, i) => id === i))
    throw invalidArgument("options.labelMap", `ids 0 to ${entries.length - 1}, each once`, map);
  if (numLabels !== undefined && entries.length > numLabels)
    throw invalidArgument("options.labelMap", `at most numLabels (${numLabels}) labels`, map);
  return new Map(entries);
}

/**
 * Reads a labelled dataset: CSV or TSV with a header line (through
 * csv-parse), or JSON lines (one object per line).
 *
 * Any problem in the file is an LTGBERT_BAD_DATA error whose message starts
 * with `file:line:` and quotes the value at fault; a missing file is
 * LTGBERT_FILE_NOT_FOUND.
 *
 * @example
 * const train = await readDataset("sst2/train.tsv", { numLabels: 2 });
 * train.size; train.texts[0]; train.labels[0]; train.labelNames; // ["0", "1"]
 */
export async function readDataset(file: string, options: ReadDatasetOptions = {}): Promise<Dataset> {
  nonEmptyString("file", file, "a file path");
  const o = checkReadOptions(options);
  const map = o.labelMap === undefined ? null : labelMapEntries(o.labelMap, o.numLabels);
  const format = o.format ?? EXTENSIONS[path.extname(file).toLowerCase()];
  if (format === undefined) {
    throw invalidArgument(
      "options.format",
      `"csv", "tsv" or "jsonl" (the extension ${JSON.stringify(path.extname(file))} does not say)`,
      o.format,
    );
  }
  await checkFile(file);

  let columns: Columns | null = null;
  const rows =
    format === "jsonl"
      ? jsonlRows(file, (keys, line) => (columns = chooseColumns(file, keys, o, `object on line ${line}`, line)))
      : csvRows(file, format, (header, line) => (columns = chooseColumns(file, header, o, "header", line)));

  const trim = o.trim ?? true;
  const texts: string[] = [];
  const pairs: string[] = [];
  const lines: number[] = [];
  const rawLabels: string[] = [];
  const readText = (row: RawRow, column: string): string => {
    const value = row.get(column);
    if (typeof value !== "string")
      throw badData(file, row.line, `${JSON.stringify(column)}: expected a string, got ${describe(value)}`);
    const text = trim ? value.trim() : value;
    if (text.trim() === "")
      throw badData(file, row.line, `empty text in ${JSON.stringify(column)}: ${describe(value)}`);
    return text;
  };
  for await (const row of rows) {
    const c = columns!;
    texts.push(readText(row, c.text));
    if (c.pair !== undefined) pairs.push(readText(row, c.pair));
    const label = row.get(c.label);
    let name: string;
    if (typeof label === "string") name = label.trim();
    else if (typeof label === "number" && Number.isFinite(label)) name = String(label);
    else
      throw badData(
        file,
        row.line,
        `${JSON.stringify(c.label)}: expected a label (a string or a number), got ${describe(label)}`,
      );
    if (name === "") throw badData(file, row.line, `empty label in ${JSON.stringify(c.label)}: ${describe(label)}`);
    rawLabels.push(name);
    lines.push(row.line);
  }
  if (columns === null || texts.length === 0) throw badData(file, null, "no examples");
  const chosen: Columns = columns;

  const { labels, labelNames } = assignLabels(file, rawLabels, lines, map, o.numLabels);
  return {
    file,
    texts,
    ...(chosen.pair === undefined ? {} : { pairs }),
    labels,
    lines: Int32Array.from(lines),
    labelNames,
    size: texts.length,
    textColumn: chosen.text,
    ...(chosen.pair === undefined ? {} : { textPairColumn: chosen.pair }),
    labelColumn: chosen.label,
  };
}

function assignLabels(
  file: string,
  raw: string[],
  lines: number[],
  map: Map<string, number> | null,
  numLabels: number | undefined,
): { labels: Int32Array; labelNames: string[] } {
  const labels = new Int32Array(raw.length);
  if (map !== null) {
    const known = [...map.keys()].map((k) => JSON.stringify(k)).join(", ");
    raw.forEach((name, i) => {
      const id = map.get(name);
      if (id === undefined)
        throw badData(file, lines[i], `label ${JSON.stringify(name)} is not in labelMap (${known})`);
      labels[i] = id;
    });
    const names = [...map.entries()].sort((a, b) => a[1] - b[1]).map(([name]) => name);
    return { labels, labelNames: names };
  }
  // Numbers are class ids, however spelled ("1", "1.0"): one that is not a
  // whole number in range is an error, not a class name.
  if (raw.every((name) => NUMBER.test(name))) {
    let max = -1;
    raw.forEach((name, i) => {
      const id = Number(name);
      if (!Number.isInteger(id)) {
        throw badData(file, lines[i], `label ${JSON.stringify(name)} is not a whole number, so not a class id`);
      }
      if (id < 0 || (numLabels !== undefined && id >= numLabels) || id > 2 ** 31 - 1) {
        const range = numLabels === undefined ? "[0, 2^31)" : `[0, ${numLabels}) (numLabels ${numLabels})`;
        throw badData(file, lines[i], `label ${JSON.stringify(name)} is outside ${range}`);
      }
      labels[i] = id;
      max = Math.max(max, id);
    });
    const count = numLabels ?? max + 1;
    return { labels, labelNames: Array.from({ length: count }, (_, i) => String(i)) };
  }
  // Names: ids in sorted order of the distinct names.
  const names = [...new Set(raw)].sort();
  const ids = new Map(names.map((name, i) => [name, i]));
  raw.forEach((name, i) => {
    const id = ids.get(name)!;
    if (numLabels !== undefined && id >= numLabels) {
      throw badData(
        file,
        lines[i],
        `label ${JSON.stringify(name)} gets id ${id}, outside [0, ${numLabels}) (numLabels ${numLabels}); the file's labels, in id order: ${names.map((n) => JSON.stringify(n)).join(", ")}`,
      );
    }
    labels[i] = id;
  });
  return { labels, labelNames: names };
}

// ---------------------------------------------------------------------------
// Seeded order

/** The seed of one random stream of one epoch: a pure function of its three inputs. */
function streamSeed(seed: number, epoch: number, stream: number): number {
  return mix32((mix32((mix32(seed) + epoch) >>> 0) + stream) >>> 0);
}

/** Marsaglia's xorshift32, uniform integers in [0, 2^32). */
function xorshift32(seed: number): () => number {
  let s = mix32(seed) || 0x6a09e667; // the state must not be 0
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function checkSeed(name: string, seed: unknown): number {
  return integerIn(name, seed, 0, 0xffffffff, "an integer in [0, 2^32)");
}

/**
 * A seeded Fisher–Yates shuffle of a copy of `values`: the same seed gives
 * the same order on every machine and Node version.
 *
 * @example
 * shuffle([0, 1, 2, 3], 42); // always the same permutation
 */
export function shuffle(values: ArrayLike<number>, seed: number): Int32Array {
  checkSeed("seed", seed);
  const out = Int32Array.from(values);
  const next = xorshift32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor((next() / 2 ** 32) * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

export interface BatchPlanOptions {
  batchSize: number;
  /** Shuffle the examples each epoch (default true). */
  shuffle?: boolean;
  /** Default 42. */
  seed?: number;
  /** The order of epoch e depends on (seed, e) only, so training resumes at (epoch, batch index). Default 0. */
  epoch?: number;
  /**
   * Put examples of similar length together to cut padding (Hugging Face's
   * `group_by_length`). See `planBatches` for the rule.
   */
  groupByLength?: boolean;
  /** Leave out the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
}

function checkPlanOptions(options: unknown): Required<BatchPlanOptions> {
  const o = object<BatchPlanOptions>("options", options);
  positiveInteger("options.batchSize", o.batchSize);
  for (const key of ["shuffle", "groupByLength", "dropLast"] as const) {
    if (o[key] !== undefined) boolean(`options.${key}`, o[key]);
  }
  if (o.epoch !== undefined) nonNegativeInteger("options.epoch", o.epoch);
  return {
    batchSize: o.batchSize,
    shuffle: o.shuffle ?? true,
    seed: checkSeed("options.seed", o.seed ?? 42),
    epoch: o.epoch ?? 0,
    groupByLength: o.groupByLength ?? false,
    dropLast: o.dropLast ?? false,
  };
}

/**
 * The example indices of each batch of one epoch, from the examples'
 * lengths. Pure: the same lengths and options give the same plan.
 *
 * - Order: with `shuffle`, a seeded permutation of the examples, seeded by
 *   (seed, epoch); without, file order.
 * - `groupByLength`: the order is cut into mega-batches of
 *   `m × batchSize` examples, m = min(50, max(1, ⌊n / (4·batchSize)⌋)) as in
 *   Hugging Face's length-grouped sampler; each is sorted by length, longest
 *   first (ties keep their order) and cut into batches. With `shuffle`, the
 *   batches are then put in a seeded order of their own, and the batch that
 *   holds the longest example goes first, so a batch too large for memory
 *   fails at the first step rather than hours in.
 * - The last batch may be smaller, unless `dropLast`.
 */
export function planBatches(lengths: ArrayLike<number>, options: BatchPlanOptions): Int32Array[] {
  const o = checkPlanOptions(options);
  const n = lengths.length;
  const identity = Int32Array.from({ length: n }, (_, i) => i);
  const order = o.shuffle ? shuffle(identity, streamSeed(o.seed, o.epoch, 0)) : identity;
  if (o.groupByLength) {
    const mega = Math.min(50, Math.max(1, Math.floor(n / (4 * o.batchSize)))) * o.batchSize;
    for (let start = 0; start < n; start += mega) {
      const chunk = Array.from(order.subarray(start, Math.min(n, start + mega)));
      chunk.sort((a, b) => lengths[b] - lengths[a]); // stable: ties keep their shuffled order
      order.set(chunk, start);
    }
  }
  let batches: Int32Array[] = [];
  for (let start = 0; start < n; start += o.batchSize) {
    const batch = order.slice(start, Math.min(n, start + o.batchSize));
    if (batch.length < o.batchSize && o.dropLast) break;
    batches.push(batch);
  }
  if (o.groupByLength && o.shuffle && batches.length > 1) {
    const position = shuffle(
      Int32Array.from(batches, (_, i) => i),
      streamSeed(o.seed, o.epoch, 1),
    );
    batches = Array.from(position, (i) => batches[i]);
    let longest = 0;
    let longestLength = -1;
    batches.forEach((batch, i) => {
      for (const index of batch) {
        if (lengths[index] > longestLength) [longest, longestLength] = [i, lengths[index]];
      }
    });
    [batches[0], batches[longest]] = [batches[longest], batches[0]];
  }
  return batches;
}

// ---------------------------------------------------------------------------
// Tokenized datasets and batches

/** A dataset's token ids, one ragged block: example i is `ids.subarray(offsets[i], offsets[i + 1])`. */
export interface EncodedDataset extends RaggedEncoding {
  readonly dataset: Dataset;
  readonly maxLength: number;
}

export interface EncodeDatasetOptions {
  /** The model's `max_position_embeddings`. */
  maxLength: number;
  /** Cut longer examples (default true); with false, one is an LTGBERT_BAD_DATA error naming its line. */
  truncation?: boolean;
}

const encodedCache = new WeakMap<Dataset, WeakMap<Tokenizer, Map<string, Promise<EncodedDataset>>>>();

/**
 * Tokenizes every example of a dataset once (cached per dataset, tokenizer
 * and options) into one Int32Array with offsets.
 */
export async function encodeDataset(
  dataset: Dataset,
  tokenizer: Tokenizer,
  options: EncodeDatasetOptions,
): Promise<EncodedDataset> {
  const { maxLength, truncation = true } = object<EncodeDatasetOptions>("options", options);
  positiveInteger("options.maxLength", maxLength, MAX_LENGTH_EXPECTED);
  boolean("options.truncation", truncation);
  let byTokenizer = encodedCache.get(dataset);
  if (byTokenizer === undefined) encodedCache.set(dataset, (byTokenizer = new WeakMap()));
  let byOptions = byTokenizer.get(tokenizer);
  if (byOptions === undefined) byTokenizer.set(tokenizer, (byOptions = new Map()));
  const key = `${maxLength}/${truncation}`;
  let encoded = byOptions.get(key);
  if (encoded === undefined) {
    encoded = encodeUncached(dataset, tokenizer, maxLength, truncation);
    byOptions.set(key, encoded);
    encoded.catch(() => byOptions.delete(key));
  }
  return encoded;
}

async function encodeUncached(
  dataset: Dataset,
  tokenizer: Tokenizer,
  maxLength: number,
  truncation: boolean,
): Promise<EncodedDataset> {
  if (dataset.size === 0) throw badData(dataset.file, null, "no examples to encode");
  const inputs = dataset.pairs
    ? dataset.texts.map((t, i) => [t, dataset.pairs![i]] as [string, string])
    : dataset.texts;
  // Always encode with truncation, then check what was cut, so the error
  // names the file and line rather than an index in a batch.
  const ragged = await tokenizer.encodeBatch(inputs, { maxLength, truncation: true, padding: "none" });
  if (!truncation) {
    const i = ragged.numTruncated.findIndex((n) => n > 0);
    if (i >= 0) {
      const full = ragged.lengths[i] + ragged.numTruncated[i];
      throw badData(
        dataset.file,
        dataset.lines[i],
        `${full} tokens with the special tokens, more than maxLength ${maxLength}: ${describe(dataset.texts[i])}`,
      );
    }
  }
  return { ...ragged, dataset, maxLength };
}

/** One training or evaluation batch, padded to its longest example. */
export interface Batch {
  /** The examples' indices in the dataset. */
  indices: Int32Array;
  inputIds: IdTensor;
  /** 1 = token, 0 = padding; shape [B, T] with T the longest example of this batch. */
  attentionMask: IdTensor;
  labels: Int32Array;
}

export interface MakeBatchesOptions extends BatchPlanOptions, EncodeDatasetOptions {}

/**
 * One epoch's batches, built when asked for: `length`, `at(i)` and
 * iteration. Resuming at batch k of epoch e is `makeBatches(..., { epoch: e })`
 * and reading from `at(k)`.
 */
export class Batches implements Iterable<Batch> {
  readonly #encoded: EncodedDataset;
  readonly #tokenizer: Tokenizer;
  /** The example indices of each batch. */
  readonly plan: readonly Int32Array[];

  constructor(encoded: EncodedDataset, tokenizer: Tokenizer, plan: Int32Array[]) {
    this.#encoded = encoded;
    this.#tokenizer = tokenizer;
    this.plan = plan;
  }

  get length(): number {
    return this.plan.length;
  }

  at(i: number): Batch {
    integerIn("i", i, 0, this.plan.length - 1, `a batch index in [0, ${this.plan.length})`);
    const indices = this.plan[i];
    const { inputIds, attentionMask } = this.#tokenizer.pad(this.#encoded, indices);
    const labels = Int32Array.from(indices, (index) => this.#encoded.dataset.labels[index]);
    return { indices, inputIds, attentionMask, labels };
  }

  *[Symbol.iterator](): Iterator<Batch> {
    for (let i = 0; i < this.plan.length; i++) yield this.at(i);
  }
}

/**
 * Tokenizes the dataset (once; later calls reuse it) and plans one epoch of
 * batches (see `planBatches`), each padded to its own longest example.
 *
 * @example
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   const batches = await makeBatches(train, tokenizer, { batchSize: 32, maxLength: 512, seed: 42, epoch });
 *   for (const { inputIds, attentionMask, labels } of batches) {
 *     const { loss } = await model.forward({ inputIds, attentionMask, labels });
 *   }
 * }
 */
export async function makeBatches(
  dataset: Dataset,
  tokenizer: Tokenizer,
  options: MakeBatchesOptions,
): Promise<Batches> {
  checkPlanOptions(options);
  const encoded = await encodeDataset(dataset, tokenizer, options);
  return new Batches(encoded, tokenizer, planBatches(encoded.lengths, options));
}
