// Training a WordPiece tokenizer laid out as LTG-BERT's: the vocabulary
// size asked for, the special tokens at ids 0–6, the BabyLM tokenizer.json's
// pipeline (compared with the real file), texts that come back as they went
// in, the same vocabulary on every run, and the lowercasing option.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LTG_BERT_SPECIAL_TOKENS, trainTokenizer } from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

const FILES = ["wikitext-2-valid-1-60.txt", "wikitext-2-valid-61-80.txt"].map((f) => path.join(FIXTURES, "corpus", f));
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-tokenizer-train-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Json = Record<string, unknown> & { model: Record<string, unknown> & { vocab: Record<string, number> } };
const readJson = (file: string): Json => JSON.parse(readFileSync(file, "utf8")) as Json;

describe("trainTokenizer", () => {
  it("trains a vocabulary of the size asked for, LTG-BERT's special tokens first, with the BabyLM file's pipeline", async () => {
    const dir = path.join(work, "v1000");
    const tok = await trainTokenizer(FILES, { vocabSize: 1000, outputDir: dir });
    expect(tok.vocabSize).toBe(1000);
    LTG_BERT_SPECIAL_TOKENS.forEach((token, id) => expect(tok.tokenToId(token)).toBe(id));
    expect([tok.unkTokenId, tok.clsTokenId, tok.sepTokenId, tok.padTokenId, tok.maskTokenId]).toEqual([0, 1, 2, 3, 4]);
    expect([...tok.specialTokenIds].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);

    const trained = readJson(path.join(dir, "tokenizer.json"));
    const babylm = readJson(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm", "tokenizer.json"));
    for (const key of ["normalizer", "pre_tokenizer", "post_processor", "decoder", "added_tokens"]) {
      expect(trained[key], key).toEqual(babylm[key]);
    }
    const { vocab: _v1, ...model } = trained.model;
    const { vocab: _v2, ...babylmModel } = babylm.model;
    expect(model).toEqual(babylmModel); // WordPiece, [UNK], no continuation prefix, 100 characters a word
    const ids = Object.values(trained.model.vocab).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => i));

    // Lines of the corpus come back as they went in (the decoder keeps the
    // space the pre-tokenizer put before the first word).
    const lines = readFileSync(FILES[0], "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
    for (const line of lines.slice(0, 12)) {
      const encoded = await tok.encode(line);
      expect(encoded[0]).toBe(1);
      expect(encoded[encoded.length - 1]).toBe(2);
      expect(encoded).not.toContain(0); // no [UNK]: every character was seen
      expect((await tok.decode(encoded)).trim()).toBe(line);
    }
    // Subwords carry no "##": a word start is marked by the byte-level "Ġ".
    expect(Object.keys(trained.model.vocab).some((t) => t.startsWith("##"))).toBe(false);
    expect(tok.tokenToId("Ġthe")).not.toBeNull();
  });

  it("gives the same vocabulary on every run; a smaller one is its first ids", async () => {
    const a = readJson(path.join(work, "v1000", "tokenizer.json")).model.vocab;
    await trainTokenizer(FILES, { vocabSize: 1000, outputDir: path.join(work, "again") });
    expect(readJson(path.join(work, "again", "tokenizer.json")).model.vocab).toEqual(a);
    await trainTokenizer(FILES, { vocabSize: 400, outputDir: path.join(work, "v400") });
    const small = readJson(path.join(work, "v400", "tokenizer.json")).model.vocab;
    expect(small).toEqual(Object.fromEntries(Object.entries(a).filter(([, id]) => id < 400)));
  });

  it("lowercases the corpus and every later input with lowercase: true", async () => {
    const cased = await trainTokenizer(FILES, { vocabSize: 1000, outputDir: path.join(work, "cased") });
    expect(cased.lowercase).toBe(false);
    expect(await cased.encode("The Cat")).not.toEqual(await cased.encode("the cat"));

    const dir = path.join(work, "lower");
    const tok = await trainTokenizer(FILES, { vocabSize: 1000, outputDir: dir, lowercase: true });
    expect(tok.lowercase).toBe(true);
    const json = readJson(path.join(dir, "tokenizer.json"));
    expect(json.normalizer).toEqual({ type: "Lowercase" }); // Python's tokenizers applies it too
    const learned = Object.keys(json.model.vocab).filter((t) => !LTG_BERT_SPECIAL_TOKENS.includes(t));
    expect(learned.filter((t) => /[A-Z]/.test(t))).toEqual([]); // trained on lowercased text
    expect(learned.filter((t) => /[A-Z]/.test(t)).length).toBeLessThan(
      Object.keys(readJson(path.join(work, "cased", "tokenizer.json")).model.vocab).filter((t) => /[A-Z]/.test(t))
        .length,
    );
    expect(await tok.encode("The CAT sat")).toEqual(await tok.encode("the cat sat"));
    expect(await tok.decode(await tok.encode("The CAT sat"))).toBe(" the cat sat");
    await expect(trainTokenizer(FILES, { outputDir: dir, lowercase: "yes" as unknown as boolean })).rejects.toThrow(
      /options\.lowercase: expected true or false/,
    );
  });

  it("checks the vocabulary size and the files", async () => {
    const outputDir = path.join(work, "bad");
    await expect(trainTokenizer(FILES, { vocabSize: 30008, outputDir })).rejects.toThrow(
      /options\.vocabSize: expected an integer in \[8, 30007\], got 30008/,
    );
    await expect(trainTokenizer(FILES, { vocabSize: 20, outputDir })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringMatching(
        /options\.vocabSize: expected at least \d+ \(the 7 special tokens and the corpus's \d+ characters\)/,
      ),
    });
    await expect(trainTokenizer(path.join(work, "nope.txt"), { outputDir })).rejects.toMatchObject({
      code: "LTGBERT_FILE_NOT_FOUND",
    });
  });
});
