// Word ids, sequence ids and character offsets of encodeBatchWithDetails,
// checked against facts that do not come from the package: the text itself
// (a token's span, sliced out of the text, is what the token spells),
// GPT-2's byte-to-character table (which the byte-level tokenizers use),
// the tokens Python's `tokenizers` gave (expected.json), and how the
// pre-tokenizers split words.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_DIR, Tokenizer, type DetailedBatchEncoding, type TextInput } from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

const DIR = path.join(FIXTURES, "tokenizers");
const expected = JSON.parse(readFileSync(path.join(DIR, "expected.json"), "utf8")) as {
  tokenizers: Record<string, { singles: PyCase[]; pairs: PyCase[] }>;
};
interface PyCase {
  text: string;
  pair: string | null;
  tokens: string[];
  type_ids: number[];
  /** Recorded by make_tokenizer_expectations.py since it records them; absent in an older expected.json. */
  offsets?: [number, number][];
  word_ids?: (number | null)[];
  sequence_ids?: (number | null)[];
}
const python = expected.tokenizers["ltg-bert-babylm"];

/**
 * GPT-2's byte-level alphabet: the printable bytes 33–126, 161–172 and
 * 174–255 stand for themselves; the other 68 bytes, in order, for the
 * characters from U+0100 on.
 */
const BYTE_OF = (() => {
  const map = new Map<string, number>();
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    map.set(String.fromCodePoint(printable ? b : next++), b);
  }
  return map;
})();

function tokenBytes(token: string): number[] {
  return [...token].map((c) => {
    const b = BYTE_OF.get(c);
    if (b === undefined) throw new Error(`not a byte-level token: ${JSON.stringify(token)}`);
    return b;
  });
}

/** A row's tokens with their origin, read out of a padded detailed batch. */
interface Row {
  token: string;
  id: number;
  word: number;
  sequence: number;
  start: number;
  end: number;
}

function rowsOf(tok: Tokenizer, b: DetailedBatchEncoding): Row[][] {
  const [B, T] = b.inputIds.shape;
  expect(b.wordIds.shape).toEqual([B, T]);
  expect(b.sequenceIds.shape).toEqual([B, T]);
  expect(b.charOffsets.shape).toEqual([B, T, 2]);
  return Array.from({ length: B }, (_, i) =>
    Array.from({ length: b.lengths[i] }, (_, t) => {
      const k = i * T + t;
      const id = b.inputIds.data[k];
      return {
        token: tok.idToToken(id)!,
        id,
        word: b.wordIds.data[k],
        sequence: b.sequenceIds.data[k],
        start: b.charOffsets.data[2 * k],
        end: b.charOffsets.data[2 * k + 1],
      };
    }),
  );
}

function textOf(input: TextInput, sequence: number): string {
  return typeof input === "string" ? (sequence === 0 ? input : "") : input[sequence];
}

/**
 * Byte-level tokens: consecutive tokens of one span (the bytes of one
 * character split over tokens share its span) spell, as UTF-8, the text the
 * span cuts out; the space the pre-tokenizer adds before a text that does
 * not start with one has no character of its own and goes with the first.
 */
// `lowercases`: the tokenizer's normalizer lowercases, so its tokens spell
// the lowercased text of their spans.
function expectByteLevelSpans(tok: Tokenizer, input: TextInput, row: Row[], lowercases = false): void {
  for (let t = 0; t < row.length;) {
    const r = row[t];
    if (r.sequence < 0) {
      expect([r.word, r.start, r.end]).toEqual([-1, 0, 0]);
      t++;
      continue;
    }
    const text = textOf(input, r.sequence);
    expect(r.start).toBeGreaterThanOrEqual(0);
    expect(r.end).toBeLessThanOrEqual(text.length);
    expect(r.end).toBeGreaterThan(r.start);
    let u = t;
    const bytes: number[] = [];
    while (u < row.length && row[u].sequence === r.sequence && row[u].start === r.start && row[u].end === r.end) {
      if (row[u].id !== tok.unkTokenId) bytes.push(...tokenBytes(row[u].token));
      u++;
    }
    const slice = text.slice(r.start, r.end);
    if (row[t].id === tok.unkTokenId) {
      // [UNK] stands for a whole word the vocabulary cannot spell.
      expect(slice.trim()).not.toBe("");
      expect(slice.trim()).not.toMatch(/\s/);
    } else {
      let spelled = Buffer.from(bytes).toString("utf8");
      if (r.start === 0 && spelled.startsWith(" ") && !text.startsWith(" ")) spelled = spelled.slice(1);
      expect(spelled, `tokens ${row.slice(t, u).map((x) => x.token)} of ${JSON.stringify(text)}`).toBe(
        lowercases ? slice.toLowerCase() : slice,
      );
    }
    t = u;
  }
}

