// The Trainer's masked-LM task: raw text streamed through MaskedLMCorpus
// (packed, shuffled in blocks, span-masked), and evaluation by the loss,
// accuracy and perplexity of the masked-token predictions.
import { MaskedLMCorpus, type CorpusBatch, type CorpusOptions, type CorpusPosition } from "./corpus.js";
import { LtgBertError } from "../errors.js";
import { textFiles as checkTextFiles } from "../validate.js";
import { IGNORE_INDEX } from "./mlm.js";
import type { LtgBertForMaskedLM } from "../model.js";
import type { Tokenizer } from "../tokenizer.js";
import type { Cursor, CursorBatch, EvalShard, Task, TaskRun } from "./task.js";

/** What `evaluate` gives for a masked LM. */
export interface MaskedLMEvalMetrics {
  /** Mean cross-entropy per masked token. */
  loss: number;
  /** The share of masked tokens whose most probable prediction is the original token. */
  accuracy: number;
  /** exp(loss). */
  perplexity: number;
  /** Sequences evaluated. */
  samples: number;
  /** Masked (scored) tokens. */
  tokens: number;
}

/** The masked-LM task's options, resolved. */
export interface MaskedLMSettings {
  trainData: string[];
  evalData: string[] | undefined;
  batchSize: number;
  evalBatchSize: number;
  seed: number;
  corpus: Omit<CorpusOptions, "batchSize" | "seed">;
}

/** Text files: one path or a non-empty array of them, copied. */
export function textFiles(name: string, value: unknown): string[] {
  return [...checkTextFiles(name, value)];
}

/** Batches of the stream, epoch after epoch, from a saved position. */
class CorpusCursor implements Cursor {
  #position: CorpusPosition;
  #progress = 0;
  #batches: AsyncGenerator<CorpusBatch, void, undefined> | null = null;

  readonly #corpus: MaskedLMCorpus;
  readonly #batchesPerEpoch: number | null;

  constructor(corpus: MaskedLMCorpus, batchesPerEpoch: number | null, position: CorpusPosition) {
    this.#corpus = corpus;
    this.#batchesPerEpoch = batchesPerEpoch;
    this.#position = position;
  }

  async next(): Promise<CursorBatch> {
    this.#batches ??= this.#corpus.batches(this.#position);
    const { value, done } = await this.#batches.next();
    if (done) throw new LtgBertError("LTGBERT_INTERNAL", "masked-LM corpus: the epoch ended without a last batch");
    this.#position = value.next;
    this.#progress = value.progress;
    if (value.last) await this.close();
    const { inputIds, attentionMask, labels } = value;
    return { batch: { inputIds, attentionMask, labels }, rows: inputIds.shape[0], last: value.last };
  }

