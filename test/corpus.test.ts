// The masked-LM corpus stream: packing into [CLS] … [SEP] sequences of the
// exact length (checked against the token stream built here from the
// file's lines), document and file boundaries, the seeded block shuffle,
// exact resumption from any batch's position, and bad input. (Reading a
// large file in bounded memory: corpus-memory.test.ts.)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  IGNORE_INDEX,
  MaskedLMCorpus,
  Tokenizer,
  type CorpusBatch,
  type CorpusOptions,
  type CorpusPosition,
} from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

const CORPUS = path.join(FIXTURES, "corpus");
const FIRST = path.join(CORPUS, "wikitext-2-valid-1-60.txt");
const SECOND = path.join(CORPUS, "wikitext-2-valid-61-80.txt");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-corpus-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let tok: Tokenizer;
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm-10m"));
});

async function all(corpus: MaskedLMCorpus, from?: CorpusPosition): Promise<CorpusBatch[]> {
  const out: CorpusBatch[] = [];
  for await (const batch of corpus.batches(from)) out.push(batch);
  return out;
}

/** The rows of the batches before masking (labels hold the originals where masked), as arrays. */
function originalRows(batches: CorpusBatch[]): number[][] {
  const rows: number[][] = [];
  for (const b of batches) {
    const [B, T] = b.inputIds.shape;
    for (let r = 0; r < B; r++) {
      const row: number[] = [];
      for (let t = 0; t < T; t++) {
        const label = b.labels.data[r * T + t];
        row.push(label === IGNORE_INDEX ? b.inputIds.data[r * T + t] : label);
      }
      rows.push(row);
    }
  }
  return rows;
}

/**
 * The expected rows, built from the rule: documents (runs of non-empty
 * lines; every line with `perLine`; a file's end ends one) joined with
 * [SEP], cut into pieces of T − 2 where a joining [SEP] that would start a
 * piece is dropped, each written [CLS] piece [SEP] and the last padded.
 */
async function expectedRows(files: string[], T: number, perLine: boolean): Promise<number[][]> {
  const documents: number[][] = [];
  for (const file of files) {
    let current: number[] = [];
    for (const raw of readFileSync(file, "utf8").split("\n")) {
      const line = raw.trim();
      if (line !== "") {
        const { ids } = await tok.encodeWithoutSpecialTokens([line]);
        current.push(...ids);
      }
      if ((line === "" || perLine) && current.length > 0) {
        documents.push(current);
        current = [];
      }
    }
    if (current.length > 0) documents.push(current);
  }
  const rows: number[][] = [];
  let piece: number[] = [];
  const flush = (): void => {
    const row = [tok.clsTokenId, ...piece, tok.sepTokenId];
    while (row.length < T) row.push(tok.padTokenId);
    rows.push(row);
    piece = [];
  };
  documents.forEach((doc, d) => {
    const tokens = d === 0 ? doc : [tok.sepTokenId, ...doc];
    tokens.forEach((id, i) => {
      if (piece.length === 0 && d > 0 && i === 0) return; // no joining [SEP] at a piece's start
      piece.push(id);
      if (piece.length === T - 2) flush();
    });
  });
  if (piece.length > 0) flush();
  return rows;
}

function open(files: string | string[], options: CorpusOptions): Promise<MaskedLMCorpus> {
  return MaskedLMCorpus.open(files, tok, options);
}

describe("packing", () => {
  it("cuts the files' token stream into [CLS] … [SEP] rows of exactly sequenceLength, documents joined by [SEP]", async () => {
    const T = 32;
    const corpus = await open([FIRST, SECOND], { sequenceLength: T, batchSize: 5, shuffle: false, readChunkSize: 500 });
    const batches = await all(corpus);
    const rows = originalRows(batches);
    expect(rows).toEqual(await expectedRows([FIRST, SECOND], T, false));
    expect(rows.length).toBeGreaterThan(100);
    batches.forEach((b, i) => {
      expect(b.inputIds.shape[1]).toBe(T);
      expect(b.index).toBe(i);
      expect(b.last).toBe(i === batches.length - 1);
      if (!b.last) expect(b.inputIds.shape[0]).toBe(5);
    });
    // Attention 1 up to each row's closing [SEP], 0 on the last row's padding only.
    const lastBatch = batches[batches.length - 1];
    const lastRow = rows[rows.length - 1];
    const real = lastRow.lastIndexOf(tok.sepTokenId) + 1;
    const B = lastBatch.inputIds.shape[0];
    expect(Array.from(lastBatch.attentionMask.data.subarray((B - 1) * T, B * T))).toEqual(
      Array.from({ length: T }, (_, t) => (t < real ? 1 : 0)),
    );
    for (const b of batches.slice(0, -1)) expect(b.attentionMask.data.every((m) => m === 1)).toBe(true);
    expect(await corpus.countSequences()).toBe(rows.length);
    expect(await corpus.countBatches()).toBe(batches.length);
    // Progress through the epoch's bytes never goes back, and ends at 1.
    const progress = batches.map((b) => b.progress);
    expect(progress.every((p, i) => i === 0 || p >= progress[i - 1])).toBe(true);
    expect(progress[progress.length - 1]).toBe(1);
  });

  it('with documentBoundary "line", every line is a document', async () => {
    const corpus = await open(FIRST, { sequenceLength: 48, batchSize: 4, shuffle: false, documentBoundary: "line" });
    expect(originalRows(await all(corpus))).toEqual(await expectedRows([FIRST], 48, true));
  });

  it("reads CRLF line ends and a byte-order mark as LF text", async () => {
    const crlf = path.join(work, "crlf.txt");
    writeFileSync(crlf, `\uFEFF${readFileSync(FIRST, "utf8").replace(/\n/g, "\r\n")}`);
    const options = { sequenceLength: 32, batchSize: 4, shuffle: false, readChunkSize: 700 };
    const a = originalRows(await all(await open(FIRST, options)));
    expect(originalRows(await all(await open(crlf, options)))).toEqual(a);
  });
});

