// Masked-LM training data read as a stream: text files line by line,
// tokenized a chunk at a time, packed into fixed-length sequences, shuffled
// within bounded blocks, batched and masked. A position taken after any
// batch resumes the stream exactly, without reading what came before.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { invalidArgument, LtgBertError } from "../errors.js";
import { boolean, integer, isInteger, number, object, oneOf, textFiles } from "../validate.js";
import { LTG_BERT_MAX_SPAN_LENGTH, maskTokens, Random, shuffleInPlace, type MaskOptions } from "./mlm.js";
import { Tokenizer, type IdTensor } from "../tokenizer.js";

/**
 * Where one document ends and the next begins: at an empty (or
 * whitespace-only) line ("emptyLine", default: paragraphs or articles
 * separated by blank lines), or at every line ("line": one document per
 * line). The end of each file also ends a document.
 */
export type DocumentBoundary = "emptyLine" | "line";

/** Options of `MaskedLMCorpus.open`. */
export interface CorpusOptions extends Pick<
  MaskOptions,
  "maskProbability" | "maxSpanLength" | "randomProbability" | "keepProbability" | "replacement"
> {
  /** Tokens per sequence, [CLS] and [SEP] included (default 128). */
  sequenceLength?: number;
  /** Sequences per batch (default 16). */
  batchSize?: number;
  /** Shuffle the sequences within each block (default true). */
  shuffle?: boolean;
  /**
   * The most sequences held for shuffling: the stream is cut into blocks of
   * whole lines holding at least this many sequences (default 1024), and
   * each block is shuffled on its own. See `MaskedLMCorpus`.
   */
  shuffleBuffer?: number;
  /** Seed of the shuffling and of the masking (default 42). */
  seed?: number;
  /** See `DocumentBoundary` (default "emptyLine"). */
  documentBoundary?: DocumentBoundary;
  /** Text, in UTF-16 code units, given to the tokenizer in one call (default 65536). */
  readChunkSize?: number;
}

/**
 * Where a stream of batches stands: JSON-serialisable, for a checkpoint's
 * trainer_state.json. `MaskedLMCorpus.start(epoch)` is the start of an
 * epoch; every batch carries the position after it (`next`).
 */
export interface CorpusPosition {
  epoch: number;
  /** Batches of this epoch already given. */
  batch: number;
  /** The shuffling block that holds the next sequence: its index in the epoch… */
  block: number;
  /** …and how many of its sequences (in shuffled order) were used. */
  used: number;
  /** Where that block starts: the file (an index into `files`)… */
  file: number;
  /** …the byte offset of its first line in that file… */
  byte: number;
  /** …the number of lines of that file before it… */
  line: number;
  /** …the tokens of the sequence being packed there (fewer than sequenceLength − 2)… */
  carry: number[];
  /** …and whether a [SEP] between documents is due before the next token. */
  separator: boolean;
}

/** One batch of the stream. */
export interface CorpusBatch {
  /** [B, T] ids after masking. */
  inputIds: IdTensor;
  /** [B, T]: 0 on the padding of the epoch's last sequence, 1 elsewhere. */
  attentionMask: IdTensor;
  /** [B, T]: the original id where a token was chosen, -100 elsewhere. */
  labels: IdTensor;
  epoch: number;
  /** Its index in the epoch. */
  index: number;
  /** True for the epoch's last batch (which may have fewer rows). */
  last: boolean;
  /** The position after this batch: resuming there gives the batches that would have followed. */
  next: CorpusPosition;
  /** The share of the epoch's bytes read up to the block of the next batch, in [0, 1]. */
  progress: number;
}

/** A corpus's options with the defaults filled in: `MaskedLMCorpus.options`. */
export interface CorpusSettings {
  sequenceLength: number;
  batchSize: number;
  shuffle: boolean;
  shuffleBuffer: number;
  seed: number;
  documentBoundary: DocumentBoundary;
  readChunkSize: number;
  maskProbability: number;
  maxSpanLength: number;
  randomProbability: number;
  keepProbability: number;
  replacement: "token" | "span";
}

