// The tokenizer against what Python's `tokenizers` gives for the real BabyLM
// tokenizers (expected.json) and against the vocabulary in tokenizer.json.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LtgBertError, Tokenizer } from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

const DIR = path.join(FIXTURES, "tokenizers");
const BABYLM = path.join(DIR, "ltg-bert-babylm");
const BABYLM_10M = path.join(DIR, "ltg-bert-babylm-10m");

interface Case {
  text: string;
  pair: string | null;
  ids: number[];
  tokens: string[];
  decoded: string;
  max_length?: number;
}
interface Expected {
  vocab_size: number;
  special: Record<string, number>;
  singles: Case[];
  pairs: Case[];
  truncated: Case[];
  raw: number[][];
}
const expected = JSON.parse(readFileSync(path.join(DIR, "expected.json"), "utf8")) as {
  tokenizers: Record<string, Expected>;
};
const big = expected.tokenizers["ltg-bert-babylm"];
const small = expected.tokenizers["ltg-bert-babylm-10m"];

/** The vocabulary straight from the file, for facts that do not go through any tokenizer. */
const fileVocab = (
  JSON.parse(readFileSync(path.join(BABYLM, "tokenizer.json"), "utf8")) as { model: { vocab: Record<string, number> } }
).model.vocab;

function rows(data: Int32Array, shape: [number, number]): number[][] {
  return Array.from({ length: shape[0] }, (_, i) => Array.from(data.subarray(i * shape[1], (i + 1) * shape[1])));
}

async function caught(promise: Promise<unknown>): Promise<LtgBertError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LtgBertError);
    return error as LtgBertError;
  }
  throw new Error("expected a rejection");
}