/** The words of each text of a row: the span from a word's first token to its last, by word id. */
function wordsOf(row: Row[], input: TextInput): string[][] {
  const out: string[][] = [[], []];
  for (const sequence of [0, 1]) {
    const text = textOf(input, sequence);
    const tokens = row.filter((r) => r.sequence === sequence);
    let last = -1;
    for (const r of tokens) {
      // Word ids count up from 0 in each text, one step at a time, and a
      // word's tokens are next to each other.
      expect(r.word === last || r.word === last + 1, `word ids ${tokens.map((x) => x.word)}`).toBe(true);
      if (r.word === last + 1) out[sequence].push("");
      last = r.word;
      const words = out[sequence];
      const first = tokens.find((x) => x.word === r.word)!;
      words[words.length - 1] = text.slice(first.start, r.end);
    }
  }
  return out;
}

const SENTENCES = [
  "café naïve 東京 😀 Hello world",
  "Hello world, it's 2024!",
  "The quick brown fox jumps over the lazy dog.",
  "supercalifragilisticexpialidocious",
  "I love 🍕 and 3.14159",
  "  spaced   out  ",
  "Naïve café owners—really?",
];
const PAIRS: [string, string][] = [
  ["A man is playing a guitar.", "A person plays music."],
  ["😀😀 emoji first", "then 東京 and naïve café"],
  ["short", "a much longer second sentence that goes on and on"],
];

const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-details-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TOKENIZERS: [string, string][] = [
  ["the BabyLM tokenizer", path.join(DIR, "ltg-bert-babylm")],
  ["the BabyLM 10M tokenizer (the package's [CLS]/[SEP] template)", path.join(DIR, "ltg-bert-babylm-10m")],
  ["the default model's tokenizer", DEFAULT_MODEL_DIR],
];

describe.each(TOKENIZERS)("encodeBatchWithDetails with %s", (_name, dir) => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromPretrained(dir);
  });

  it("gives spans whose text is what the tokens spell, in UTF-16 indices past emoji and accents", async () => {
    const inputs: TextInput[] = [...SENTENCES, ...PAIRS];
    const b = await tok.encodeBatchWithDetails(inputs);
    const normalizer = JSON.parse(readFileSync(path.join(dir, "tokenizer.json"), "utf8")).normalizer;
    const lowercases = JSON.stringify(normalizer ?? null).includes('"Lowercase"');
    rowsOf(tok, b).forEach((row, i) => expectByteLevelSpans(tok, inputs[i], row, lowercases));
  });

  it("gives the same ids and mask as encodeBatch, and -1 / [0, 0] on padding", async () => {
    const inputs: TextInput[] = [...SENTENCES, ...PAIRS];
    const plain = await tok.encodeBatch(inputs);
    const b = await tok.encodeBatchWithDetails(inputs);
    expect(b.inputIds).toEqual(plain.inputIds);
    expect(b.attentionMask).toEqual(plain.attentionMask);
    expect(b.lengths).toEqual(plain.lengths);
    const [B, T] = b.inputIds.shape;
    let padded = 0;
    for (let k = 0; k < B * T; k++) {
      if (b.attentionMask.data[k] === 1) continue;
      padded++;
      expect([
        b.wordIds.data[k],
        b.sequenceIds.data[k],
        b.charOffsets.data[2 * k],
        b.charOffsets.data[2 * k + 1],
      ]).toEqual([-1, -1, 0, 0]);
    }
    expect(padded).toBeGreaterThan(0);
  });

  it("puts [CLS] A [SEP] B [SEP] in sequences -1, 0, -1, 1, -1, and word ids restart at 0 in B", async () => {
    const b = await tok.encodeBatchWithDetails(PAIRS);
    rowsOf(tok, b).forEach((row, i) => {
      const [a, second] = PAIRS[i];
      const sequences = row.map((r) => r.sequence);
      const firstSep = row.findIndex((r, t) => t > 0 && r.id === tok.sepTokenId);
      expect(row[0].id).toBe(tok.clsTokenId);
      expect(row[row.length - 1].id).toBe(tok.sepTokenId);
      const expectedSequences = row.map((_, t) =>
        t === 0 || t === firstSep || t === row.length - 1 ? -1 : t < firstSep ? 0 : 1,
      );
      expect(sequences).toEqual(expectedSequences);
      // Each text's words, spans sliced out of that text: its whitespace-separated words, the full stop apart.
      const words = wordsOf(row, PAIRS[i]).map((list) => list.map((w) => w.trim()).join(" "));
      const split = (text: string): string => text.replace(/\./g, " .");
      expect(words).toEqual([split(a), split(second)]);
      expect(row.find((r) => r.sequence === 1)!.word).toBe(0);
    });
  });

  it("keeps the details of the kept tokens under truncation, and the ragged form matches the padded one", async () => {
    const text = "café naïve 東京 😀 one two three four five six seven eight nine ten";
    const full = await tok.encodeBatchWithDetails([text]);
    const cut = await tok.encodeBatchWithDetails([text], { maxLength: 8 });
    expect(cut.inputIds.shape).toEqual([1, 8]);
    expect(cut.numTruncated[0]).toBe(full.lengths[0] - 8);
    // Truncation drops tokens from the end: the first 7 agree, then [SEP].
    const [fullRow] = rowsOf(tok, full);
    const [cutRow] = rowsOf(tok, cut);
    expect(cutRow.slice(0, 7)).toEqual(fullRow.slice(0, 7));
    expect(cutRow[7]).toMatchObject({ id: tok.sepTokenId, word: -1, sequence: -1, start: 0, end: 0 });

    const inputs: TextInput[] = [SENTENCES[0], PAIRS[1], SENTENCES[3]];
    const padded = rowsOf(tok, await tok.encodeBatchWithDetails(inputs));
    const ragged = await tok.encodeBatchWithDetails(inputs, { padding: "none" });
    expect(ragged.offsets.length).toBe(4);
    inputs.forEach((_, i) => {
      const from = ragged.offsets[i];
      expect(ragged.lengths[i]).toBe(padded[i].length);
      padded[i].forEach((r, t) => {
        expect(ragged.ids[from + t]).toBe(r.id);
        expect(ragged.wordIds[from + t]).toBe(r.word);
        expect(ragged.sequenceIds[from + t]).toBe(r.sequence);
        expect([ragged.charOffsets[2 * (from + t)], ragged.charOffsets[2 * (from + t) + 1]]).toEqual([r.start, r.end]);
      });
    });
    // pad() of the ragged form, in another order, carries the details along.
    const again = rowsOf(tok, tok.pad(ragged, [2, 0]));
    expect(again).toEqual([padded[2], padded[0]]);
  });
});

