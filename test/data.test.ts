// Datasets: reading SST-2 and small hand-written files, the errors each kind
// of bad row gives, the seeded order and the padded batches.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodeDataset,
  LtgBertError,
  LtgBertForSequenceClassification,
  makeBatches,
  planBatches,
  readDataset,
  shuffle,
  Tokenizer,
  type Dataset,
  type ReadDatasetOptions,
} from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

const SST2 = path.join(FIXTURES, "sst2");
const SHARED_SST2_TRAIN = path.resolve(FIXTURES, "..", "..", "..", "shared", "data", "sst2", "train.tsv");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-data-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let tok: Tokenizer;
beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm"));
});

/** Writes `text` to a fresh file in the temporary folder. */
function file(name: string, text: string): string {
  const p = path.join(work, name);
  writeFileSync(p, text);
  return p;
}

async function bad(promise: Promise<unknown>, code = "LTGBERT_BAD_DATA"): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LtgBertError);
    expect((error as LtgBertError).code).toBe(code);
    return (error as LtgBertError).message;
  }
  throw new Error("expected a rejection");
}

/** Rows of a TSV by a plain split, for expectations that do not go through the reader. */
function plainRows(p: string): string[][] {
  return readFileSync(p, "utf8")
    .split("\n")
    .slice(1)
    .filter((l) => l !== "")
    .map((l) => l.split("\t"));
}

function counts(labels: Int32Array): Record<number, number> {
  const out: Record<number, number> = {};
  for (const l of labels) out[l] = (out[l] ?? 0) + 1;
  return out;
}

describe("readDataset on SST-2", () => {
  it("reads the 2,000-row train slice: texts trimmed, labels, lines", async () => {
    const p = path.join(SST2, "train-2000.tsv");
    const ds = await readDataset(p, { numLabels: 2 });
    expect(ds.size).toBe(2000);
    expect(ds.textColumn).toBe("sentence");
    expect(ds.labelColumn).toBe("label");
    expect(ds.pairs).toBeUndefined();
    // Counted with awk -F'\t' 'NR>1 {c[$2]++}' on the file (see its README).
    expect(counts(ds.labels)).toEqual({ 0: 899, 1: 1101 });
    expect(ds.labelNames).toEqual(["0", "1"]);
    const rows = plainRows(p);
    expect(ds.texts).toEqual(rows.map(([s]) => s.trim()));
    expect(Array.from(ds.labels)).toEqual(rows.map(([, l]) => Number(l)));
    expect(ds.texts[0]).toBe("hide new secretions from the parental units");
    expect(ds.lines[0]).toBe(2);
    expect(ds.lines[1999]).toBe(2001);
  });

  it("reads the dev set: 872 rows, 444 positive, 428 negative (GLUE's counts)", async () => {
    const ds = await readDataset(path.join(SST2, "dev.tsv"));
    expect(ds.size).toBe(872);
    expect(counts(ds.labels)).toEqual({ 0: 428, 1: 444 });
  });

  it.skipIf(!existsSync(SHARED_SST2_TRAIN))(
    "reads the whole SST-2 train file: 67,349 rows (needs ../shared/data beside the repository)",
    async () => {
      const ds = await readDataset(SHARED_SST2_TRAIN);
      expect(ds.size).toBe(67349);
      // The shared data README's (and GLUE's) counts.
      expect(counts(ds.labels)).toEqual({ 0: 29780, 1: 37569 });
    },
  );

  it("can keep the text untrimmed", async () => {
    const ds = await readDataset(path.join(SST2, "dev.tsv"), { trim: false });
    expect(ds.texts[0].endsWith(" ")).toBe(true);
  });
});