  position(): Record<string, unknown> {
    const p = this.#position;
    return { epoch: p.epoch, batch_in_epoch: p.batch, batches_per_epoch: this.#batchesPerEpoch, corpus: p };
  }

  epoch(): number {
    return this.#position.epoch;
  }

  epochs(): number {
    const p = this.#position;
    if (p.batch === 0) return p.epoch;
    // Counted batches give the exact share; otherwise the share of bytes read.
    return p.epoch + (this.#batchesPerEpoch === null ? this.#progress : p.batch / this.#batchesPerEpoch);
  }

  async close(): Promise<void> {
    const batches = this.#batches;
    this.#batches = null;
    await batches?.return(undefined);
  }
}

/** @internal The Trainer's masked-LM task. */
export class MaskedLMTask implements Task<MaskedLMEvalMetrics> {
  readonly #model: LtgBertForMaskedLM;
  readonly #o: MaskedLMSettings;
  readonly #stepsGiven: boolean;

  constructor(
    model: LtgBertForMaskedLM,
    o: MaskedLMSettings,
    /** True when the run has maxSteps: no pass to count the batches of an epoch. */
    stepsGiven: boolean,
  ) {
    this.#model = model;
    this.#o = o;
    this.#stepsGiven = stepsGiven;
  }

  get hasEvalData(): boolean {
    return this.#o.evalData !== undefined;
  }

  #open(files: string[], tokenizer: Tokenizer, evaluation: boolean): Promise<MaskedLMCorpus> {
    return MaskedLMCorpus.open(files, tokenizer, {
      ...this.#o.corpus,
      batchSize: evaluation ? this.#o.evalBatchSize : this.#o.batchSize,
      seed: this.#o.seed,
      ...(evaluation ? { shuffle: false } : {}),
    });
  }

  async prepare(tokenizer: Tokenizer): Promise<TaskRun> {
    const corpus = await this.#open(this.#o.trainData, tokenizer, false);
    if (this.#o.evalData !== undefined) await this.#open(this.#o.evalData, tokenizer, true);
    // With epochs, the schedule needs the batches of an epoch: one pass to
    // count them. With maxSteps, reading the first batch is enough to know
    // that there is text, before anything is written.
    let batchesPerEpoch: number | null = null;
    if (this.#stepsGiven) {
      const first = corpus.batches();
      await first.next();
      await first.return(undefined);
    } else {
      batchesPerEpoch = await corpus.countBatches();
    }
    const c = corpus.options;
    return {
      batchesPerEpoch,
      args: {
        trainData: corpus.files,
        trainBytes: corpus.sizes,
        evalData: this.#o.evalData ?? null,
        sequenceLength: c.sequenceLength,
        maskProbability: c.maskProbability,
        maxSpanLength: c.maxSpanLength,
        randomProbability: c.randomProbability,
        keepProbability: c.keepProbability,
        replacement: c.replacement,
        shuffle: c.shuffle,
        shuffleBuffer: c.shuffleBuffer,
        documentBoundary: c.documentBoundary,
        readChunkSize: c.readChunkSize,
      },
      resumeKeys: [
        "trainData",
        "trainBytes",
        "sequenceLength",
        "maskProbability",
        "maxSpanLength",
        "randomProbability",
        "keepProbability",
        "replacement",
        "shuffle",
        "shuffleBuffer",
        "documentBoundary",
      ],
      open: async (position, file) => {
        let start = MaskedLMCorpus.start(0);
        if (position !== null) {
          const saved = position.corpus as CorpusPosition | undefined;
          if (typeof saved !== "object" || saved === null || !Array.isArray(saved.carry)) {
            throw new LtgBertError(
              "LTGBERT_BAD_CHECKPOINT",
              `${file}: expected data_position { epoch, batch_in_epoch, batches_per_epoch, corpus } of a masked-LM run`,
            );
          }
          if (
            batchesPerEpoch !== null &&
            position.batches_per_epoch !== null &&
            position.batches_per_epoch !== batchesPerEpoch
          ) {
            throw new LtgBertError(
              "LTGBERT_INVALID_ARGUMENT",
              `${file}: the run had ${String(position.batches_per_epoch)} batches per epoch, this one has ${batchesPerEpoch}; an exact resume needs the same training data and batch size`,
            );
          }
          start = saved;
        }
        return new CorpusCursor(corpus, batchesPerEpoch, start);
      },
      beforeTrain: () => {},
    };
  }

  /**
   * Loss, accuracy and perplexity of the masked tokens of `data` (default:
   * evalData), read in file order and masked with the run's seed, so that
   * every evaluation scores the same positions.
   */
  async evaluate(tokenizer: Tokenizer, data?: unknown, shard?: EvalShard): Promise<MaskedLMEvalMetrics> {
    const files = data === undefined ? this.#o.evalData : textFiles("data", data);
    if (files === undefined) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        "Trainer.evaluate: no data; pass evalData to the Trainer or text files to evaluate()",
      );
    }
    const corpus = await this.#open(files, tokenizer, true);
    let lossSum = 0;
    let tokens = 0;
    let correct = 0;
    let samples = 0;
    // Every batch's logits go into one array, grown when a batch needs more:
    // no new memory per batch for V8 to collect.
    let buffer = new Float32Array(0);
    const V = this.#model.config.vocab_size;
    let index = 0;
    for await (const batch of corpus.batches()) {
      // Every rank reads and masks the whole stream; each runs its share of the batches.
      if (shard !== undefined && index++ % shard.world !== shard.rank) continue;
      const { inputIds, attentionMask, labels } = batch;
      const size = inputIds.shape[0] * inputIds.shape[1] * V;
      if (buffer.length < size) buffer = new Float32Array(size);
      const out = await this.#model.forward(
        { inputIds, attentionMask, labels },
        { hiddenStates: false, out: { logits: buffer.subarray(0, size) } },
      );
      let scored = 0;
      labels.data.forEach((label, i) => {
        if (label === IGNORE_INDEX) return;
        scored++;
        const row = out.logits.data.subarray(i * V, (i + 1) * V);
        let best = 0;
        for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
        if (best === label) correct++;
      });
      lossSum += out.loss! * scored;
      tokens += scored;
      samples += inputIds.shape[0];
    }
    if (shard !== undefined) {
      const parts = await shard.gather([lossSum, tokens, correct, samples]);
      [lossSum, tokens, correct, samples] = [0, 1, 2, 3].map((k) => parts.reduce((sum, part) => sum + part[k], 0));
    }
    const loss = lossSum / tokens;
    return { loss, accuracy: correct / tokens, perplexity: Math.exp(loss), samples, tokens };
  }

  evalLog(metrics: MaskedLMEvalMetrics): Record<string, number> {
    return {
      eval_loss: metrics.loss,
      eval_accuracy: metrics.accuracy,
      eval_perplexity: metrics.perplexity,
      eval_samples: metrics.samples,
      eval_tokens: metrics.tokens,
    };
  }
}