describe("word ids of the BabyLM tokenizer", () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromPretrained(path.join(DIR, "ltg-bert-babylm"));
  });

  it("group the subwords of a word, as GPT-2's splitting into words says", async () => {
    const inputs = [
      "The quick brown fox jumps over the lazy dog.",
      "supercalifragilisticexpialidocious",
      "Hello world, it's 2024!",
    ];
    const rows = rowsOf(tok, await tok.encodeBatchWithDetails(inputs));
    const words = rows.map((row, i) => wordsOf(row, inputs[i])[0].map((w) => w.trim()));
    // Letters with their leading space, punctuation apart, contractions apart, each digit apart (Digits).
    expect(words[0]).toEqual(["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "."]);
    expect(words[1]).toEqual(["supercalifragilisticexpialidocious"]);
    expect(words[2]).toEqual(["Hello", "world", ",", "it", "'s", "", "2", "0", "2", "4", "!"]);
    // Python's tokens for these texts: "jumps" is Ġjump + s, "Hello" is ĠHell + o, one word each.
    const py = python.singles.find((c) => c.text === inputs[0])!.tokens;
    expect(rows[0].map((r) => r.token)).toEqual(py);
    const jump = rows[0].findIndex((r) => r.token === "Ġjump");
    expect(rows[0][jump + 1].token).toBe("s");
    expect(rows[0][jump + 1].word).toBe(rows[0][jump].word);
    expect(rows[1].filter((r) => r.sequence === 0).length).toBeGreaterThan(1);
  });

  it("pairs: tokens and type ids as Python's, sequence ids from them, spans into the right text", async () => {
    for (const c of python.pairs) {
      const input: TextInput = [c.text, c.pair!];
      const [row] = rowsOf(tok, await tok.encodeBatchWithDetails([input]));
      expect(row.map((r) => r.token)).toEqual(c.tokens);
      // Python's type ids are 1 on B and its [SEP]; the sequence of a text token is its type id.
      row.forEach((r, t) => {
        if (r.sequence >= 0) expect(r.sequence).toBe(c.type_ids[t]);
      });
      expectByteLevelSpans(tok, input, row);
    }
  });
});

/** A code-point index of `text` (what Python's offsets count) as a UTF-16 index. */
const utf16 = (text: string, codePoints: number): number => Array.from(text).slice(0, codePoints).join("").length;