describe("readDataset on other files", () => {
  it("CSV: quoted commas, doubled quotes, a line break in a field, CRLF, a BOM", async () => {
    const p = file(
      "quoted.csv",
      '\uFEFFid,text,label\r\n1,"good, really good",pos\r\n2,"she said ""meh""",neg\r\n\r\n3,"two\r\nlines",pos\r\n4,plain,neg\r\n',
    );
    const ds = await readDataset(p);
    expect(ds.texts).toEqual(["good, really good", 'she said "meh"', "two\r\nlines", "plain"]);
    expect(ds.labelNames).toEqual(["neg", "pos"]);
    expect(Array.from(ds.labels)).toEqual([1, 0, 1, 0]);
    expect(Array.from(ds.lines)).toEqual([2, 3, 5, 7]);
    const lf = await readDataset(file("multiline.csv", 'text,label\n"a\n\nb",0\n\nc,1\n"d\r\ne",0\nf,1,2\n'), {}).catch(
      (error: LtgBertError) => error,
    );
    expect(lf).toBeInstanceOf(LtgBertError);
    expect((lf as LtgBertError).message).toMatch(/:9: malformed CSV: .*expect 2, got 3/);
  });

  it("TSV: a double quote is text", async () => {
    const p = file("quotes.tsv", 'sentence\tlabel\nhe said "no\t0\n"quoted" start\t1\n');
    const ds = await readDataset(p);
    expect(ds.texts).toEqual(['he said "no', '"quoted" start']);
  });

  it("JSON lines: integer labels, blank lines skipped, line numbers kept", async () => {
    const p = file(
      "data.jsonl",
      '{"text": "first", "label": 2}\n\n{"text": "second", "label": 0, "extra": [1]}\n{"text": "third", "label": 1}\n',
    );
    const ds = await readDataset(p, { numLabels: 3 });
    expect(ds.texts).toEqual(["first", "second", "third"]);
    expect(Array.from(ds.labels)).toEqual([2, 0, 1]);
    expect(Array.from(ds.lines)).toEqual([1, 3, 4]);
    expect(ds.labelNames).toEqual(["0", "1", "2"]);
  });

  it("string labels get ids in sorted order; a labelMap gives its own", async () => {
    const p = file("nli.tsv", "premise\thypothesis\tlabel\na\tb\tneutral\nc\td\tentailment\ne\tf\tcontradiction\n");
    const ds = await readDataset(p);
    expect(ds.textColumn).toBe("premise");
    expect(ds.textPairColumn).toBe("hypothesis");
    expect(ds.pairs).toEqual(["b", "d", "f"]);
    expect(ds.labelNames).toEqual(["contradiction", "entailment", "neutral"]);
    expect(Array.from(ds.labels)).toEqual([2, 1, 0]);
    const mapped = await readDataset(p, { labelMap: { entailment: 0, neutral: 1, contradiction: 2 } });
    expect(mapped.labelNames).toEqual(["entailment", "neutral", "contradiction"]);
    expect(Array.from(mapped.labels)).toEqual([1, 0, 2]);
    const viaMap = await readDataset(p, {
      labelMap: new Map([
        ["neutral", 0],
        ["entailment", 1],
        ["contradiction", 2],
      ]),
    });
    expect(Array.from(viaMap.labels)).toEqual([0, 1, 2]);
  });

  it("named columns and a labels column", async () => {
    const p = file("named.csv", "review,stars,labels\nfine,5,1\nbad,1,0\n");
    const ds = await readDataset(p, { textColumn: "review" });
    expect(ds.labelColumn).toBe("labels");
    expect(ds.texts).toEqual(["fine", "bad"]);
    const byStars = await readDataset(p, { textColumn: "review", labelColumn: "stars", numLabels: 6 });
    expect(Array.from(byStars.labels)).toEqual([5, 1]);
  });
});

