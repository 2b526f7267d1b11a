// The tokenizer: Hugging Face's `tokenizers` library (its Node binding) does
// all the tokenizing; this file reads the files, finds the special tokens,
// and packs the library's encodings into the typed arrays the model takes.
import { stat } from "node:fs/promises";
import path from "node:path";
import {
  BPE,
  byteLevelPreTokenizer,
  digitsPreTokenizer,
  lowercase,
  sequenceNormalizer,
  sequencePreTokenizer,
  stripNormalizer,
  Tokenizer as HfTokenizer,
  templateProcessing,
  type Encoding,
  type TruncationStrategy,
} from "tokenizers";
import { defaultModelHint } from "./default-model.js";
import { describe, invalidArgument, LtgBertError } from "./errors.js";
import {
  boolean,
  integerIn,
  isInteger,
  MAX_LENGTH_EXPECTED,
  nonEmptyString,
  object,
  oneOf,
  positiveInteger,
  string,
  textFiles,
} from "./validate.js";
import { readRegularFile } from "./files.js";
import { makeDirectory, writeFileAtomic } from "./save.js";

/** One input of a batch: a text, or a pair of texts (`[CLS] A [SEP] B [SEP]`). */
export type TextInput = string | readonly [string, string];

/** Token ids or a mask as the model takes them: row-major, shape [B, T]. */
export interface IdTensor {
  data: Int32Array;
  shape: [number, number];
}

export interface EncodeOptions {
  /**
   * The most tokens a sequence may have, [CLS] and [SEP] included: the
   * model's `max_position_embeddings`. Default: `model_max_length` from
   * tokenizer_config.json, else no limit.
   */
  maxLength?: number;
  /**
   * Cut sequences longer than `maxLength` (default true); pairs lose tokens
   * from the longer text first. With false, a longer sequence is an
   * LTGBERT_INVALID_ARGUMENT error.
   */
  truncation?: boolean;
}

export interface EncodeBatchOptions extends EncodeOptions {
  /**
   * "longest" (default): rows padded with the pad token to the batch's
   * longest sequence, as a [B, T] matrix. "none": no padding; the ids of all
   * rows one after the other, with offsets.
   */
  padding?: "longest" | "none";
}

/** A padded batch, ready for `model.forward({ inputIds, attentionMask })`. */
export interface BatchEncoding {
  inputIds: IdTensor;
  /** 1 = token, 0 = padding. */
  attentionMask: IdTensor;
  /** Tokens in each row, special tokens included. */
  lengths: Int32Array;
  /** Tokens that truncation cut from each row (0 where nothing was cut). */
  numTruncated: Int32Array;
}

/** An unpadded batch: row i is `ids.subarray(offsets[i], offsets[i + 1])`. */
export interface RaggedEncoding {
  ids: Int32Array;
  /** B + 1 offsets into `ids`. */
  offsets: Int32Array;
  lengths: Int32Array;
  numTruncated: Int32Array;
}

/**
 * Where each token of a padded batch came from. Row-major [B, T] like
 * `inputIds`; special tokens and padding have word and sequence id -1 (where
 * Python's `word_ids()` and `sequence_ids()` give None) and offsets [0, 0].
 */
export interface TokenDetails {
  /**
   * The index of the word each token belongs to, counted from 0 in its own
   * text (the second text of a pair counts from 0 again). A word is a piece
   * the tokenizer's pre-tokenizer splits off, so the subwords of one word
   * share an id (Python's `word_ids()`). For the byte-level LTG-BERT
   * tokenizers a word is a run of letters with the space before it, a run
   * of punctuation, a single digit, or a contraction such as "'s".
   */
  wordIds: IdTensor;
  /** 0 for a token of the first text, 1 for one of the second text of a pair. */
  sequenceIds: IdTensor;
  /**
   * [B, T, 2]: the start and end of each token in its own text (the first or
   * second of a pair, as `sequenceIds` says), as JavaScript string indices:
   * UTF-16 code units, so `text.slice(start, end)` is the text the token came
   * from. A character outside the Basic Multilingual Plane (an emoji) counts
   * 2, as in `text.length`; Python's `tokenizers` counts code points instead.
   * Tokens that split one character's bytes (byte-level tokenizers) each
   * span the whole character. The span is of the original text, before the
   * normalizer (lowercasing, accent stripping) ran.
   */
  charOffsets: { data: Int32Array; shape: [number, number, 2] };
}

/** A padded batch with the origin of every token. */
export interface DetailedBatchEncoding extends BatchEncoding, TokenDetails {}