const recorded = [...python.singles, ...python.pairs].filter((c) => c.offsets !== undefined);
describe("encodeBatchWithDetails against Python's offsets, word ids and sequence ids (expected.json)", () => {
  it("equals them on the BabyLM tokenizer, spans converted to UTF-16", async () => {
    // every case of expected.json records them (make_tokenizer_expectations.py)
    expect(recorded.length).toBe(python.singles.length + python.pairs.length);
    expect(recorded.length).toBeGreaterThan(0);
    const tok = await Tokenizer.fromPretrained(path.join(DIR, "ltg-bert-babylm"));
    for (const c of recorded) {
      const input: TextInput = c.pair === null ? c.text : [c.text, c.pair];
      const [row] = rowsOf(tok, await tok.encodeBatchWithDetails([input]));
      expect(row.map((r) => r.token)).toEqual(c.tokens);
      expect(row.map((r) => r.word)).toEqual(c.word_ids!.map((w) => w ?? -1));
      expect(row.map((r) => r.sequence)).toEqual(c.sequence_ids!.map((q) => q ?? -1));
      const spans = c.offsets!.map(([start, end], t) => {
        const q = c.sequence_ids![t];
        if (q === null) return [0, 0];
        const text = textOf(input, q);
        return [utf16(text, start), utf16(text, end)];
      });
      expect(row.map((r) => [r.start, r.end])).toEqual(spans);
    }
  });
});

describe("encodeBatchWithDetails with a lowercasing, accent-stripping WordPiece tokenizer (BERT uncased)", () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    // bert-base-uncased's vocab.txt (see test/fixtures/tokenizers/README.md)
    // in a tokenizer.json laid out as Hugging Face's BertTokenizerFast writes one.
    const vocabFile = path.join(DIR, "bert-base-uncased", "vocab.txt");
    const vocab: Record<string, number> = {};
    readFileSync(vocabFile, "utf8")
      .split("\n")
      .forEach((token, id) => {
        if (token !== "") vocab[token] = id;
      });
    const dir = path.join(work, "bert-uncased");
    mkdirSync(dir, { recursive: true });
    const special = (id: string, typeId: number): unknown => ({ SpecialToken: { id, type_id: typeId } });
    const piece = (id: string, typeId: number): unknown => ({ Sequence: { id, type_id: typeId } });
    const json = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map((content) => ({
        id: vocab[content],
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: {
        type: "BertNormalizer",
        clean_text: true,
        handle_chinese_chars: true,
        strip_accents: null,
        lowercase: true,
      },
      pre_tokenizer: { type: "BertPreTokenizer" },
      post_processor: {
        type: "TemplateProcessing",
        single: [special("[CLS]", 0), piece("A", 0), special("[SEP]", 0)],
        pair: [special("[CLS]", 0), piece("A", 0), special("[SEP]", 0), piece("B", 1), special("[SEP]", 1)],
        special_tokens: {
          "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] },
          "[SEP]": { id: "[SEP]", ids: [vocab["[SEP]"]], tokens: ["[SEP]"] },
        },
      },
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
      model: {
        type: "WordPiece",
        unk_token: "[UNK]",
        continuing_subword_prefix: "##",
        max_input_chars_per_word: 100,
        vocab,
      },
    };
    writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(json));
    copyFileSync(vocabFile, path.join(dir, "vocab.txt"));
    tok = await Tokenizer.fromPretrained(dir);
  });

  it("maps the lowercased, unaccented pieces back onto the original characters", async () => {
    const inputs: TextInput[] = ["Naïve CAFÉ owners in 東京 😀 Tokenization!", ["Unbelievable", "Straße 😀 Ünïcödé"]];
    const rows = rowsOf(tok, await tok.encodeBatchWithDetails(inputs));
    rows.forEach((row, i) => {
      for (const r of row) {
        if (r.sequence < 0) continue;
        const slice = textOf(inputs[i], r.sequence).slice(r.start, r.end);
        if (r.id === tok.unkTokenId) {
          expect(slice).not.toMatch(/\s/);
          continue;
        }
        // What BERT's normalizer does to the slice: lowercase, then drop accents (NFD, no combining marks).
        const normalized = slice
          .toLowerCase()
          .normalize("NFD")
          .replace(/\p{Mn}/gu, "");
        expect(normalized, `${r.token} at [${r.start}, ${r.end})`).toBe(r.token.replace(/^##/, ""));
      }
    });
    // BertPreTokenizer: each CJK character is a word; "tokenization" is token + ##ization, one word.
    const words = wordsOf(rows[0], inputs[0])[0];
    expect(words).toEqual(["Naïve", "CAFÉ", "owners", "in", "東", "京", "😀", "Tokenization", "!"]);
    const [a, b] = wordsOf(rows[1], inputs[1]);
    expect(a).toEqual(["Unbelievable"]);
    expect(b).toEqual(["Straße", "😀", "Ünïcödé"]);
  });
});