/** A packed sequence: `ids` has sequenceLength entries, the first `length` of them real. */
interface Sequence {
  ids: Int32Array;
  length: number;
}

/** Where the reader stands between two lines. */
interface LineState {
  file: number;
  byte: number;
  line: number;
  carry: Int32Array;
  separator: boolean;
}

type Item =
  | { kind: "line"; file: number; line: number; end: number; text: string; ids?: Int32Array }
  | { kind: "eof"; file: number };

// Random streams drawn from (seed, epoch, index, stream).
const SHUFFLE_STREAM = 1;
const MASK_STREAM = 2;

function resolve(options: CorpusOptions): CorpusSettings {
  const o = object<CorpusOptions>("options", options);
  if (o.shuffle !== undefined) boolean("options.shuffle", o.shuffle);
  const boundary = oneOf("options.documentBoundary", o.documentBoundary ?? "emptyLine", ["emptyLine", "line"]);
  const replacement = oneOf("options.replacement", o.replacement ?? "token", ["token", "span"]);
  const p = number("options.maskProbability", o.maskProbability ?? 0.15, { min: 0, minOpen: true, max: 1 });
  const share = (name: "randomProbability" | "keepProbability"): number =>
    number(`options.${name}`, o[name] ?? 0.1, { min: 0, max: 1 });
  const randomProbability = share("randomProbability");
  const keepProbability = share("keepProbability");
  if (randomProbability + keepProbability > 1) {
    throw invalidArgument(
      "options.randomProbability + keepProbability",
      "at most 1",
      randomProbability + keepProbability,
    );
  }
  return {
    sequenceLength: integer("options.sequenceLength", o.sequenceLength ?? 128, 3),
    batchSize: integer("options.batchSize", o.batchSize ?? 16, 1),
    shuffle: o.shuffle ?? true,
    shuffleBuffer: integer("options.shuffleBuffer", o.shuffleBuffer ?? 1024, 1),
    seed: integer("options.seed", o.seed ?? 42, 0),
    documentBoundary: boundary,
    readChunkSize: integer("options.readChunkSize", o.readChunkSize ?? 65536, 1),
    maskProbability: p,
    maxSpanLength: integer("options.maxSpanLength", o.maxSpanLength ?? LTG_BERT_MAX_SPAN_LENGTH, 1),
    randomProbability,
    keepProbability,
    replacement,
  };
}

function checkPosition(position: unknown, files: number, T: number): CorpusPosition {
  const p = position as CorpusPosition;
  if (
    typeof position !== "object" ||
    position === null ||
    !["epoch", "batch", "block", "used", "file", "byte", "line"].every((k) =>
      isInteger(p[k as keyof CorpusPosition], 0),
    ) ||
    p.file > files ||
    !Array.isArray(p.carry) ||
    p.carry.length > T - 2 ||
    !p.carry.every((id) => Number.isInteger(id) && id >= 0) ||
    typeof p.separator !== "boolean"
  ) {
    throw invalidArgument(
      "position",
      "a CorpusPosition { epoch, batch, block, used, file, byte, line, carry, separator } of this corpus",
      position,
    );
  }
  return p;
}

/**
 * Lines of the files from a byte offset on, with the offset after each.
 * Lines end at "\n" (a "\r" before it is dropped); a UTF-8 byte-order mark at
 * the start of a file is dropped. (node:readline cannot say at which byte a
 * line ends, which a resumed run needs, and also ends lines at a lone "\r".)
 */
