// Span masking as LTG-BERT's pretraining does it, checked by counting over
// many draws: the share of tokens chosen, the [MASK] / random / kept split,
// the span lengths against the truncated geometric distribution written
// out here from its formula, and what is never chosen (special tokens,
// padding); plus determinism by seed and a resumable random stream.
import { describe, expect, it } from "vitest";
import {
  drawSpanLength,
  IGNORE_INDEX,
  LtgBertError,
  maskTokens,
  Random,
  type IdTensor,
  type MaskOptions,
} from "../lib/index.js";

// The BabyLM tokenizer's layout: [UNK] 0, [CLS] 1, [SEP] 2, [PAD] 3, [MASK] 4, [PAR] 5, [TAB] 6.
const [CLS, SEP, PAD, MASK] = [1, 2, 3, 4];
const SPECIAL = [0, 1, 2, 3, 4, 5, 6];
const VOCAB = 16384;

/** P(length = k) of a geometric(1/3) length truncated to 1..9, from the formula. */
function spanProbability(k: number): number {
  const q = 2 / 3;
  return ((1 / 3) * q ** (k - 1)) / (1 - q ** 9);
}

interface Made {
  ids: IdTensor;
  mask: IdTensor;
}

/**
 * B rows of T: [CLS] words [SEP] [PAD]…, the number of words drawn per row;
 * with `joins`, some rows hold two documents: `… [SEP] …` inside.
 */
function makeBatch(B: number, T: number, seed: number, joins: boolean): Made {
  const random = new Random(seed, 7);
  const ids = new Int32Array(B * T).fill(PAD);
  const mask = new Int32Array(B * T);
  for (let r = 0; r < B; r++) {
    const length = T / 2 + random.int(T / 2 + 1); // [CLS] … [SEP] within the row
    const row = r * T;
    ids[row] = CLS;
    for (let t = 1; t < length - 1; t++) ids[row + t] = 7 + random.int(VOCAB - 7);
    ids[row + length - 1] = SEP;
    if (joins && r % 3 === 0) ids[row + 1 + random.int(length - 2)] = SEP;
    mask.fill(1, row, row + length);
  }
  return { ids: { data: ids, shape: [B, T] }, mask: { data: mask, shape: [B, T] } };
}

function options(random: Random, extra: Partial<MaskOptions> = {}): MaskOptions {
  return { maskTokenId: MASK, vocabSize: VOCAB, specialTokenIds: SPECIAL, random, ...extra };
}

/** Checks every position and span against the rule; gives the counts. */
function audit(made: Made, out: ReturnType<typeof maskTokens>) {
  const [B, T] = made.ids.shape;
  const ids = made.ids.data;
  const counts = { maskable: 0, chosen: 0, masked: 0, kept: 0, random: 0 };
  const problems: string[] = [];
  const problem = (message: string): void => void (problems.length < 5 && problems.push(message));
  for (let i = 0; i < B * T; i++) {
    const maskable = made.mask.data[i] === 1 && !SPECIAL.includes(ids[i]);
    if (maskable) counts.maskable++;
    const label = out.labels.data[i];
    const input = out.inputIds.data[i];
    if (label === IGNORE_INDEX) {
      if (input !== ids[i]) problem(`${i}: not chosen, but the input changed`);
      continue;
    }
    if (!maskable) problem(`${i}: chose id ${ids[i]} (attention ${made.mask.data[i]})`);
    if (label !== ids[i]) problem(`${i}: label ${label}, original ${ids[i]}`);
    counts.chosen++;
    if (input === MASK) counts.masked++;
    else if (input === ids[i]) counts.kept++;
    else {
      counts.random++;
      if (SPECIAL.includes(input) || input < 0 || input >= VOCAB) problem(`${i}: random id ${input}`);
    }
  }
  // The spans are contiguous, disjoint, within one row, and cover exactly the chosen positions.
  const covered = new Uint8Array(B * T);
  const spans = out.spans;
  expect(spans.length % 3).toBe(0);
  for (let s = 0; s < spans.length; s += 3) {
    const [r, start, length] = [spans[s], spans[s + 1], spans[s + 2]];
    if (length < 1 || length > 9 || start < 0 || start + length > T) problem(`span ${r}/${start}/${length}`);
    for (let t = start; t < start + length; t++) {
      if (covered[r * T + t] === 1) problem(`${r * T + t}: in two spans`);
      covered[r * T + t] = 1;
    }
  }
  for (let i = 0; i < B * T; i++) {
    if ((covered[i] === 1) !== (out.labels.data[i] !== IGNORE_INDEX)) problem(`${i}: spans and labels disagree`);
  }
  expect(problems).toEqual([]);
  return counts;
}