/**
 * An unpadded batch with the origin of every token: token j of row i is at
 * index `offsets[i] + j` of `ids`, `wordIds` and `sequenceIds`, and its
 * character span at `2 * (offsets[i] + j)` of `charOffsets`.
 */
export interface DetailedRaggedEncoding extends RaggedEncoding {
  wordIds: Int32Array;
  sequenceIds: Int32Array;
  charOffsets: Int32Array;
}

/** The special-token names LTG-BERT needs, with the names its tokenizers use. */
const DEFAULT_SPECIAL = { unk: "[UNK]", cls: "[CLS]", sep: "[SEP]", pad: "[PAD]", mask: "[MASK]" } as const;
type SpecialRole = keyof typeof DEFAULT_SPECIAL;
const ROLES = Object.keys(DEFAULT_SPECIAL) as SpecialRole[];

// Hugging Face writes model_max_length = int(1e30) when a tokenizer has no
// limit; anything this large means "none".
const NO_LIMIT_SENTINEL = 1e12;

async function readJson(file: string, required: boolean, hint = ""): Promise<{ text: string; value: unknown } | null> {
  let text: string;
  try {
    text = await readRegularFile(file, 1 << 30);
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno === "ENOENT" || errno === "ENOTDIR") {
      if (!required) return null;
      throw new LtgBertError(
        "LTGBERT_FILE_NOT_FOUND",
        `${file}: no such file (a tokenizer needs a tokenizer.json)${hint}`,
        {
          cause: error,
        },
      );
    }
    throw new LtgBertError("LTGBERT_BAD_CONFIG", `${file}: cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return { text, value: JSON.parse(text) };
  } catch (error) {
    throw new LtgBertError("LTGBERT_BAD_CONFIG", `${file}: not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A special token as tokenizer_config.json writes it: a string or `{ content }`. */
function tokenContent(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (isObject(value) && typeof value.content === "string") return value.content;
  return null;
}

function checkOptions(options: unknown, batch: boolean): void {
  const { maxLength, truncation, padding } = object<EncodeBatchOptions>("options", options);
  if (maxLength !== undefined) positiveInteger("options.maxLength", maxLength, MAX_LENGTH_EXPECTED);
  if (truncation !== undefined) boolean("options.truncation", truncation);
  if (batch && padding !== undefined) oneOf("options.padding", padding, ["longest", "none"]);
}

function checkInputs(texts: unknown): TextInput[] {
  if (!Array.isArray(texts) || texts.length === 0) {
    throw invalidArgument("texts", "a non-empty array of strings or [string, string] pairs", texts);
  }
  texts.forEach((t, i) => {
    const pair = Array.isArray(t) && t.length === 2 && typeof t[0] === "string" && typeof t[1] === "string";
    if (typeof t !== "string" && !pair) throw invalidArgument(`texts[${i}]`, "a string or a [string, string] pair", t);
  });
  return texts as TextInput[];
}

/**
 * LTG-BERT's tokenizer, read from a model directory's `tokenizer.json` and
 * run by Hugging Face's `tokenizers` library, so ids equal Python's.
 *
 * Sequences are `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]` as the file's
 * post-processor defines them; a file whose post-processor adds no [CLS]
 * and [SEP] (the BabyLM 10M tokenizer) gets that template, since the model
 * reads its prediction off the first token.
 *
 * @example
 * const tok = await Tokenizer.fromPretrained("ltg-bert-babylm/");
 * const { inputIds, attentionMask } = await tok.encodeBatch(["a film", "a dull film"], { maxLength: 512 });
 * const out = await model.forward({ inputIds, attentionMask });
 */
export class Tokenizer {
  /** The `tokenizer.json` this tokenizer was read from. */
  readonly file: string;
  readonly unkTokenId: number;
  readonly clsTokenId: number;
  readonly sepTokenId: number;
  /** From the tokenizer, not config.json (hub configs give [MASK]'s id as pad_token_id). */
  readonly padTokenId: number;
  readonly maskTokenId: number;
  /** Every id the tokenizer marks special: the five above and any other added special token. */
  readonly specialTokenIds: ReadonlySet<number>;
  /** Vocabulary size, added tokens included. */
  readonly vocabSize: number;
  /** `model_max_length` from tokenizer_config.json; null when absent or "no limit". */
  readonly modelMaxLength: number | null;
  /** Whether tokenizer.json's normalizer lowercases every input. */
  readonly lowercase: boolean;

  readonly #setup: Setup;
  /** One library tokenizer per maxLength, each set up once and never changed, so concurrent calls cannot race. */
  readonly #truncating = new Map<number, HfTokenizer>();

  private constructor(setup: Setup) {
    this.#setup = setup;
    this.file = setup.file;
    this.unkTokenId = setup.ids.unk;
    this.clsTokenId = setup.ids.cls;
    this.sepTokenId = setup.ids.sep;
    this.padTokenId = setup.ids.pad;
    this.maskTokenId = setup.ids.mask;
    this.specialTokenIds = setup.special;
    this.vocabSize = setup.plain.getVocabSize(true);
    this.modelMaxLength = setup.modelMaxLength;
    this.lowercase = setup.lowercase;
  }

  /**
   * Reads `dir/tokenizer.json`, and `dir/tokenizer_config.json` and
   * `dir/special_tokens_map.json` when present (special-token names,
   * `model_max_length`; tokenizer_config.json wins where both say).
   */
  static async fromPretrained(dir: string): Promise<Tokenizer> {
    nonEmptyString("dir", dir, "a directory path");
    const file = path.join(dir, "tokenizer.json");
    const main = (await readJson(file, true, defaultModelHint(dir)))!;
    if (!isObject(main.value)) {
      throw new LtgBertError("LTGBERT_BAD_CONFIG", `${file}: expected a JSON object, got ${describe(main.value)}`);
    }
    const extra: Record<string, unknown> = {};
    for (const name of ["special_tokens_map.json", "tokenizer_config.json"]) {
      const side = path.join(dir, name);
      const read = await readJson(side, false);
      if (read === null) continue;
      if (!isObject(read.value)) {
        throw new LtgBertError("LTGBERT_BAD_CONFIG", `${side}: expected a JSON object, got ${describe(read.value)}`);
      }
      Object.assign(extra, read.value);
    }
    return new Tokenizer(await setUp(file, main.text, main.value, extra));
  }

  /** The id of `token`, or null when the vocabulary lacks it. */
  tokenToId(token: string): number | null {
    return this.#setup.plain.tokenToId(token) ?? null;
  }

  /** The token of `id`, or null when out of range. */
  idToToken(id: number): string | null {
    return this.#setup.plain.idToToken(id) ?? null;
  }

  /**
   * The ids of one text or pair, special tokens included.
   *
   * @example
   * await tok.encode("Hello world"); // [1, 9439, 85, 955, 2] with the BabyLM tokenizer
   */
  async encode(text: string, pair?: string, options: EncodeOptions = {}): Promise<number[]> {
    string("text", text);
    if (pair !== undefined) string("pair", pair);
    checkOptions(options, false);
    const { ids } = await this.#encode([pair === undefined ? text : [text, pair]], options, "text", false);
    return Array.from(ids);
  }

  /**
   * Encodes a batch with the library's `encodeBatch` (in parallel, off the
   * event loop), truncates to `maxLength` and pads to the longest row.
   *
   * @example
   * const batch = await tok.encodeBatch([["a man plays", "someone plays"]], { maxLength: 512 });
   * batch.inputIds.shape; // [1, T]
   */
  async encodeBatch(
    texts: readonly TextInput[],
    options?: EncodeOptions & { padding?: "longest" },
  ): Promise<BatchEncoding>;
  async encodeBatch(texts: readonly TextInput[], options: EncodeOptions & { padding: "none" }): Promise<RaggedEncoding>;
  async encodeBatch(
    texts: readonly TextInput[],
    options: EncodeBatchOptions = {},
  ): Promise<BatchEncoding | RaggedEncoding> {
    const inputs = checkInputs(texts);
    checkOptions(options, true);
    const ragged = await this.#encode(inputs, options, "texts", false);
    return options.padding === "none" ? ragged : this.pad(ragged);
  }

  /**
   * `encodeBatch`, and where every token came from: the word of its text it
   * belongs to, which text of a pair, and its span in that text as
   * JavaScript string indices (see `TokenDetails`). What labelling words
   * (token classification) and finding answers in a text (question
   * answering) need. Truncation and padding as `encodeBatch`.
   *
   * @example
   * const b = await tok.encodeBatchWithDetails(["Naïve café"]);
   * const [start, end] = b.charOffsets.data.subarray(2, 4); // token 1 (after [CLS])
   * "Naïve café".slice(start, end); // the text of token 1
   * b.wordIds.data; // Int32Array [-1, 0, 0, …, 1, …, -1]: -1 for [CLS], [SEP] and padding
   */
  async encodeBatchWithDetails(
    texts: readonly TextInput[],
    options?: EncodeOptions & { padding?: "longest" },
  ): Promise<DetailedBatchEncoding>;
  async encodeBatchWithDetails(
    texts: readonly TextInput[],
    options: EncodeOptions & { padding: "none" },
  ): Promise<DetailedRaggedEncoding>;
  async encodeBatchWithDetails(
    texts: readonly TextInput[],
    options: EncodeBatchOptions = {},
  ): Promise<DetailedBatchEncoding | DetailedRaggedEncoding> {
    const inputs = checkInputs(texts);
    checkOptions(options, true);
    const ragged = (await this.#encode(inputs, options, "texts", true)) as DetailedRaggedEncoding;
    return options.padding === "none" ? ragged : this.pad(ragged);
  }

  /**
   * The ids of each text with no special tokens added and nothing cut, one
   * after the other: text i is `ids.subarray(offsets[i], offsets[i + 1])`.
   * What a masked-LM corpus packs into sequences of its own.
   *
   * @example
   * const { ids, offsets } = await tok.encodeWithoutSpecialTokens(["Hello world", "again"]);
   */
  async encodeWithoutSpecialTokens(texts: readonly string[]): Promise<{ ids: Int32Array; offsets: Int32Array }> {
    if (!Array.isArray(texts)) throw invalidArgument("texts", "an array of strings", texts);
    texts.forEach((t, i) => {
      if (typeof t !== "string") throw invalidArgument(`texts[${i}]`, "a string", t);
    });
    const offsets = new Int32Array(texts.length + 1);
    if (texts.length === 0) return { ids: new Int32Array(0), offsets };
    let raw: Encoding[];
    try {
      raw = await this.#setup.plain.encodeBatch(texts as string[], { addSpecialTokens: false });
    } catch (error) {
      throw new LtgBertError(
        "LTGBERT_INTERNAL",
        `${this.file}: the tokenizers library failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    raw.forEach((e, i) => (offsets[i + 1] = offsets[i] + e.getLength()));
    const ids = new Int32Array(offsets[texts.length]);
    raw.forEach((e, i) => ids.set(e.getIds(), offsets[i]));
    return { ids, offsets };
  }

  /**
   * Pads rows of a ragged encoding (all, or those listed in `rows`, in that
   * order) with `padTokenId` to the longest of them; the details of a
   * detailed encoding come along, padded with -1 (word and sequence ids)
   * and [0, 0] (character offsets).
   */
  pad(ragged: DetailedRaggedEncoding, rows?: ArrayLike<number>): DetailedBatchEncoding;
  pad(ragged: RaggedEncoding, rows?: ArrayLike<number>): BatchEncoding;
  pad(ragged: RaggedEncoding | DetailedRaggedEncoding, rows?: ArrayLike<number>): BatchEncoding {
    const { ids, offsets } = ragged;
    const count = rows === undefined ? offsets.length - 1 : rows.length;
    const row = (i: number): number => (rows === undefined ? i : rows[i]);
    let width = 0;
    for (let i = 0; i < count; i++) width = Math.max(width, ragged.lengths[row(i)]);
    const data = new Int32Array(count * width).fill(this.padTokenId);
    const mask = new Int32Array(count * width);
    const lengths = new Int32Array(count);
    const numTruncated = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const r = row(i);
      const n = ragged.lengths[r];
      data.set(ids.subarray(offsets[r], offsets[r] + n), i * width);
      mask.fill(1, i * width, i * width + n);
      lengths[i] = n;
      numTruncated[i] = ragged.numTruncated[r];
    }
    const batch: BatchEncoding = {
      inputIds: { data, shape: [count, width] },
      attentionMask: { data: mask, shape: [count, width] },
      lengths,
      numTruncated,
    };
    if (!("wordIds" in ragged)) return batch;
    const wordIds = new Int32Array(count * width).fill(-1);
    const sequenceIds = new Int32Array(count * width).fill(-1);
    const charOffsets = new Int32Array(count * width * 2);
    for (let i = 0; i < count; i++) {
      const from = offsets[row(i)];
      const to = from + lengths[i];
      wordIds.set(ragged.wordIds.subarray(from, to), i * width);
      sequenceIds.set(ragged.sequenceIds.subarray(from, to), i * width);
      charOffsets.set(ragged.charOffsets.subarray(2 * from, 2 * to), 2 * i * width);
    }
    const detailed: DetailedBatchEncoding = {
      ...batch,
      wordIds: { data: wordIds, shape: [count, width] },
      sequenceIds: { data: sequenceIds, shape: [count, width] },
      charOffsets: { data: charOffsets, shape: [count, width, 2] },
    };
    return detailed;
  }

  /**
   * The text of `ids`, as the tokenizer's decoder gives it (the BabyLM
   * tokenizer's byte-level decoder keeps the space it put before the first
   * word). Special tokens are left out unless `skipSpecialTokens` is false.
   */
  async decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): Promise<string> {
    const list = Array.from(ids as ArrayLike<unknown>);
    list.forEach((id, i) => {
      if (!Number.isInteger(id) || (id as number) < 0) throw invalidArgument(`ids[${i}]`, "a token id", id);
    });
    return this.#setup.plain.decode(list as number[], options.skipSpecialTokens ?? true);
  }

  async #encode(
    inputs: readonly TextInput[],
    options: EncodeOptions,
    name: string,
    details: boolean,
  ): Promise<RaggedEncoding | DetailedRaggedEncoding> {
    const { plain, addedSingle, addedPair } = this.#setup;
    const maxLength = options.maxLength ?? this.modelMaxLength;
    const truncation = options.truncation ?? true;
    const hasPair = inputs.some((t) => typeof t !== "string");
    if (maxLength !== null) {
      // The library leaves a sequence uncut when the limit leaves no room for text.
      const added = hasPair ? addedPair : addedSingle;
      if (maxLength <= added) {
        throw invalidArgument(
          "options.maxLength",
          `more than the ${added} special tokens of a ${hasPair ? "pair" : "text"}`,
          maxLength,
        );
      }
    }
    // Every text, first and second, goes through the library's batch encoder
    // without special tokens; the post-processor then adds them and, under a
    // limit, truncates a pair jointly (longest first), as the library's own
    // encode(a, b) does. (Its encodeBatch takes no pairs in Node.)
    const flat: string[] = [];
    for (const t of inputs) {
      if (typeof t === "string") flat.push(t);
      else flat.push(t[0], t[1]);
    }
    let raw: Encoding[];
    try {
      raw = await plain.encodeBatch(flat, { addSpecialTokens: false });
    } catch (error) {
      throw new LtgBertError(
        "LTGBERT_INTERNAL",
        `${this.file}: the tokenizers library failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const processor = truncation && maxLength !== null ? this.#truncatingFor(maxLength) : plain;
    const rows: number[][] = [];
    const origins: Origin[] = [];
    const numTruncated = new Int32Array(inputs.length);
    let k = 0;
    for (let i = 0; i < inputs.length; i++) {
      const isPair = typeof inputs[i] !== "string";
      const first = raw[k++];
      const second = isPair ? raw[k++] : null;
      const full = first.getLength() + (second?.getLength() ?? 0) + (isPair ? addedPair : addedSingle);
      if (!truncation && maxLength !== null && full > maxLength) {
        throw new LtgBertError(
          "LTGBERT_INVALID_ARGUMENT",
          `${name}[${i}]: ${full} tokens with the special tokens, more than maxLength ${maxLength} (pass truncation: true to cut it)`,
        );
      }
      let encoding: Encoding;
      try {
        encoding = processor.postProcess(first, second, true);
      } catch (error) {
        throw new LtgBertError("LTGBERT_INVALID_ARGUMENT", `${name}[${i}]: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const ids = encoding.getIds();
      if (maxLength !== null && ids.length > maxLength) {
        throw new LtgBertError(
          "LTGBERT_INTERNAL",
          `${name}[${i}]: the tokenizers library kept ${ids.length} tokens, more than maxLength ${maxLength}`,
        );
      }
      numTruncated[i] = full - ids.length;
      rows.push(ids);
      if (details) origins.push(originOf(encoding, inputs[i]));
    }
    const offsets = new Int32Array(rows.length + 1);
    rows.forEach((r, i) => (offsets[i + 1] = offsets[i] + r.length));
    const ids = new Int32Array(offsets[rows.length]);
    rows.forEach((r, i) => ids.set(r, offsets[i]));
    const ragged: RaggedEncoding = { ids, offsets, lengths: Int32Array.from(rows, (r) => r.length), numTruncated };
    if (!details) return ragged;
    const wordIds = new Int32Array(ids.length);
    const sequenceIds = new Int32Array(ids.length);
    const charOffsets = new Int32Array(2 * ids.length);
    origins.forEach((o, i) => {
      wordIds.set(o.wordIds, offsets[i]);
      sequenceIds.set(o.sequenceIds, offsets[i]);
      charOffsets.set(o.charOffsets, 2 * offsets[i]);
    });
    return { ...ragged, wordIds, sequenceIds, charOffsets };
  }

  #truncatingFor(maxLength: number): HfTokenizer {
    let tok = this.#truncating.get(maxLength);
    if (tok === undefined) {
      tok = libraryTokenizer(this.#setup.json, this.#setup.template);
      tok.setTruncation(maxLength, { strategy: "LongestFirst" as TruncationStrategy });
      this.#truncating.set(maxLength, tok);
    }
    return tok;
  }
}

/** One row's details, before the batch is packed. */
interface Origin {
  wordIds: Int32Array;
  sequenceIds: Int32Array;
  charOffsets: Int32Array;
}

/** Whether a string holds a UTF-16 surrogate: a character that takes two code units. */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Code-point index → UTF-16 index of `text`, or null where the two agree
 * (no character outside the Basic Multilingual Plane).
 */
function utf16Positions(text: string): Int32Array | null {
  if (!SURROGATE.test(text)) return null;
  const positions: number[] = [];
  let unit = 0;
  for (const char of text) {
    positions.push(unit);
    unit += char.length;
  }
  positions.push(unit);
  return Int32Array.from(positions);
}

/**
 * The word ids, sequence ids and character offsets of a post-processed
 * encoding. The library reports offsets in code points (as Python does);
 * they become UTF-16 indices of the text of their sequence.
 */
function originOf(encoding: Encoding, input: TextInput): Origin {
  const words = encoding.getWordIds();
  const sequences = encoding.getSequenceIds();
  const special = encoding.getSpecialTokensMask();
  const spans = encoding.getOffsets();
  const n = words.length;
  const texts = typeof input === "string" ? [input] : input;
  const positions = texts.map(utf16Positions);
  const wordIds = new Int32Array(n);
  const sequenceIds = new Int32Array(n);
  const charOffsets = new Int32Array(2 * n);
  for (let t = 0; t < n; t++) {
    // The library's post-processor marks only the second text of a pair
    // (the first text's encoding comes from encodeBatch with no sequence
    // range); every token it did not add ([CLS], [SEP]) and leaves unmarked
    // is of the first text.
    const sequence = sequences[t] ?? (special[t] === 1 ? -1 : 0);
    wordIds[t] = words[t] ?? -1;
    sequenceIds[t] = sequence;
    if (sequence < 0) continue;
    const map = positions[sequence];
    const [start, end] = spans[t];
    charOffsets[2 * t] = map === null ? start : map[Math.min(start, map.length - 1)];
    charOffsets[2 * t + 1] = map === null ? end : map[Math.min(end, map.length - 1)];
  }
  return { wordIds, sequenceIds, charOffsets };
}

interface Setup {
  file: string;
  json: string;
  /** The [CLS]/[SEP] template to install, when the file's post-processor adds neither. */
  template: Template | null;
  /** No truncation, no padding. */
  plain: HfTokenizer;
  ids: Record<SpecialRole, number>;
  special: Set<number>;
  modelMaxLength: number | null;
  lowercase: boolean;
  /** Special tokens the post-processor adds to a text and to a pair. */
  addedSingle: number;
  addedPair: number;
}

interface Template {
  cls: [string, number];
  sep: [string, number];
}

/** A library tokenizer from the file's JSON: padding and truncation off, the template on if needed. */
function libraryTokenizer(json: string, template: Template | null): HfTokenizer {
  const tok = HfTokenizer.fromString(json);
  tok.disablePadding();
  tok.disableTruncation();
  if (template !== null) {
    const [cls, sep] = [template.cls[0], template.sep[0]];
    tok.setPostProcessor(
      templateProcessing(`${cls} $A ${sep}`, `${cls} $A ${sep} $B:1 ${sep}:1`, [template.cls, template.sep]),
    );
  }
  return tok;
}

/** Whether a tokenizer.json normalizer lowercases: `Lowercase`, a lowercasing `BertNormalizer`, or a `Sequence` holding one. */
function lowercases(normalizer: unknown): boolean {
  if (!isObject(normalizer)) return false;
  if (normalizer.type === "Lowercase") return true;
  if (normalizer.type === "BertNormalizer") return normalizer.lowercase === true;
  if (normalizer.type === "Sequence" && Array.isArray(normalizer.normalizers))
    return normalizer.normalizers.some(lowercases);
  return false;
}

async function setUp(
  file: string,
  json: string,
  parsed: Record<string, unknown>,
  extra: Record<string, unknown>,
): Promise<Setup> {
  let plain: HfTokenizer;
  try {
    plain = libraryTokenizer(json, null);
  } catch (error) {
    throw new LtgBertError(
      "LTGBERT_BAD_CONFIG",
      `${file}: the tokenizers library cannot load it: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const names = { ...DEFAULT_SPECIAL } as Record<SpecialRole, string>;
  for (const role of ROLES) {
    const named = tokenContent(extra[`${role}_token`]);
    if (named !== null) names[role] = named;
  }
  const ids = {} as Record<SpecialRole, number>;
  for (const role of ROLES) {
    const id = plain.tokenToId(names[role]);
    if (id === null || id === undefined) {
      throw new LtgBertError(
        "LTGBERT_BAD_CONFIG",
        `${file}: no ${JSON.stringify(names[role])} token in the vocabulary (LTG-BERT needs ${ROLES.map((r) => names[r]).join(", ")})`,
      );
    }
    ids[role] = id;
  }
  const special = new Set<number>(Object.values(ids));
  if (Array.isArray(parsed.added_tokens)) {
    for (const t of parsed.added_tokens) {
      if (isObject(t) && t.special === true && typeof t.id === "number") special.add(t.id);
    }
  }
  const max = extra.model_max_length;
  const modelMaxLength = isInteger(max, 1, NO_LIMIT_SENTINEL - 1) ? max : null;

  // Ask the library what the file's post-processor adds to a one-token text.
  const [probe] = await plain.encodeBatch(["a"], { addSpecialTokens: false });
  const wraps = (tok: HfTokenizer): boolean => {
    const single = tok.postProcess(probe, null, true).getIds();
    return single[0] === ids.cls && single[single.length - 1] === ids.sep;
  };
  let template: Template | null = null;
  if (!wraps(plain)) {
    template = { cls: [names.cls, ids.cls], sep: [names.sep, ids.sep] };
    plain = libraryTokenizer(json, template);
  }
  const addedSingle = plain.postProcess(probe, null, true).getLength() - probe.getLength();
  const addedPair = plain.postProcess(probe, probe, true).getLength() - 2 * probe.getLength();
  const lowercase = lowercases(parsed.normalizer);
  return { file, json, template, plain, ids, special, modelMaxLength, lowercase, addedSingle, addedPair };
}

// ---------------------------------------------------------------------------
// Training a tokenizer

/** LTG-BERT's special tokens, at ids 0 to 6 in this order. */
export const LTG_BERT_SPECIAL_TOKENS: readonly string[] = Object.freeze([
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[PAD]",
  "[MASK]",
  "[PAR]",
  "[TAB]",
]);

/**
 * The most tokens the binding's trainer learns: npm `tokenizers` 0.23
 * trains only with a model's default trainer (`tokenizer.train(files)`;
 * no trainer object can be built or passed), and the default BPE trainer
 * stops at 30,000 tokens.
 */
const DEFAULT_TRAINER_VOCAB = 30000;

/** Options of `trainTokenizer`. */
export interface TrainTokenizerOptions {
  /** Where tokenizer.json, tokenizer_config.json and special_tokens_map.json are written. */
  outputDir: string;
  /**
   * Tokens in the vocabulary, the 7 special ones included (default 16384,
   * LTG-BERT's). At most 30,007; at least 7 plus the corpus's distinct
   * characters. A corpus too small to give that many yields fewer, as
   * Python's trainer does.
   */
  vocabSize?: number;
  /**
   * Lowercase all text (default false): the corpus while training, and every
   * later input, through a `Lowercase` normalizer in tokenizer.json.
   */
  lowercase?: boolean;
}

/**
 * Trains a WordPiece tokenizer laid out as LTG-BERT's BabyLM tokenizer:
 * special tokens [UNK] [CLS] [SEP] [PAD] [MASK] [PAR] [TAB] at ids 0–6,
 * byte-level pre-tokenization with a word-start marker and single digits,
 * no continuation prefix, `[CLS] A [SEP] (B [SEP])`, a byte-level decoder.
 *
 * LTG-BERT trains it in Python with `WordPieceTrainer(vocab_size,
 * special_tokens, min_frequency, continuing_subword_prefix="")` over the
 * stripped non-empty lines. The Node binding offers no trainer with
 * options, so this trains the binding's default BPE trainer (no size
 * limit below 30,000, minimum frequency 0) over the lines, stripped, and
 * keeps its first `vocabSize − 7` tokens. That is what the WordPiece
 * trainer with `vocab_size` and a minimum frequency of 0 keeps: it is a
 * BPE trainer (a continuation prefix of "" leaves its tokens as they are)
 * that puts the special tokens first, then the corpus's characters in
 * code-point order, then one token per merge in merge order, and stops at
 * `vocab_size`; the merges do not depend on where it stops. A minimum
 * frequency cannot be set (LTG-BERT used 10): rare merges are kept when
 * the vocabulary has room.
 *
 * The training runs synchronously inside the binding (it blocks the event
 * loop; a worker thread avoids that), seconds for a few megabytes.
 *
 * @example
 * const tok = await trainTokenizer(["corpus.txt"], { vocabSize: 16384, outputDir: "./my-tokenizer" });
 * tok.vocabSize; // 16384, or fewer for a small corpus
 */
export async function trainTokenizer(
  files: string | readonly string[],
  options: TrainTokenizerOptions,
): Promise<Tokenizer> {
  const list = textFiles("files", files);
  const {
    outputDir,
    vocabSize = 16384,
    lowercase: lower = false,
  } = object<TrainTokenizerOptions>("options", options, "{ outputDir, vocabSize? }");
  boolean("options.lowercase", lower, "true or false");
  nonEmptyString("options.outputDir", outputDir, "a folder path");
  const special = LTG_BERT_SPECIAL_TOKENS;
  const most = DEFAULT_TRAINER_VOCAB + special.length;
  integerIn("options.vocabSize", vocabSize, special.length + 1, most, `an integer in [${special.length + 1}, ${most}]`);
  for (const file of list) {
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${file}: no such file`);
  }

  const trainer = new HfTokenizer(BPE.empty());
  const strip = stripNormalizer(true, true); // LTG-BERT strips each line
  trainer.setNormalizer(lower ? sequenceNormalizer([strip, lowercase()]) : strip);
  trainer.setPreTokenizer(
    sequencePreTokenizer([
      byteLevelPreTokenizer(/*addPrefixSpace=*/ true, /*useRegex=*/ true),
      digitsPreTokenizer(true),
    ]),
  );
  try {
    trainer.train([...list]);
  } catch (error) {
    throw new LtgBertError(
      "LTGBERT_BAD_DATA",
      `${list.join(", ")}: tokenizer training failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const learned = Object.entries(trainer.getVocab(false))
    .sort((a, b) => a[1] - b[1])
    .map(([token]) => token)
    .filter((token) => !special.includes(token));
  const alphabet = learned.filter((token) => [...token].length === 1).length;
  if (learned.length === 0) throw new LtgBertError("LTGBERT_BAD_DATA", `${list.join(", ")}: no text to train on`);
  if (vocabSize - special.length < alphabet) {
    throw invalidArgument(
      "options.vocabSize",
      `at least ${alphabet + special.length} (the ${special.length} special tokens and the corpus's ${alphabet} characters)`,
      vocabSize,
    );
  }
  const vocab: Record<string, number> = {};
  [...special, ...learned.slice(0, vocabSize - special.length)].forEach((token, id) => (vocab[token] = id));

  const byteLevel = { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true };
  const piece = (id: string, typeId: number): unknown => ({ Sequence: { id, type_id: typeId } });
  const mark = (id: string, typeId: number): unknown => ({ SpecialToken: { id, type_id: typeId } });
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: special.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: lower ? { type: "Lowercase" } : null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [byteLevel, { type: "Digits", individual_digits: true }] },
    post_processor: {
      type: "TemplateProcessing",
      single: [mark("[CLS]", 0), piece("A", 0), mark("[SEP]", 0)],
      pair: [mark("[CLS]", 0), piece("A", 0), mark("[SEP]", 0), piece("B", 1), mark("[SEP]", 1)],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [1], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [2], tokens: ["[SEP]"] },
      },
    },
    decoder: byteLevel,
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "",
      max_input_chars_per_word: 100,
      vocab,
    },
  };
  const names = {
    unk_token: "[UNK]",
    cls_token: "[CLS]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    mask_token: "[MASK]",
  };
  await makeDirectory(outputDir);
  await writeFileAtomic(path.join(outputDir, "tokenizer.json"), `${JSON.stringify(json, null, 2)}\n`);
  await writeFileAtomic(
    path.join(outputDir, "tokenizer_config.json"),
    `${JSON.stringify({ tokenizer_class: "PreTrainedTokenizerFast", ...names }, null, 2)}\n`,
  );
  await writeFileAtomic(path.join(outputDir, "special_tokens_map.json"), `${JSON.stringify(names, null, 2)}\n`);
  return Tokenizer.fromPretrained(outputDir);
}