async function* readLines(files: readonly string[], from: LineState): AsyncGenerator<Item> {
  for (let f = from.file; f < files.length; f++) {
    let byte = f === from.file ? from.byte : 0;
    let line = f === from.file ? from.line : 0;
    const stream = createReadStream(files[f], { start: byte, highWaterMark: 65536 });
    let parts: Buffer[] = [];
    // A line's bytes (without its "\n", which is `newline` bytes long) as an item.
    const take = (tail: Buffer, newline: number): Item => {
      let bytes = parts.length === 0 ? tail : Buffer.concat([...parts, tail]);
      parts = [];
      const start = byte;
      byte += bytes.length + newline;
      line++;
      if (start === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      if (bytes.length > 0 && bytes[bytes.length - 1] === 13) bytes = bytes.subarray(0, bytes.length - 1);
      return { kind: "line", file: f, line, end: byte, text: bytes.toString("utf8") };
    };
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        let at = 0;
        for (let nl = chunk.indexOf(10, at); nl >= 0; nl = chunk.indexOf(10, at)) {
          yield take(chunk.subarray(at, nl), 1);
          at = nl + 1;
        }
        // The start of a line that goes on in the next chunk (copied: the stream may reuse its buffer).
        if (at < chunk.length) parts.push(Buffer.from(chunk.subarray(at)));
      }
      if (parts.length > 0) yield take(Buffer.alloc(0), 0);
    } catch (error) {
      if (error instanceof LtgBertError) throw error;
      throw new LtgBertError("LTGBERT_IO", `${files[f]}: cannot be read (${(error as Error).message})`, {
        cause: error,
      });
    } finally {
      stream.destroy();
    }
    yield { kind: "eof", file: f };
  }
}

/**
 * The lines with their token ids, tokenized `chunk` characters at a time.
 * The tokenizer works on the next chunk (on its own threads) while the
 * lines of this one are handed out, so tokenizing overlaps with training.
 */
async function* tokenized(
  files: readonly string[],
  lines: AsyncGenerator<Item>,
  tokenizer: Tokenizer,
  chunk: number,
): AsyncGenerator<Item> {
  const encode = async (items: Item[]): Promise<Item[]> => {
    const texts: string[] = [];
    for (const item of items) {
      if (item.kind !== "line") continue;
      item.text = item.text.trim();
      if (item.text !== "") texts.push(item.text);
    }
    let encoded: { ids: Int32Array; offsets: Int32Array };
    try {
      encoded = await tokenizer.encodeWithoutSpecialTokens(texts);
    } catch (error) {
      const first = items.find((i) => i.kind === "line") as Extract<Item, { kind: "line" }>;
      throw new LtgBertError(
        "LTGBERT_BAD_DATA",
        `${files[first.file]}:${first.line}: the lines from here on cannot be tokenized (${(error as Error).message})`,
        { cause: error },
      );
    }
    let k = 0;
    for (const item of items) {
      if (item.kind !== "line") continue;
      item.ids = item.text === "" ? new Int32Array(0) : encoded.ids.subarray(encoded.offsets[k], encoded.offsets[++k]);
      item.text = ""; // the ids are what is needed from here on
    }
    return items;
  };
  let pending: Item[] = [];
  let size = 0;
  let ahead: Promise<Item[]> | null = null;
  // Starts tokenizing the pending lines; hands back the chunk before them.
  const rotate = async (): Promise<Item[]> => {
    const started = encode(pending);
    started.catch(() => undefined); // awaited later; not an unhandled rejection meanwhile
    pending = [];
    size = 0;
    const previous = ahead;
    ahead = started;
    return previous === null ? [] : await previous;
  };
  for await (const item of lines) {
    pending.push(item);
    if (item.kind === "line") size += item.text.length;
    if (size >= chunk || item.kind === "eof") yield* await rotate();
  }
  if (pending.length > 0) yield* await rotate();
  if (ahead !== null) yield* await (ahead as Promise<Item[]>);
}

/** Packs token ids into `[CLS] … [SEP]` sequences of T tokens. */
class Packer {
  readonly content: Int32Array;
  length = 0;
  separator = false;

  readonly #T: number;
  readonly #ids: { cls: number; sep: number; pad: number };
  readonly #emit: (sequence: Sequence) => void;

  constructor(
    T: number,
    ids: { cls: number; sep: number; pad: number },
    emit: (sequence: Sequence) => void,
    carry: ArrayLike<number>,
    separator: boolean,
  ) {
    this.#T = T;
    this.#ids = ids;
    this.#emit = emit;
    this.content = new Int32Array(T - 2);
    this.content.set(carry);
    this.length = carry.length;
    this.separator = separator;
  }

