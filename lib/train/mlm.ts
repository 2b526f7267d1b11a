// Masked-language-model inputs: a seeded random stream whose state can be
// saved, and LTG-BERT's span masking of a [B, T] batch of token ids.
import { invalidArgument } from "../errors.js";
import { integerIn, isInteger, nonNegativeInteger, number, object, oneOf, positiveInteger } from "../validate.js";
import type { IdTensor } from "../tokenizer.js";

/** The label of a position the loss does not score (PyTorch's `ignore_index`). */
export const IGNORE_INDEX = -100;

/** MurmurHash3's 32-bit finaliser: spreads the bits of a seed. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x = (x ^ (x >>> 13)) >>> 0;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * A seeded random stream (xoshiro128**, Blackman and Vigna): the same seed
 * gives the same numbers on every machine and Node version, and `state` is
 * four integers that a saved run writes down and `Random.fromState` takes
 * back, so a resumed run draws what the uninterrupted one would have.
 *
 * @example
 * const random = new Random(42);
 * random.next();                                  // in [0, 1)
 * const again = Random.fromState(random.state);   // continues the same stream
 */
export class Random {
  readonly #s = new Uint32Array(4);

  /**
   * A stream from a seed and any number of further integers (an epoch, a
   * batch index, a stream name's number): each tuple gives its own stream.
   */
  constructor(seed: number, ...parts: number[]) {
    let h = mix32(nonNegativeInteger("seed", seed) >>> 0);
    // Seeds above 2^32 still count: their high part goes in like a part.
    h = mix32((h + Math.floor(seed / 2 ** 32)) >>> 0);
    parts.forEach((p, i) => (h = mix32((h + mix32(nonNegativeInteger(`parts[${i}]`, p) >>> 0)) >>> 0)));
    for (let i = 0; i < 4; i++) {
      h = mix32((h + 0x9e3779b9) >>> 0); // the golden-ratio increment of SplitMix
      this.#s[i] = h;
    }
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1; // the one state xoshiro cannot leave
  }

  /** A stream that continues from a saved `state`. */
  static fromState(state: readonly number[]): Random {
    if (
      !Array.isArray(state) ||
      state.length !== 4 ||
      state.some((v) => !isInteger(v, 0, 0xffffffff)) ||
      state.every((v) => v === 0)
    ) {
      throw invalidArgument("state", "four integers in [0, 2^32), not all 0 (a Random's state)", state);
    }
    const random = new Random(0);
    random.#s.set(state);
    return random;
  }