describe("readDataset errors name the file, the line and the value", () => {
  const cases: [string, string, string, ReadDatasetOptions, RegExp][] = [
    [
      "label out of range",
      "r.tsv",
      "sentence\tlabel\nok\t1\nno\t2\n",
      { numLabels: 2 },
      /:3: label "2" is outside \[0, 2\)/,
    ],
    ["negative label", "neg.tsv", "sentence\tlabel\nok\t-1\n", {}, /:2: label "-1" is outside/],
    [
      "more label names than numLabels",
      "names.tsv",
      "sentence\tlabel\na\tx\nb\ty\nc\tz\n",
      { numLabels: 2 },
      /:4: label "z" gets id 2, outside \[0, 2\)/,
    ],
    [
      "label not in labelMap",
      "map.tsv",
      "sentence\tlabel\na\tpos\nb\tmeh\n",
      { labelMap: { pos: 0, neg: 1 } },
      /:3: label "meh" is not in labelMap/,
    ],
    ["empty text", "empty.tsv", "sentence\tlabel\nfine\t0\n   \t1\n", {}, /:3: empty text in "sentence": "   "/],
    ["empty label", "nolabel.tsv", "sentence\tlabel\nfine\t\n", {}, /:2: empty label in "label"/],
    [
      "missing text column",
      "cols.tsv",
      "sentence\tlabel\na\t0\n",
      { textColumn: "review" },
      /:1: no text column "review" in the header; its columns: "sentence", "label"/,
    ],
    [
      "missing label column",
      "nolab.tsv",
      "sentence\tscore\na\t0\n",
      {},
      /:1: no label column "label" in the header; its columns: "sentence", "score"/,
    ],
    [
      "no text column at all",
      "notext.tsv",
      "body\tlabel\na\t0\n",
      {},
      /:1: no text column \(looked for "sentence", "text"/,
    ],
    [
      "wrong field count",
      "fields.tsv",
      "sentence\tlabel\na\t0\nb\t1\textra\n",
      {},
      /:3: malformed TSV: .*expect 2, got 3.*header has 2 fields/,
    ],
    ["unclosed quote", "quote.csv", 'text,label\n"open,0\nb,1\n', {}, /:\d+: malformed CSV: Quote Not Closed/],
    ["stray quote", "stray.csv", 'text,label\nab"c,0\n', {}, /:2: malformed CSV: Invalid Opening Quote/],
    [
      "unparsable JSON line",
      "bad.jsonl",
      '{"text": "a", "label": 0}\n{"text": "b", label: 1}\n',
      {},
      /:2: not valid JSON: .*"\{\\"text\\": \\"b\\", label: 1\}"/,
    ],
    [
      "JSON line not an object",
      "arr.jsonl",
      '{"text": "a", "label": 0}\n[1, 2]\n',
      {},
      /:2: expected a JSON object per line, got an array/,
    ],
    [
      "JSON line missing a field",
      "miss.jsonl",
      '{"text": "a", "label": 0}\n{"text": "b"}\n{"text": "c", "label": 1}\n',
      {},
      /:2: no field "label"; its fields: "text"/,
    ],
    [
      "JSON label of the wrong type",
      "type.jsonl",
      '{"text": "a", "label": [0]}\n',
      {},
      /:1: "label": expected a label .*got an array/,
    ],
    [
      "JSON text of the wrong type",
      "ttype.jsonl",
      '{"text": 5, "label": 0}\n',
      {},
      /:1: "text": expected a string, got 5/,
    ],
    ["header only", "header.tsv", "sentence\tlabel\n", {}, /: no examples/],
    ["empty file", "void.csv", "", {}, /: empty file/],
  ];
  for (const [what, name, text, options, pattern] of cases) {
    it(what, async () => {
      const p = file(name, text);
      const message = await bad(readDataset(p, options));
      expect(message.startsWith(p)).toBe(true);
      expect(message).toMatch(pattern);
    });
  }

  it("a missing file is LTGBERT_FILE_NOT_FOUND", async () => {
    const p = path.join(work, "absent.tsv");
    expect(await bad(readDataset(p), "LTGBERT_FILE_NOT_FOUND")).toContain(p);
  });

  it("bad options are LTGBERT_INVALID_ARGUMENT", async () => {
    const p = file("ok.tsv", "sentence\tlabel\na\t0\n");
    expect(await bad(readDataset(file("x.txt", "a"), {}), "LTGBERT_INVALID_ARGUMENT")).toMatch(/^options\.format/);
    expect(await bad(readDataset(p, { numLabels: 0 }), "LTGBERT_INVALID_ARGUMENT")).toMatch(/^options\.numLabels/);
    expect(await bad(readDataset(p, { labelMap: { a: 0, b: 2 } }), "LTGBERT_INVALID_ARGUMENT")).toMatch(
      /^options\.labelMap: expected ids 0 to 1, each once/,
    );
  });
});

describe("seeded order", () => {
  it("shuffle is a permutation, the same for the same seed, different for another", () => {
    const values = Array.from({ length: 1000 }, (_, i) => i * 3);
    const a = shuffle(values, 7);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(values);
    expect(Array.from(shuffle(values, 7))).toEqual(Array.from(a));
    expect(Array.from(shuffle(values, 8))).not.toEqual(Array.from(a));
    expect(Array.from(a)).not.toEqual(values);
    expect(Array.from(shuffle([], 1))).toEqual([]);
  });

  it("keeps the order it had when this test was written", () => {
    // Not a correctness check: it pins the generator, since changing it would
    // change the batches of a run resumed from an older checkpoint.
    expect(Array.from(shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 42))).toEqual([1, 3, 5, 9, 6, 2, 0, 4, 8, 7]);
  });

  it("shuffle spreads every value over every position (no gross bias)", () => {
    // 4 values, 4,000 seeds: each value should land in each position about 1,000 times.
    const hits = Array.from({ length: 4 }, () => [0, 0, 0, 0]);
    for (let seed = 0; seed < 4000; seed++) shuffle([0, 1, 2, 3], seed).forEach((v, pos) => hits[v][pos]++);
    for (const row of hits) for (const h of row) expect(Math.abs(h - 1000)).toBeLessThan(150);
  });

  it("an epoch's plan depends on (seed, epoch) only and covers every example once", () => {
    const lengths = Array.from({ length: 103 }, (_, i) => 5 + ((i * 37) % 50));
    const plan = (epoch: number, seed = 1) =>
      planBatches(lengths, { batchSize: 10, seed, epoch }).map((b) => Array.from(b));
    expect(plan(3)).toEqual(plan(3));
    expect(plan(3)).not.toEqual(plan(4));
    expect(plan(3, 2)).not.toEqual(plan(3, 1));
    const all = plan(0).flat();
    expect(all.sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    expect(plan(0).map((b) => b.length)).toEqual([...Array(10).fill(10), 3]);
    const dropped = planBatches(lengths, { batchSize: 10, dropLast: true });
    expect(dropped.map((b) => b.length)).toEqual(Array(10).fill(10));
    const fileOrder = planBatches(lengths, { batchSize: 10, shuffle: false });
    expect(fileOrder.flatMap((b) => Array.from(b))).toEqual(lengths.map((_, i) => i));
  });
});

describe("batches", () => {
  let dev: Dataset;
  beforeAll(async () => {
    dev = await readDataset(path.join(SST2, "dev.tsv"));
  });

  it("pads each batch to its own longest example, with the tokenizer's ids and the labels", async () => {
    const batches = await makeBatches(dev, tok, { batchSize: 16, maxLength: 512, seed: 3 });
    expect(batches.length).toBe(Math.ceil(872 / 16));
    const seen: number[] = [];
    for (const batch of batches) {
      const [b, t] = batch.inputIds.shape;
      expect(batch.attentionMask.shape).toEqual([b, t]);
      const rows = await Promise.all(Array.from(batch.indices, (i) => tok.encode(dev.texts[i])));
      expect(t).toBe(Math.max(...rows.map((r) => r.length)));
      rows.forEach((ids, r) => {
        const row = Array.from(batch.inputIds.data.subarray(r * t, (r + 1) * t));
        expect(row).toEqual([...ids, ...Array(t - ids.length).fill(tok.padTokenId)]);
        const mask = Array.from(batch.attentionMask.data.subarray(r * t, (r + 1) * t));
        expect(mask).toEqual([...Array(ids.length).fill(1), ...Array(t - ids.length).fill(0)]);
      });
      expect(Array.from(batch.labels)).toEqual(Array.from(batch.indices, (i) => dev.labels[i]));
      seen.push(...batch.indices);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 872 }, (_, i) => i));
    // The same (seed, epoch) gives the same batches; resuming reads batch k directly.
    const again = await makeBatches(dev, tok, { batchSize: 16, maxLength: 512, seed: 3 });
    expect(Array.from(again.at(5).indices)).toEqual(Array.from(batches.at(5).indices));
  });

  it("tokenizes a dataset once per tokenizer and limit", async () => {
    const a = await encodeDataset(dev, tok, { maxLength: 512 });
    const b = await encodeDataset(dev, tok, { maxLength: 512 });
    expect(b).toBe(a);
    expect(a.offsets.length).toBe(873);
    expect(await encodeDataset(dev, tok, { maxLength: 64 })).not.toBe(a);
  });

  it("group-by-length batches carry less padding than random ones", async () => {
    const train = await readDataset(path.join(SST2, "train-2000.tsv"));
    const { lengths } = await encodeDataset(train, tok, { maxLength: 512 });
    const padding = (plan: Int32Array[]) =>
      plan.reduce((sum, batch) => {
        const ls = Array.from(batch, (i) => lengths[i]);
        return sum + Math.max(...ls) * ls.length - ls.reduce((x, y) => x + y, 0);
      }, 0);
    const random = planBatches(lengths, { batchSize: 32, seed: 5 });
    const grouped = planBatches(lengths, { batchSize: 32, seed: 5, groupByLength: true });
    expect(grouped.flatMap((b) => Array.from(b)).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 2000 }, (_, i) => i),
    );
    expect(padding(grouped)).toBeLessThan(padding(random) / 4);
    // The longest example is in the first batch.
    const longest = Math.max(...lengths);
    expect(Math.max(...Array.from(grouped[0], (i) => lengths[i]))).toBe(longest);
    const batches = await makeBatches(train, tok, { batchSize: 32, maxLength: 512, seed: 5, groupByLength: true });
    expect(batches.at(0).inputIds.shape[1]).toBe(longest);
  });

  it("truncation: false names the file and line of a too-long example", async () => {
    const p = file("long.tsv", `sentence\tlabel\nshort one\t0\n${"a long sentence ".repeat(30)}\t1\n`);
    const ds = await readDataset(p);
    const message = await bad(makeBatches(ds, tok, { batchSize: 2, maxLength: 32, truncation: false }));
    expect(message).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: \\d+ tokens .*maxLength 32`));
    const cut = await makeBatches(ds, tok, { batchSize: 2, maxLength: 32, shuffle: false });
    expect(cut.at(0).inputIds.shape).toEqual([2, 32]);
  });

  it("pair datasets give [CLS] A [SEP] B [SEP] rows", async () => {
    const p = file("pairs.tsv", "sentence1\tsentence2\tlabel\na man sings\tsomeone sings\t1\n");
    const ds = await readDataset(p);
    const [batch] = await makeBatches(ds, tok, { batchSize: 4, maxLength: 512 });
    expect(Array.from(batch.inputIds.data)).toEqual(await tok.encode("a man sings", "someone sings"));
  });

  it("a batch goes straight into model.forward", async () => {
    // A small randomly initialised classifier with the tokenizer's vocabulary: this checks the
    // shapes and types fit the model's input, not its predictions.
    await using model = await LtgBertForSequenceClassification.fromConfig(
      {
        vocab_size: tok.vocabSize,
        hidden_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 48,
        max_position_embeddings: 128,
        position_bucket_size: 8,
      },
      { numLabels: dev.labelNames.length },
    );
    const batches = await makeBatches(dev, tok, { batchSize: 8, maxLength: 128, groupByLength: true });
    const { inputIds, attentionMask, labels } = batches.at(0);
    const out = await model.forward({ inputIds, attentionMask, labels: { data: labels, shape: [labels.length] } });
    expect(out.logits.shape).toEqual([8, 2]);
    expect(Number.isFinite(out.loss)).toBe(true);
  });
});
