// Starting word embeddings from the corpus itself: tokens that share
// documents get vectors that point the same way, before any masked-LM step.
// At the few minutes of pretraining a laptop gives, a masked LM learns which
// words are alike long before it learns what they say; co-occurrence over
// whole documents brings in the second (in film reviews, `awful` lands
// beside `terrible`, `worst` and `waste`) for a few minutes of compute.
import { invalidArgument, LtgBertError } from "../errors.js";
import { addon, callNative } from "../native.js";
import { integer, object } from "../validate.js";
import { StateDict, type LtgBertPreTrainedModel } from "../model.js";
import type { MaskedLMCorpus } from "./corpus.js";

/** Documents a token pair must share to count, unless told otherwise. */
export const DEFAULT_COOCCURRENCE_MIN_COUNT = 5;

/** Options of `initEmbeddingsFromCooccurrence`. */
export interface CooccurrenceInitOptions {
  /** Token pairs that share fewer documents than this count as unrelated (default 5). */
  minCount?: number;
  /** Seed of the randomized SVD (default 42). */
  seed?: number;
}

/** What `initEmbeddingsFromCooccurrence` did. */
export interface CooccurrenceInitReport {
  /** The parameter it wrote. */
  key: string;
  documents: number;
  /** Token occurrences read. */
  tokens: number;
  /** Distinct token pairs with a positive PMI. */
  pairs: number;
  /** Special tokens, whose rows kept their values. */
  kept: number[];
}

/**
 * Replaces a model's word embeddings with vectors from document-level
 * co-occurrence in `corpus`: for every pair of tokens, the number of
 * documents that hold both, as positive pointwise mutual information (pairs
 * in fewer than `minCount` documents count as 0), reduced to the hidden size
 * by a seeded randomized SVD (rows U·√S), then scaled to the standard
 * deviation the embeddings had. The special tokens' rows keep their values.
 * The masked LM's output layer shares these weights, so it starts from them
 * too. Runs in native code; the tokens are read once, in the corpus's
 * document order. Memory: a few vocab × vocab matrices of 4 bytes (1 GiB
 * for 8,192 tokens).
 *
 * @example
 * const corpus = await MaskedLMCorpus.open(["reviews.txt"], tokenizer);
 * const report = await initEmbeddingsFromCooccurrence(mlm, corpus, { seed: 42 });
 */
export async function initEmbeddingsFromCooccurrence(
  model: LtgBertPreTrainedModel<object, unknown>,
  corpus: MaskedLMCorpus,
  options: CooccurrenceInitOptions = {},
): Promise<CooccurrenceInitReport> {
  const o = object<CooccurrenceInitOptions>("options", options);
  const minCount = integer("options.minCount", o.minCount ?? DEFAULT_COOCCURRENCE_MIN_COUNT, 1);
  const seed = integer("options.seed", o.seed ?? 42, 0);
  const reference = model.stateDict();
  const key = reference.keys().find((k) => k.endsWith("embedding.word_embedding.weight"));
  if (key === undefined) throw invalidArgument("model", "a model with word embeddings", reference.source);
  const vocabSize = reference.shape(key)[0];
  if (corpus.tokenizer.vocabSize > vocabSize) {
    throw invalidArgument(
      "corpus.tokenizer",
      `at most ${vocabSize} tokens (the model's vocabulary)`,
      corpus.tokenizer.vocabSize,
    );
  }

  // Each document's distinct ids, one after the other: repeats count once.
  const chunks: Int32Array[] = [];
  const offsets: bigint[] = [0n];
  const seen = new Int32Array(vocabSize).fill(-1);
  let total = 0;
  let tokens = 0;
  let documents = 0;
  let chunk = new Int32Array(1 << 20);
  let used = 0;
  for await (const ids of corpus.documents()) {
    tokens += ids.length;
    for (const id of ids) {
      if (seen[id] === documents) continue;
      seen[id] = documents;
      if (used === chunk.length) {
        chunks.push(chunk);
        chunk = new Int32Array(1 << 20);
        used = 0;
      }
      chunk[used++] = id;
      total++;
    }
    documents++;
    offsets.push(BigInt(total));
  }
  if (documents === 0)
    throw new LtgBertError("LTGBERT_BAD_DATA", `${corpus.files.join(", ")}: no text (every line is empty)`);
  chunks.push(chunk.subarray(0, used));
  const ids = new Int32Array(total);
  chunks.reduce((at, c) => (ids.set(c, at), at + c.length), 0);

  const kept = [...corpus.tokenizer.specialTokenIds].filter((id) => id < vocabSize).sort((a, b) => a - b);
  const result = await callNative(() =>
    addon.cooccurrenceEmbeddings(ids, BigInt64Array.from(offsets), {
      reference: reference.native,
      key,
      keep: Int32Array.from(kept),
      minCount,
      seed,
    }),
  );
  if (result.pairs === 0) {
    throw new LtgBertError(
      "LTGBERT_BAD_DATA",
      `${corpus.files.join(", ")}: no two tokens share ${minCount} or more of the ${documents} documents; co-occurrence vectors need more text (or a lower minCount)`,
    );
  }
  await model.loadStateDict(new StateDict(result.stateDict), { strict: false });
  return { key, documents: result.documents, tokens, pairs: result.pairs, kept };
}