describe("maskTokens", () => {
  it("chooses 15% of the maskable tokens in spans, 80/10/10 per token, never special tokens or padding", () => {
    const made = makeBatch(2100, 128, 1, true); // about 200k maskable tokens
    const out = maskTokens(made.ids, made.mask, options(new Random(42)));
    const c = audit(made, out);
    expect(c.maskable).toBeGreaterThan(190_000);
    expect(Math.abs(c.chosen / c.maskable - 0.15)).toBeLessThan(0.005);
    expect(Math.abs(c.masked / c.chosen - 0.8)).toBeLessThan(0.01);
    expect(Math.abs(c.random / c.chosen - 0.1)).toBeLessThan(0.01);
    expect(Math.abs(c.kept / c.chosen - 0.1)).toBeLessThan(0.01);
    // A span never runs over the [SEP] between two documents of a row (audit:
    // every span position is chosen, and [SEP] never is), and every row with
    // maskable tokens has at least one chosen.
    for (let r = 0; r < 2100; r++) {
      expect(out.labels.data.subarray(r * 128, (r + 1) * 128).some((l) => l !== IGNORE_INDEX)).toBe(true);
    }
  });

  it('with replacement "span", one choice per span: each span is all [MASK], all kept or all random', () => {
    const made = makeBatch(2100, 128, 2, false);
    const out = maskTokens(made.ids, made.mask, options(new Random(43), { replacement: "span" }));
    const c = audit(made, out);
    expect(Math.abs(c.chosen / c.maskable - 0.15)).toBeLessThan(0.005);
    // Per span the token shares vary more: a wider tolerance.
    expect(Math.abs(c.masked / c.chosen - 0.8)).toBeLessThan(0.015);
    expect(Math.abs(c.random / c.chosen - 0.1)).toBeLessThan(0.015);
    expect(Math.abs(c.kept / c.chosen - 0.1)).toBeLessThan(0.015);
    const T = 128;
    for (let s = 0; s < out.spans.length; s += 3) {
      const at = out.spans[s] * T + out.spans[s + 1];
      const kinds = new Set<string>();
      for (let i = at; i < at + out.spans[s + 2]; i++) {
        const input = out.inputIds.data[i];
        kinds.add(input === MASK ? "mask" : input === made.ids.data[i] ? "kept" : "random");
      }
      // A random draw may equal the original (1 in 16k): "kept" may then join "random".
      kinds.delete(kinds.has("random") ? "kept" : "");
      expect(kinds.size).toBe(1);
    }
  });

  it("draws span lengths from a geometric(1/3) truncated to 1..9 (LTG-BERT's length mod 10)", () => {
    // The length distribution itself.
    const random = new Random(5);
    const histogram = new Array<number>(10).fill(0);
    const draws = 100_000;
    for (let i = 0; i < draws; i++) histogram[drawSpanLength(random)]++;
    expect(histogram[0]).toBe(0);
    let mean = 0;
    for (let k = 1; k <= 9; k++) {
      mean += k * spanProbability(k);
      // Binomial standard error at most 0.0015 here: 4 of them.
      expect(Math.abs(histogram[k] / draws - spanProbability(k))).toBeLessThan(0.006);
    }
    expect(mean).toBeCloseTo(2.7597, 3);

    // The spans maskTokens places: long rows, so that spans cut at a row's
    // ends are few; those (touching [CLS] or [SEP]) and each row's last span
    // (cut to reach the count) are left out.
    const T = 2048;
    const B = 100;
    const ids = new Int32Array(B * T);
    const r0 = new Random(9);
    for (let r = 0; r < B; r++) {
      ids[r * T] = CLS;
      for (let t = 1; t < T - 1; t++) ids[r * T + t] = 7 + r0.int(VOCAB - 7);
      ids[r * T + T - 1] = SEP;
    }
    const out = maskTokens({ data: ids, shape: [B, T] }, null, options(new Random(11)));
    const lengths: number[] = [];
    for (let s = 0; s < out.spans.length; s += 3) {
      const lastOfRow = s + 3 >= out.spans.length || out.spans[s + 3] !== out.spans[s];
      const [start, length] = [out.spans[s + 1], out.spans[s + 2]];
      if (lastOfRow || start === 1 || start + length === T - 1) continue;
      lengths.push(length);
    }
    expect(lengths.length).toBeGreaterThan(10_000);
    const measured = lengths.reduce((a, b) => a + b, 0) / lengths.length;
    // Standard error of the mean about 0.019 (sd 1.9): 3 of them.
    expect(Math.abs(measured - mean)).toBeLessThan(0.06);
    const ones = lengths.filter((l) => l === 1).length / lengths.length;
    expect(Math.abs(ones - spanProbability(1))).toBeLessThan(0.015);
  });

  it("is deterministic by seed, and a saved random state continues the same stream", () => {
    const made = makeBatch(64, 128, 3, true);
    const a = maskTokens(made.ids, made.mask, options(new Random(7)));
    const b = maskTokens(made.ids, made.mask, options(new Random(7)));
    const c = maskTokens(made.ids, made.mask, options(new Random(8)));
    expect(b.inputIds.data).toEqual(a.inputIds.data);
    expect(b.labels.data).toEqual(a.labels.data);
    expect(b.spans).toEqual(a.spans);
    expect(c.labels.data).not.toEqual(a.labels.data);
    // Two batches from one stream equal two batches from a stream saved and restored in between.
    const straight = new Random(21);
    maskTokens(made.ids, made.mask, options(straight));
    const second = maskTokens(made.ids, made.mask, options(straight));
    const first = new Random(21);
    maskTokens(made.ids, made.mask, options(first));
    const restored = Random.fromState(JSON.parse(JSON.stringify(first.state)) as number[]);
    expect(maskTokens(made.ids, made.mask, options(restored)).inputIds.data).toEqual(second.inputIds.data);
    // Different tuples give different streams.
    expect(new Random(1, 0, 1).nextUint32()).not.toBe(new Random(1, 1, 0).nextUint32());
  });

  it("a row with a single maskable token gets it chosen; a row with none gets nothing", () => {
    const ids = Int32Array.from([CLS, 100, SEP, PAD, CLS, SEP, PAD, PAD]);
    const mask = Int32Array.from([1, 1, 1, 0, 1, 1, 0, 0]);
    const out = maskTokens({ data: ids, shape: [2, 4] }, { data: mask, shape: [2, 4] }, options(new Random(1)));
    expect(Array.from(out.labels.data)).toEqual([-100, 100, -100, -100, -100, -100, -100, -100]);
  });

  it("checks its options, naming the one at fault", () => {
    const made = makeBatch(2, 16, 4, false);
    const fails = (extra: Partial<MaskOptions>, pattern: RegExp): void => {
      let error: unknown;
      try {
        maskTokens(made.ids, made.mask, { ...options(new Random(1)), ...extra });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LtgBertError);
      expect((error as LtgBertError).code).toBe("LTGBERT_INVALID_ARGUMENT");
      expect((error as LtgBertError).message).toMatch(pattern);
    };
    fails({ maskProbability: 0 }, /options\.maskProbability: expected a number in \(0, 1\], got 0/);
    fails({ maxSpanLength: 0 }, /options\.maxSpanLength/);
    fails({ randomProbability: 0.6, keepProbability: 0.6 }, /randomProbability \+ keepProbability/);
    fails({ maskTokenId: VOCAB }, /options\.maskTokenId/);
    fails({ random: {} as Random }, /options\.random: expected a Random/);
    fails({ replacement: "word" as "span" }, /options\.replacement/);
    expect(() => maskTokens({ data: new Int32Array(3), shape: [2, 2] }, null, options(new Random(1)))).toThrow(
      /inputIds: expected/,
    );
  });
});