describe("shuffling and resumption", () => {
  const options: CorpusOptions = { sequenceLength: 24, batchSize: 3, shuffleBuffer: 7, readChunkSize: 300, seed: 5 };

  it("shuffles within blocks: the same rows in another order, the same for the same seed", async () => {
    const plain = originalRows(await all(await open([FIRST, SECOND], { ...options, shuffle: false })));
    const shuffled = originalRows(await all(await open([FIRST, SECOND], options)));
    const again = originalRows(await all(await open([FIRST, SECOND], options)));
    const other = originalRows(await all(await open([FIRST, SECOND], { ...options, seed: 6 })));
    const sorted = (rows: number[][]): string[] => rows.map((r) => r.join(",")).sort();
    expect(sorted(shuffled)).toEqual(sorted(plain));
    expect(shuffled).not.toEqual(plain);
    expect(again).toEqual(shuffled);
    expect(other).not.toEqual(shuffled);
    // A row moves within its block only: at most a block and a batch away.
    const position = new Map(plain.map((r, i) => [r.join(","), i]));
    shuffled.forEach((r, i) => expect(Math.abs(position.get(r.join(","))! - i)).toBeLessThan(7 + 3 + 24));
  });

  it("resumed from any batch's position (through JSON), gives the batches that followed", async () => {
    const corpus = await open([FIRST, SECOND], options);
    const straight = await all(corpus);
    expect(straight.length).toBeGreaterThan(60);
    for (let k = 0; k < straight.length - 1; k += 5) {
      const saved = JSON.parse(JSON.stringify(straight[k].next)) as CorpusPosition;
      const resumed = await all(await open([FIRST, SECOND], options), saved);
      expect(resumed.length).toBe(straight.length - k - 1);
      resumed.forEach((b, i) => {
        const want = straight[k + 1 + i];
        expect(b.index).toBe(want.index);
        expect(b.inputIds.data).toEqual(want.inputIds.data);
        expect(b.labels.data).toEqual(want.labels.data);
        expect(b.attentionMask.data).toEqual(want.attentionMask.data);
      });
    }
    // After the last batch comes the next epoch: reshuffled and masked anew.
    const last = straight[straight.length - 1];
    expect(last.next).toEqual(MaskedLMCorpus.start(1));
    const epoch1 = await all(corpus, last.next);
    expect(epoch1.every((b) => b.epoch === 1)).toBe(true);
    const sorted = (rows: number[][]): string[] => rows.map((r) => r.join(",")).sort();
    expect(sorted(originalRows(epoch1))).toEqual(sorted(originalRows(straight)));
    expect(originalRows(epoch1)).not.toEqual(originalRows(straight));
  });
});

describe("bad input", () => {
  it("a missing file, an empty corpus, bad options and a bad position", async () => {
    await expect(open(path.join(work, "missing.txt"), {})).rejects.toMatchObject({
      code: "LTGBERT_FILE_NOT_FOUND",
      message: expect.stringMatching(/missing\.txt: no such file/),
    });
    const empty = path.join(work, "empty.txt");
    writeFileSync(empty, "\n  \n\n");
    const corpus = await open(empty, {});
    await expect(all(corpus)).rejects.toMatchObject({ code: "LTGBERT_BAD_DATA", message: /no text/ });
    await expect(corpus.countSequences()).rejects.toMatchObject({ code: "LTGBERT_BAD_DATA" });
    await expect(open(FIRST, { sequenceLength: 2 })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringMatching(/options\.sequenceLength: expected an integer >= 3, got 2/),
    });
    await expect(open(FIRST, { documentBoundary: "page" as "line" })).rejects.toThrow(/options\.documentBoundary/);
    await expect(MaskedLMCorpus.open([], tok)).rejects.toThrow(/files: expected a text file path/);
    const good = await open(FIRST, {});
    await expect(all(good, { ...MaskedLMCorpus.start(), carry: [-1] })).rejects.toThrow(/position: expected/);
  });
});