  /** The four 32-bit words of the state. */
  get state(): number[] {
    return Array.from(this.#s);
  }

  /** A uniform integer in [0, 2^32). */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A uniform number in [0, 1) with 53 random bits. */
  next(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/**
 * Fisher–Yates shuffle of `values` in place with `random`.
 */
export function shuffleInPlace<T>(values: T[], random: Random): T[] {
  for (let i = values.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
  return values;
}

/** LTG-BERT's span lengths: geometric with success probability 1/3 ... */
const SPAN_P = 1 / 3;
/** ... taken modulo 10, so the longest span is 9 tokens. */
export const LTG_BERT_MAX_SPAN_LENGTH = 9;

/**
 * Draws one span length in [1, maxSpanLength]: a geometric length (success
 * probability 1/3, so P(k) ∝ (2/3)^(k-1)) truncated to maxSpanLength, by
 * inverting its distribution function.
 *
 * LTG-BERT's pretraining code (ltgoslo/ltg-bert, `SpanMaskingStrategy` in
 * `training/mlm_dataset.py` and `babylm/train/dataset.py`) draws
 * G ~ Geometric(1/3) on {1, 2, …} and masks a span of G mod 10 tokens; a
 * draw of length 0 masks nothing and the loop draws again. The lengths it
 * masks are therefore exactly this geometric distribution truncated to
 * 1..9: P(k) = (1/3)(2/3)^(k-1) / (1 − (2/3)^9), mean 2.76.
 */
export function drawSpanLength(random: Random, maxSpanLength = LTG_BERT_MAX_SPAN_LENGTH): number {
  const q = 1 - SPAN_P;
  const mass = 1 - q ** maxSpanLength; // probability of 1..max under the untruncated geometric
  const u = random.next();
  const k = 1 + Math.floor(Math.log(1 - u * mass) / Math.log(q));
  return Math.min(Math.max(k, 1), maxSpanLength); // guards float rounding at the ends
}

/** The probability of a span of length k (1 ≤ k ≤ maxSpanLength) under `drawSpanLength`. */
export function spanLengthProbability(k: number, maxSpanLength = LTG_BERT_MAX_SPAN_LENGTH): number {
  if (!isInteger(k, 1, maxSpanLength)) return 0;
  const q = 1 - SPAN_P;
  return (SPAN_P * q ** (k - 1)) / (1 - q ** maxSpanLength);
}

/** Options of `maskTokens`. */
export interface MaskOptions {
  /** The share of maskable tokens chosen (default 0.15). */
  maskProbability?: number;
  /** The longest span (default 9, LTG-BERT's: lengths are a geometric draw modulo 10). */
  maxSpanLength?: number;
  /** Of the chosen tokens, the share replaced by a random token (default 0.1). */
  randomProbability?: number;
  /** Of the chosen tokens, the share left as they are (default 0.1); the rest become [MASK]. */
  keepProbability?: number;
  /**
   * Whether the [MASK] / random / keep choice is drawn for each chosen
   * token ("token", default: 80/10/10 of the tokens) or once for a whole
   * span ("span", as LTG-BERT's pretraining code does it: 80/10/10 of the
   * spans, so of the tokens on average).
   */
  replacement?: "token" | "span";
  /** The [MASK] token's id. */
  maskTokenId: number;
  /** The vocabulary size: random replacements are ids in [0, vocabSize) that are not special. */
  vocabSize: number;
  /** Ids never chosen and never drawn as a random replacement: [CLS], [SEP], [PAD], [MASK], … */
  specialTokenIds: Iterable<number>;
  /** The random stream; it advances by what the masking draws. */
  random: Random;
}

/** What `maskTokens` gives. */
export interface MaskedBatch {
  /** The ids with the chosen tokens replaced: [MASK], a random id, or kept. */
  inputIds: IdTensor;
  /** [B, T]: the original id at every chosen position, -100 (not scored) elsewhere. */
  labels: IdTensor;
  /** The chosen spans, in the order they were drawn: (row, start, length) triples. */
  spans: Int32Array;
}

// After this many windows in a row that cannot take a span (they overlap a
// chosen span or straddle a special token), the row's next span is one
// token at a uniformly drawn free position, so masking always ends.
const MAX_REJECTIONS = 100;

function idTensor(name: string, value: unknown): IdTensor {
  const t = value as IdTensor;
  if (
    typeof value !== "object" ||
    value === null ||
    !(t.data instanceof Int32Array) ||
    !Array.isArray(t.shape) ||
    t.shape.length !== 2 ||
    !t.shape.every((s) => isInteger(s, 0)) ||
    t.shape[0] * t.shape[1] !== t.data.length
  ) {
    throw invalidArgument(name, "{ data: Int32Array, shape: [B, T] } with B·T values", value);
  }
  return t;
}

/**
 * Chooses tokens to predict in a batch the way LTG-BERT's pretraining does
 * (span masking), and replaces them: the inputs and labels of a masked-LM
 * training step. Deterministic for a given `random` state.
 *
 * For each row, separately:
 * 1. The maskable positions are those with attention 1 whose id is not
 *    special ([CLS], [SEP], [PAD], [MASK], …): E of them.
 * 2. The number to choose is n ~ Binomial(E, maskProbability), at least 1
 *    and at most E (LTG-BERT's BabyLM code keeps at least one, so no
 *    batch has nothing to score).
 * 3. Spans are drawn until n tokens are chosen: a length L (see
 *    `drawSpanLength`) and an offset uniform in [−(L−1), T−1], so every
 *    position is covered by L of the T+L−1 offsets (LTG-BERT's range). The
 *    window's part outside the row, and special tokens and padding at its
 *    ends, are cut off (LTG-BERT leaves such positions out of the span too).
 *    Unlike LTG-BERT, a window is drawn again when it would run over a
 *    special token that has maskable tokens on both sides (so a span never
 *    joins two documents packed into one row), or when it overlaps an
 *    already chosen span (so every span keeps its drawn length), and the
 *    last span is cut so that exactly n tokens are chosen (LTG-BERT's last
 *    span can overshoot n).
 * 4. Each chosen token becomes [MASK] with probability 1 − random − keep
 *    (0.8), a random non-special id with probability `randomProbability`
 *    (0.1), and stays with probability `keepProbability` (0.1); drawn per
 *    token, or per span with `replacement: "span"`. LTG-BERT draws random
 *    ids from [5, vocab), which includes [PAR] (5); here no special id is
 *    ever drawn.
 *
 * @example
 * const random = new Random(42);
 * const { inputIds, labels } = maskTokens(batch.inputIds, batch.attentionMask, {
 *   maskTokenId: tok.maskTokenId, vocabSize: tok.vocabSize, specialTokenIds: tok.specialTokenIds, random,
 * });
 * await mlm.trainStep({ inputIds, attentionMask: batch.attentionMask, labels }, optimizer);
 */
export function maskTokens(inputIds: IdTensor, attentionMask: IdTensor | null, options: MaskOptions): MaskedBatch {
  const ids = idTensor("inputIds", inputIds);
  const mask = attentionMask === null ? null : idTensor("attentionMask", attentionMask);
  if (mask !== null && (mask.shape[0] !== ids.shape[0] || mask.shape[1] !== ids.shape[1]))
    throw invalidArgument("attentionMask", `shape [${ids.shape.join(", ")}] like inputIds`, mask.shape);
  object("options", options);
  const p = number("options.maskProbability", options.maskProbability ?? 0.15, { min: 0, minOpen: true, max: 1 });
  const randomP = number("options.randomProbability", options.randomProbability ?? 0.1, {
    min: 0,
    minOpen: false,
    max: 1,
  });
  const keepP = number("options.keepProbability", options.keepProbability ?? 0.1, { min: 0, minOpen: false, max: 1 });
  if (randomP + keepP > 1)
    throw invalidArgument("options.randomProbability + keepProbability", "at most 1", randomP + keepP);
  const maxSpan = positiveInteger("options.maxSpanLength", options.maxSpanLength ?? LTG_BERT_MAX_SPAN_LENGTH);
  const perSpan = oneOf("options.replacement", options.replacement ?? "token", ["token", "span"]) === "span";
  const { random } = options;
  const vocabSize = positiveInteger("options.vocabSize", options.vocabSize);
  const maskTokenId = integerIn(
    "options.maskTokenId",
    options.maskTokenId,
    0,
    vocabSize - 1,
    `an id in [0, ${vocabSize})`,
  );
  if (!(random instanceof Random)) throw invalidArgument("options.random", "a Random", random);
  if (options.specialTokenIds === null || typeof options.specialTokenIds !== "object")
    throw invalidArgument("options.specialTokenIds", "an iterable of ids", options.specialTokenIds);
  const special = new Set<number>(options.specialTokenIds);
  special.add(maskTokenId);
  let specialInVocab = 0;
  for (const id of special) if (isInteger(id, 0, vocabSize - 1)) specialInVocab++;
  if (randomP > 0 && specialInVocab >= vocabSize)
    throw invalidArgument(
      "options.vocabSize",
      "more ids than the special ones (random replacements need one)",
      vocabSize,
    );

  const [B, T] = ids.shape;
  const out = ids.data.slice();
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  const spans: number[] = [];
  const maskable = new Uint8Array(T); // 1: maskable and not yet chosen; 2: chosen; 0: never
  const maskP = 1 - randomP - keepP;

  const randomId = (): number => {
    for (;;) {
      const id = random.int(vocabSize);
      if (!special.has(id)) return id;
    }
  };
  const replace = (at: number, u: number): void => {
    if (u < maskP) out[at] = maskTokenId;
    else if (u < maskP + randomP) out[at] = randomId();
    // else: kept as it is
  };

  for (let r = 0; r < B; r++) {
    const row = r * T;
    let free = 0;
    for (let t = 0; t < T; t++) {
      const ok = (mask === null || mask.data[row + t] !== 0) && !special.has(ids.data[row + t]);
      maskable[t] = ok ? 1 : 0;
      if (ok) free++;
    }
    if (free === 0) continue;
    let n = 0;
    for (let i = 0; i < free; i++) if (random.next() < p) n++;
    n = Math.min(free, Math.max(1, n));

    let rejections = 0;
    let L = 0; // the length being placed; redrawn only once a span is placed
    while (n > 0) {
      let start = -1;
      let length = 0;
      if (rejections >= MAX_REJECTIONS) {
        // One token at a uniformly drawn free position.
        let k = random.int(free);
        for (let t = 0; t < T; t++) {
          if (maskable[t] === 1 && k-- === 0) {
            start = t;
            break;
          }
        }
        length = 1;
      } else {
        // A rejected window keeps its length, so long spans are not placed less often.
        if (L === 0) L = drawSpanLength(random, maxSpan);
        const offset = random.int(T + L - 1) - (L - 1);
        const a = Math.max(0, offset);
        const b = Math.min(T, offset + L);
        // The window's maskable positions must be one run, none chosen yet.
        let first = -1;
        let last = -1;
        let ok = true;
        for (let t = a; t < b && ok; t++) {
          if (maskable[t] === 2) ok = false;
          else if (maskable[t] === 1) {
            if (first < 0) first = t;
            else if (last !== t - 1) ok = false; // a special token between two maskable runs
            last = t;
          }
        }
        if (!ok || first < 0) {
          rejections++;
          continue;
        }
        start = first;
        length = last - first + 1;
      }
      rejections = 0;
      L = 0;
      length = Math.min(length, n);
      const u = perSpan ? random.next() : 0;
      for (let t = start; t < start + length; t++) {
        maskable[t] = 2;
        labels[row + t] = ids.data[row + t];
        replace(row + t, perSpan ? u : random.next());
      }
      spans.push(r, start, length);
      n -= length;
      free -= length;
    }
  }
  return {
    inputIds: { data: out, shape: [B, T] },
    labels: { data: labels, shape: [B, T] },
    spans: Int32Array.from(spans),
  };
}