  #push(id: number): void {
    this.content[this.length++] = id;
    if (this.length === this.content.length) this.#flush();
  }

  #flush(): void {
    const ids = new Int32Array(this.#T).fill(this.#ids.pad);
    ids[0] = this.#ids.cls;
    ids.set(this.content.subarray(0, this.length), 1);
    ids[this.length + 1] = this.#ids.sep;
    this.#emit({ ids, length: this.length + 2 });
    this.length = 0;
    this.separator = false;
  }

  add(tokens: Int32Array): void {
    for (const id of tokens) {
      if (this.separator) {
        this.separator = false;
        this.#push(this.#ids.sep);
      }
      this.#push(id);
    }
  }

  /** A document ended: a [SEP] goes before the next token, unless a new sequence starts there anyway. */
  endDocument(): void {
    if (this.length > 0) this.separator = true;
  }

  /** The stream ended: the last sequence, padded. */
  finish(): void {
    if (this.length > 0) this.#flush();
  }
}

/**
 * The masked-LM training (or evaluation) data of text files, read as a
 * stream: memory holds one shuffling block and one chunk of text, whatever
 * the corpus size.
 *
 * - **Reading.** Each file is read line by line; each line is trimmed and
 *   tokenized without special tokens, `readChunkSize` characters of lines
 *   per tokenizer call. A line must fit in memory.
 * - **Documents.** `documentBoundary` says where documents end; the end of
 *   each file ends one too.
 * - **Packing.** The token stream of all files, in order, is cut into
 *   sequences of `sequenceLength − 2` tokens, each written
 *   `[CLS] … [SEP]`. Documents follow each other inside a sequence with a
 *   `[SEP]` between them (as RoBERTa's FULL-SENTENCES packing does); no
 *   [SEP] is put where a document ends exactly at a sequence's end. (When a
 *   document ends one token before, the sequence ends `… [SEP] [SEP]`.)
 *   The epoch's last sequence is padded with [PAD], with attention 0 there.
 *   LTG-BERT's BabyLM training reads one segment per line instead, padding
 *   each; packing wastes no compute on padding.
 * - **Shuffling.** The sequences are cut into blocks of whole lines holding
 *   at least `shuffleBuffer` sequences; each block is shuffled with a seed
 *   drawn from (seed, epoch, block), and batches are taken from the blocks
 *   in order. A block is the unit of resumption: a position names where its
 *   first line starts, so a resumed run reads and shuffles that one block
 *   again and nothing before it. Sequences of different blocks never mix,
 *   so `shuffleBuffer` should hold many documents.
 * - **Masking.** Batch i of epoch e is masked by `maskTokens` with a random
 *   stream seeded by (seed, e, i): the masks depend on nothing else.
 * - **Epochs.** Every epoch reads all files again, with new shuffles and
 *   masks.
 *
 * @example
 * const corpus = await MaskedLMCorpus.open(["train.txt"], tokenizer, { sequenceLength: 128, batchSize: 32 });
 * for await (const batch of corpus.batches()) {
 *   await mlm.trainStep({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, labels: batch.labels }, opt);
 *   saved = batch.next;                       // resume later with corpus.batches(saved)
 * }
 */
export class MaskedLMCorpus {
  readonly files: readonly string[];
  /** Each file's size in bytes when opened. */
  readonly sizes: readonly number[];
  readonly tokenizer: Tokenizer;
  readonly options: Readonly<CorpusSettings>;
  readonly #totalBytes: number;

  private constructor(files: string[], sizes: number[], tokenizer: Tokenizer, options: CorpusSettings) {
    this.files = Object.freeze([...files]);
    this.sizes = Object.freeze([...sizes]);
    this.tokenizer = tokenizer;
    this.options = Object.freeze(options);
    this.#totalBytes = sizes.reduce((a, b) => a + b, 0);
  }