let tok: Tokenizer;
let tok10m: Tokenizer;
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-tokenizer-"));
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(BABYLM);
  tok10m = await Tokenizer.fromPretrained(BABYLM_10M);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the BabyLM tokenizer", () => {
  it("has the special tokens and vocabulary size the file defines", () => {
    // DESIGN.md and the data README: [UNK]0 [CLS]1 [SEP]2 [PAD]3 [MASK]4 [PAR]5 [TAB]6, vocab 16384.
    expect(tok.unkTokenId).toBe(0);
    expect(tok.clsTokenId).toBe(1);
    expect(tok.sepTokenId).toBe(2);
    expect(tok.padTokenId).toBe(3);
    expect(tok.maskTokenId).toBe(4);
    expect([...tok.specialTokenIds].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(tok.vocabSize).toBe(16384);
    expect(big.vocab_size).toBe(16384);
    for (const [name, id] of Object.entries(big.special)) expect(tok.tokenToId(name)).toBe(id);
    expect(tok.modelMaxLength).toBeNull();
  });

  it("encodes single words as the vocabulary in tokenizer.json says", async () => {
    for (const word of ["world", "guitar", "journey", "dog"]) {
      const id = fileVocab[`Ġ${word}`];
      expect(id).toBeTypeOf("number");
      expect(await tok.encode(word)).toEqual([1, id, 2]);
    }
  });

  it("gives Python's ids for texts, one by one and in a batch", async () => {
    for (const c of big.singles) expect(await tok.encode(c.text)).toEqual(c.ids);
    const ragged = await tok.encodeBatch(
      big.singles.map((c) => c.text),
      { padding: "none" },
    );
    big.singles.forEach((c, i) => {
      expect(Array.from(ragged.ids.subarray(ragged.offsets[i], ragged.offsets[i + 1]))).toEqual(c.ids);
    });
    expect(Array.from(ragged.lengths)).toEqual(big.singles.map((c) => c.ids.length));
  });

  it("gives Python's ids for pairs: [CLS] A [SEP] B [SEP]", async () => {
    for (const c of big.pairs) expect(await tok.encode(c.text, c.pair!)).toEqual(c.ids);
    const batch = await tok.encodeBatch(big.pairs.map((c) => [c.text, c.pair!] as [string, string]));
    const width = Math.max(...big.pairs.map((c) => c.ids.length));
    expect(batch.inputIds.shape).toEqual([big.pairs.length, width]);
    rows(batch.inputIds.data, batch.inputIds.shape).forEach((row, i) => {
      const ids = big.pairs[i].ids;
      expect(row).toEqual([...ids, ...Array(width - ids.length).fill(3)]);
    });
  });

  it("truncates as Python's longest-first truncation does, ending with [SEP]", async () => {
    for (const c of big.truncated) {
      const input: string | [string, string] = c.pair === null ? c.text : [c.text, c.pair];
      const batch = await tok.encodeBatch([input], { maxLength: c.max_length });
      expect(batch.inputIds.shape).toEqual([1, c.ids.length]);
      expect(Array.from(batch.inputIds.data)).toEqual(c.ids);
      expect(c.ids.length).toBe(c.max_length);
      expect(c.ids[c.ids.length - 1]).toBe(tok.sepTokenId);
      const untruncated = await tok.encode(c.text, c.pair ?? undefined);
      expect(batch.numTruncated[0]).toBe(untruncated.length - c.max_length!);
    }
  });

  it("keeps the limit on a long text, with [CLS] first and [SEP] last", async () => {
    const long = "the film is long and the plot goes nowhere ".repeat(40);
    const full = await tok.encode(long);
    expect(full.length).toBeGreaterThan(64);
    const batch = await tok.encodeBatch([long, "short", [long, long]], { maxLength: 64 });
    expect(batch.inputIds.shape).toEqual([3, 64]);
    const [a, , c] = rows(batch.inputIds.data, batch.inputIds.shape);
    expect(a).toEqual([...full.slice(0, 63), tok.sepTokenId]);
    expect(a[0]).toBe(tok.clsTokenId);
    expect(c.filter((id) => id === tok.sepTokenId)).toHaveLength(2);
    expect(c[63]).toBe(tok.sepTokenId);
    expect(Array.from(batch.lengths)).toEqual([64, 3, 64]);
    expect(batch.numTruncated[0]).toBe(full.length - 64);
    expect(batch.numTruncated[1]).toBe(0);
  });

  it("rejects a text over the limit when truncation is off, naming it, its length and the limit", async () => {
    const c = big.singles[0]; // 14 ids in Python
    expect(c.ids).toHaveLength(14);
    const error = await caught(tok.encodeBatch(["ok", c.text], { maxLength: 10, truncation: false }));
    expect(error.code).toBe("LTGBERT_INVALID_ARGUMENT");
    expect(error.message).toMatch(/texts\[1\]: 14 tokens.*maxLength 10/);
    const fits = await tok.encodeBatch(["ok", c.text], { maxLength: 14, truncation: false });
    expect(fits.inputIds.shape).toEqual([2, 14]);
  });

  it("pads to the longest row with [PAD] and masks the padding", async () => {
    const texts = big.singles.map((c) => c.text);
    const batch = await tok.encodeBatch(texts, { maxLength: 512 });
    const width = Math.max(...big.singles.map((c) => c.ids.length));
    expect(batch.inputIds.shape).toEqual([texts.length, width]);
    expect(batch.attentionMask.shape).toEqual([texts.length, width]);
    const ids = rows(batch.inputIds.data, batch.inputIds.shape);
    const mask = rows(batch.attentionMask.data, batch.attentionMask.shape);
    big.singles.forEach((c, i) => {
      const n = c.ids.length;
      expect(ids[i]).toEqual([...c.ids, ...Array(width - n).fill(tok.padTokenId)]);
      expect(mask[i]).toEqual([...Array(n).fill(1), ...Array(width - n).fill(0)]);
      expect(batch.lengths[i]).toBe(n);
    });
  });

  it("decodes as Python does", async () => {
    for (const c of [...big.singles, ...big.pairs]) expect(await tok.decode(c.ids)).toBe(c.decoded);
    expect(await tok.decode([1, fileVocab["Ġworld"], 2], { skipSpecialTokens: false })).toBe("[CLS] world[SEP]");
  });

  it("runs concurrent batches with different limits without mixing them up", async () => {
    const long = big.truncated[0].text;
    const limits = [6, 8, 10, 12, 6, 8];
    const results = await Promise.all(limits.map((maxLength) => tok.encodeBatch([long], { maxLength })));
    results.forEach((r, i) => expect(r.inputIds.shape).toEqual([1, limits[i]]));
  });
});

describe("a tokenizer without a [CLS]/[SEP] post-processor (BabyLM 10M)", () => {
  it("gets [CLS] A [SEP] and [CLS] A [SEP] B [SEP] around Python's ids", async () => {
    expect(tok10m.vocabSize).toBe(4096);
    expect(tok10m.clsTokenId).toBe(small.special["[CLS]"]);
    for (const [i, raw] of small.raw.entries()) {
      expect(await tok10m.encode(small.singles[i].text)).toEqual([1, ...raw, 2]);
    }
    for (const [i, j] of [
      [0, 1],
      [2, 7],
    ]) {
      expect(await tok10m.encode(small.singles[i].text, small.singles[j].text)).toEqual([
        1,
        ...small.raw[i],
        2,
        ...small.raw[j],
        2,
      ]);
    }
    const batch = await tok10m.encodeBatch([small.singles[1].text], { maxLength: 5 });
    expect(Array.from(batch.inputIds.data)).toEqual([1, ...small.raw[1].slice(0, 3), 2]);
  });

  it("encodeWithoutSpecialTokens gives Python's ids without special tokens, all texts in one block", async () => {
    const texts = small.raw.map((_, i) => small.singles[i].text);
    const { ids, offsets } = await tok10m.encodeWithoutSpecialTokens([...texts, ""]);
    expect(offsets).toHaveLength(texts.length + 2);
    small.raw.forEach((raw, i) => expect(Array.from(ids.subarray(offsets[i], offsets[i + 1]))).toEqual(raw));
    expect(offsets[texts.length + 1]).toBe(offsets[texts.length]); // the empty text has no ids
    expect((await tok10m.encodeWithoutSpecialTokens([])).ids).toHaveLength(0);
  });
});