  /** Checks the options and that every file exists; reads nothing yet. */
  static async open(
    files: string | readonly string[],
    tokenizer: Tokenizer,
    options: CorpusOptions = {},
  ): Promise<MaskedLMCorpus> {
    const list = textFiles("files", files);
    if (!(tokenizer instanceof Tokenizer)) throw invalidArgument("tokenizer", "a Tokenizer", tokenizer);
    const resolved = resolve(options);
    const sizes: number[] = [];
    for (const file of list) {
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${file}: no such file`);
      sizes.push(info.size);
    }
    return new MaskedLMCorpus(list as string[], sizes, tokenizer, resolved);
  }

  /** The position at the start of `epoch`. */
  static start(epoch = 0): CorpusPosition {
    return { epoch, batch: 0, block: 0, used: 0, file: 0, byte: 0, line: 0, carry: [], separator: false };
  }

  /**
   * Sequences in one epoch: one pass that reads and tokenizes every file
   * (and keeps nothing). An LTGBERT_BAD_DATA error when there is no text.
   */
  async countSequences(): Promise<number> {
    let count = 0;
    const packer = this.#packer(() => count++, new Int32Array(0), false);
    for await (const item of this.#items(this.#lineState(MaskedLMCorpus.start()))) this.#feed(packer, item);
    packer.finish();
    if (count === 0) throw this.#noText();
    return count;
  }

  /**
   * The corpus's documents, in order, as token ids without special tokens
   * (one pass over every file, no shuffling or masking). A document ends
   * where `documentBoundary` says and at each file's end; empty ones are
   * skipped.
   */
  async *documents(): AsyncGenerator<Int32Array, void, undefined> {
    let parts: Int32Array[] = [];
    const end = (): Int32Array | null => {
      if (parts.length === 0) return null;
      const ids = parts.length === 1 ? parts[0] : new Int32Array(parts.reduce((n, p) => n + p.length, 0));
      if (parts.length > 1) parts.reduce((at, p) => (ids.set(p, at), at + p.length), 0);
      parts = [];
      return ids;
    };
    for await (const item of this.#items(this.#lineState(MaskedLMCorpus.start()))) {
      const ids = item.kind === "line" ? item.ids! : null;
      if (ids !== null && ids.length > 0) parts.push(ids);
      const boundary =
        ids === null ||
        (ids.length === 0 ? this.options.documentBoundary === "emptyLine" : this.options.documentBoundary === "line");
      if (!boundary) continue;
      const document = end();
      if (document !== null) yield document;
    }
  }

  /** Batches per epoch: `ceil(countSequences() / batchSize)`. */
  async countBatches(): Promise<number> {
    return Math.ceil((await this.countSequences()) / this.options.batchSize);
  }

  /**
   * The batches from `from` (default: the start of epoch 0) to the end of
   * that epoch. Pass a batch's `next` to resume after it.
   */
  async *batches(from: CorpusPosition = MaskedLMCorpus.start()): AsyncGenerator<CorpusBatch, void, undefined> {
    const o = this.options;
    const position = checkPosition(from, this.files.length, o.sequenceLength);
    const { epoch } = position;
    const items = this.#items(this.#lineState(position));
    const sequences: Sequence[] = [];
    let state = this.#lineState(position);
    const packer = this.#packer((s) => sequences.push(s), state.carry, state.separator);
    let ended = false;

    interface Block {
      index: number;
      start: LineState;
      sequences: Sequence[];
      final: boolean;
    }
    const readBlock = async (index: number): Promise<Block> => {
      const start = state;
      while (sequences.length < o.shuffleBuffer && !ended) {
        const next = await items.next();
        if (next.done) {
          packer.finish();
          ended = true;
          break;
        }
        this.#feed(packer, next.value);
        state = this.#after(next.value, packer);
      }
      const taken = sequences.splice(0);
      if (o.shuffle) shuffleInPlace(taken, new Random(o.seed, epoch, index, SHUFFLE_STREAM));
      return { index, start, sequences: taken, final: ended };
    };

    try {
      let block = await readBlock(position.block);
      let used = position.used;
      if (used > block.sequences.length)
        throw invalidArgument("position.used", `at most ${block.sequences.length}`, used);
      let index = position.batch;
      if (index === 0 && position.block === 0 && block.final && block.sequences.length === 0) throw this.#noText();
      for (;;) {
        const rows: Sequence[] = [];
        while (rows.length < o.batchSize) {
          if (used === block.sequences.length) {
            if (block.final) break;
            block = await readBlock(block.index + 1);
            used = 0;
            continue;
          }
          rows.push(block.sequences[used++]);
        }
        if (rows.length === 0) return;
        // Look ahead, so that the batch knows whether it is the epoch's last.
        while (used === block.sequences.length && !block.final) {
          block = await readBlock(block.index + 1);
          used = 0;
        }
        const last = used === block.sequences.length && block.final;
        const next: CorpusPosition = last
          ? MaskedLMCorpus.start(epoch + 1)
          : {
              epoch,
              batch: index + 1,
              block: block.index,
              used,
              file: block.start.file,
              byte: block.start.byte,
              line: block.start.line,
              carry: Array.from(block.start.carry),
              separator: block.start.separator,
            };
        yield { ...this.#batch(rows, epoch, index), epoch, index, last, next, progress: this.#progress(next, last) };
        index++;
        if (last) return;
      }
    } finally {
      await items.return(undefined);
    }
  }

  #progress(next: CorpusPosition, last: boolean): number {
    if (last || this.#totalBytes === 0) return 1;
    let bytes = next.byte;
    for (let f = 0; f < next.file; f++) bytes += this.sizes[f];
    return Math.min(1, bytes / this.#totalBytes);
  }

  #batch(rows: Sequence[], epoch: number, index: number): Pick<CorpusBatch, "inputIds" | "attentionMask" | "labels"> {
    const o = this.options;
    const T = o.sequenceLength;
    const B = rows.length;
    const ids = new Int32Array(B * T);
    const attention = new Int32Array(B * T);
    rows.forEach((row, r) => {
      ids.set(row.ids, r * T);
      attention.fill(1, r * T, r * T + row.length);
    });
    const inputIds: IdTensor = { data: ids, shape: [B, T] };
    const attentionMask: IdTensor = { data: attention, shape: [B, T] };
    const tok = this.tokenizer;
    const masked = maskTokens(inputIds, attentionMask, {
      maskProbability: o.maskProbability,
      maxSpanLength: o.maxSpanLength,
      randomProbability: o.randomProbability,
      keepProbability: o.keepProbability,
      replacement: o.replacement,
      maskTokenId: tok.maskTokenId,
      vocabSize: tok.vocabSize,
      specialTokenIds: tok.specialTokenIds,
      random: new Random(o.seed, epoch, index, MASK_STREAM),
    });
    return { inputIds: masked.inputIds, attentionMask, labels: masked.labels };
  }

  #noText(): LtgBertError {
    return new LtgBertError("LTGBERT_BAD_DATA", `${this.files.join(", ")}: no text to train on (every line is empty)`);
  }

  #lineState(p: CorpusPosition): LineState {
    return { file: p.file, byte: p.byte, line: p.line, carry: Int32Array.from(p.carry), separator: p.separator };
  }

  #items(from: LineState): AsyncGenerator<Item> {
    return tokenized(this.files, readLines(this.files, from), this.tokenizer, this.options.readChunkSize);
  }

  #packer(emit: (s: Sequence) => void, carry: ArrayLike<number>, separator: boolean): Packer {
    const tok = this.tokenizer;
    const ids = { cls: tok.clsTokenId, sep: tok.sepTokenId, pad: tok.padTokenId };
    return new Packer(this.options.sequenceLength, ids, emit, carry, separator);
  }

  #feed(packer: Packer, item: Item): void {
    if (item.kind === "eof") {
      packer.endDocument();
      return;
    }
    const ids = item.ids!;
    if (ids.length === 0) {
      if (this.options.documentBoundary === "emptyLine") packer.endDocument();
      return;
    }
    packer.add(ids);
    if (this.options.documentBoundary === "line") packer.endDocument();
  }

  /** The reader's state once `item` is packed. */
  #after(item: Item, packer: Packer): LineState {
    const carry = packer.content.slice(0, packer.length);
    if (item.kind === "eof") return { file: item.file + 1, byte: 0, line: 0, carry, separator: packer.separator };
    return { file: item.file, byte: item.end, line: item.line, carry, separator: packer.separator };
  }
}