describe("bad calls and bad files", () => {
  it("a missing tokenizer.json is LTGBERT_FILE_NOT_FOUND naming the path", async () => {
    const dir = path.join(work, "empty");
    mkdirSync(dir);
    const error = await caught(Tokenizer.fromPretrained(dir));
    expect(error.code).toBe("LTGBERT_FILE_NOT_FOUND");
    expect(error.message).toContain(path.join(dir, "tokenizer.json"));
  });

  it("unparsable or unloadable tokenizer.json is LTGBERT_BAD_CONFIG naming the file", async () => {
    for (const [name, text] of [
      ["not-json", "{ nope"],
      ["array", "[1, 2]"],
      ["not-a-tokenizer", '{"model": 3}'],
    ]) {
      const dir = path.join(work, name);
      mkdirSync(dir);
      writeFileSync(path.join(dir, "tokenizer.json"), text);
      const error = await caught(Tokenizer.fromPretrained(dir));
      expect(error.code).toBe("LTGBERT_BAD_CONFIG");
      expect(error.message).toContain(path.join(dir, "tokenizer.json"));
    }
  });

  it("a vocabulary without a needed special token is LTGBERT_BAD_CONFIG naming it", async () => {
    const dir = path.join(work, "no-mask");
    mkdirSync(dir);
    copyFileSync(path.join(BABYLM, "tokenizer.json"), path.join(dir, "tokenizer.json"));
    writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ mask_token: "<mask>" }));
    const error = await caught(Tokenizer.fromPretrained(dir));
    expect(error.code).toBe("LTGBERT_BAD_CONFIG");
    expect(error.message).toMatch(/"<mask>"/);
  });

  it("takes model_max_length from tokenizer_config.json, and Hugging Face's 1e30 as no limit", async () => {
    const dir = path.join(work, "with-config");
    mkdirSync(dir);
    copyFileSync(path.join(BABYLM, "tokenizer.json"), path.join(dir, "tokenizer.json"));
    writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ model_max_length: 8 }));
    const limited = await Tokenizer.fromPretrained(dir);
    expect(limited.modelMaxLength).toBe(8);
    expect((await limited.encodeBatch([big.truncated[0].text])).inputIds.shape).toEqual([1, 8]);
    writeFileSync(path.join(dir, "tokenizer_config.json"), '{"model_max_length": 1000000000000000019884624838656}');
    expect((await Tokenizer.fromPretrained(dir)).modelMaxLength).toBeNull();
    writeFileSync(path.join(dir, "tokenizer_config.json"), "{");
    const error = await caught(Tokenizer.fromPretrained(dir));
    expect(error.code).toBe("LTGBERT_BAD_CONFIG");
    expect(error.message).toContain("tokenizer_config.json");
  });

  it("bad arguments are LTGBERT_INVALID_ARGUMENT naming the parameter", async () => {
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => tok.encodeBatch([]), /^texts: expected a non-empty array/],
      [() => tok.encodeBatch(["a", 3 as unknown as string]), /^texts\[1\]: expected a string or a \[string, string\]/],
      [() => tok.encodeBatch(["a"], { maxLength: 0 }), /^options\.maxLength: expected a positive integer/],
      [() => tok.encodeBatch(["a"], { maxLength: 2 }), /^options\.maxLength: expected more than the 2 special tokens/],
      [() => tok.encodeBatch([["a", "b"]], { maxLength: 3 }), /^options\.maxLength: expected more than the 3/],
      [() => tok.encodeBatch(["a"], { padding: "max" as "none" }), /^options\.padding/],
      [() => tok.decode([1, -1]), /^ids\[1\]: expected a token id/],
    ];
    for (const [call, pattern] of cases) {
      const error = await caught(call());
      expect(error.code).toBe("LTGBERT_INVALID_ARGUMENT");
      expect(error.message).toMatch(pattern);
    }
  });
});
