// The Trainer's token-classification task: tagged sentences (CoNLL-U or
// word/tag files, or a TaggingDataset) read and checked whole, seeded epochs
// of batches whose labels sit on each word's first subword, and evaluation
// by word-level tagging accuracy, with seqeval's entity precision, recall
// and F1 when the tags are BIO.
import { invalidArgument, LtgBertError } from "../errors.js";
import type { LtgBertForTokenClassification } from "../model.js";
import type { Tokenizer } from "../tokenizer.js";
import { encodeTagging } from "../tasks/preprocess.js";
import { readConllu, readWordTagFile, type ReadConlluOptions, type TaggingDataset } from "../tasks/readers.js";
import { entityMetrics, taggingAccuracy } from "../tasks/metrics.js";
import {
  epochSeed,
  PlannedCursor,
  resumePosition,
  shardOf,
  shuffledBatches,
  type EvalShard,
  type Task,
  type TaskRun,
} from "./task.js";

/** What `evaluate` gives for a tagger. */
export interface TaggingEvalMetrics {
  /** Mean cross-entropy per labelled token. */
  loss: number;
  /** Words whose predicted tag is the gold one, over the words with a gold tag. */
  accuracy: number;
  /** seqeval's entity-level scores (micro), when every tag is O, B-X or I-X; else absent. */
  precision?: number;
  recall?: number;
  f1?: number;
  /** Words scored. */
  words: number;
  /** Sentences evaluated. */
  samples: number;
}

/** The tagging task's options, resolved. */
export interface TaggingSettings {
  trainData: TaggingDataset | string;
  evalData: TaggingDataset | string | undefined;
  /** For .conllu files: which column holds the tags (UPOS by default). */
  readOptions: ReadConlluOptions | undefined;
  batchSize: number;
  evalBatchSize: number;
  seed: number;
  maxLength: number;
  labelAllSubwords: boolean;
}

function isTaggingDataset(value: unknown): value is TaggingDataset {
  const d = value as TaggingDataset;
  return typeof value === "object" && value !== null && Array.isArray(d.sentences) && Array.isArray(d.tagNames);
}

/** Throws unless `value` is a TaggingDataset or a non-empty path. */
export function checkTaggingData(name: string, value: unknown): void {
  if (typeof value === "string" ? value === "" : !isTaggingDataset(value))
    throw invalidArgument(name, "a TaggingDataset (readConllu's or readWordTagFile's) or a data file path", value);
}

/** Reads a CoNLL-U file (`.conllu`) or a word/tag file (anything else). */
export async function readTaggingFile(file: string, options?: ReadConlluOptions): Promise<TaggingDataset> {
  return /\.conllu?$/i.test(file) ? readConllu(file, options) : readWordTagFile(file);
}

/** True when every tag is O or B-/I- followed by a type: entity metrics apply. */
function isBio(tags: readonly string[]): boolean {
  return tags.length > 0 && tags.every((t) => t === "O" || /^[BI]-./.test(t));
}

function badData(file: string, line: number | null, message: string): LtgBertError {
  return new LtgBertError("LTGBERT_BAD_DATA", `${file}${line === null ? "" : `:${line}`}: ${message}`);
}

interface Prepared {
  train: TaggingDataset;
  eval: TaggingDataset | null;
  /** Label id of each tag. */
  labelIds: Map<string, number>;
  /** The names to give the model's labels, when it has none of its own. */
  labelNames: string[] | null;
}

/** @internal The Trainer's token-classification task. */
export class TaggingTask implements Task<TaggingEvalMetrics> {
  #prepared: Promise<Prepared> | null = null;

  constructor(
    private readonly model: LtgBertForTokenClassification,
    readonly settings: TaggingSettings,
  ) {}

  get hasEvalData(): boolean {
    return this.settings.evalData !== undefined;
  }

  /** Encodes the sentences `rows` of a dataset; a sentence whose words do not all fit is an error. */
  async encode(tokenizer: Tokenizer, data: TaggingDataset, rows: readonly number[], labelIds: Map<string, number>) {
    const sentences = rows.map((r) => data.sentences[r]);
    const enc = await encodeTagging(tokenizer, sentences, {
      labelIds,
      maxLength: this.settings.maxLength,
      labelAllSubwords: this.settings.labelAllSubwords,
    });
    enc.wordsCut.forEach((cut, i) => {
      if (cut > 0) {
        const s = sentences[i];
        throw badData(
          data.file,
          s.line,
          `the sentence's last ${cut} of ${s.words.length} words do not fit in ${this.settings.maxLength} tokens (maxLength)`,
        );
      }
    });
    return enc;
  }

  /** The model's label names when config.json names them (not "LABEL_i"), else null. */
  #modelLabelNames(): string[] | null {
    const names = this.model.labelNames;
    return names.every((name, i) => name === `LABEL_${i}`) ? null : names;
  }

  async #read(data: TaggingDataset | string): Promise<TaggingDataset> {
    return typeof data === "string" ? readTaggingFile(data, this.settings.readOptions) : data;
  }

  /** Every tag of `data` must have a label id. */
  #check(data: TaggingDataset, labelIds: Map<string, number>): void {
    for (const s of data.sentences) {
      for (const tag of s.tags) {
        if (tag !== null && !labelIds.has(tag)) {
          throw badData(
            data.file,
            s.line,
            `tag ${JSON.stringify(tag)} is not one of the model's ${labelIds.size} labels (${[...labelIds.keys()].join(", ")})`,
          );
        }
      }
    }
  }

  #prepare(): Promise<Prepared> {
    this.#prepared ??= (async () => {
      const numLabels = this.model.numLabels;
      const train = await this.#read(this.settings.trainData);
      if (train.sentences.length === 0) throw badData(train.file, null, "no sentences");
      const own = this.#modelLabelNames();
      let names: string[];
      let labelNames: string[] | null = null;
      if (own !== null) names = own;
      else {
        if (train.tagNames.length !== numLabels) {
          throw badData(
            train.file,
            null,
            `${train.tagNames.length} distinct tags, but the model has numLabels ${numLabels} and no label names`,
          );
        }
        names = train.tagNames;
        labelNames = train.tagNames;
      }
      const labelIds = new Map(names.map((n, i) => [n, i]));
      this.#check(train, labelIds);
      const evalData = this.settings.evalData === undefined ? null : await this.#read(this.settings.evalData);
      if (evalData !== null) this.#check(evalData, labelIds);
      return { train, eval: evalData, labelIds, labelNames };
    })();
    this.#prepared.catch(() => (this.#prepared = null));
    return this.#prepared;
  }

  async prepare(tokenizer: Tokenizer): Promise<TaskRun> {
    const { train, eval: evalData, labelIds, labelNames } = await this.#prepare();
    // Every sentence is encoded once now, so one that does not fit fails before any write.
    const all = [...train.sentences.keys()];
    for (let i = 0; i < all.length; i += 256) await this.encode(tokenizer, train, all.slice(i, i + 256), labelIds);
    const batchesPerEpoch = Math.ceil(train.sentences.length / this.settings.batchSize);
    return {
      batchesPerEpoch,
      args: {
        task: "token_classification",
        maxLength: this.settings.maxLength,
        labelAllSubwords: this.settings.labelAllSubwords,
        trainData: train.file,
        trainExamples: train.sentences.length,
        evalData: evalData?.file ?? null,
        evalExamples: evalData?.sentences.length ?? null,
        readOptions: this.settings.readOptions ?? {},
      },
      resumeKeys: ["maxLength", "labelAllSubwords"],
      open: async (position, file) =>
        new PlannedCursor(
          batchesPerEpoch,
          resumePosition(position, file, batchesPerEpoch),
          (epoch) =>
            shuffledBatches(train.sentences.length, this.settings.batchSize, epochSeed(this.settings.seed, epoch)),
          async (rows) => {
            const enc = await this.encode(tokenizer, train, rows, labelIds);
            return { inputIds: enc.inputIds, attentionMask: enc.attentionMask, labels: enc.labels };
          },
        ),
      beforeTrain: () => {
        if (labelNames !== null) this.model.setLabelNames(labelNames);
      },
    };
  }

  async evaluate(tokenizer: Tokenizer, data?: unknown, shard?: EvalShard): Promise<TaggingEvalMetrics> {
    if (data !== undefined) checkTaggingData("data", data);
    const prepared = await this.#prepare();
    const dataset = data === undefined ? prepared.eval : await this.#read(data as TaggingDataset | string);
    if (dataset === null) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        "Trainer.evaluate: no data; pass evalData to the Trainer or a dataset to evaluate()",
      );
    }
    this.#check(dataset, prepared.labelIds);
    const names = [...prepared.labelIds.keys()];
    const predicted = await this.predictTags(tokenizer, dataset, prepared.labelIds, shard);
    let lossSum = 0;
    let labelled = 0;
    for (const part of predicted.losses) {
      lossSum += part.loss * part.tokens;
      labelled += part.tokens;
    }
    const gold = dataset.sentences.map((s) => s.tags);
    const accuracy = taggingAccuracy(predicted.tags, gold);
    const metrics: TaggingEvalMetrics = {
      loss: labelled === 0 ? NaN : lossSum / labelled,
      accuracy: accuracy.accuracy,
      words: accuracy.total,
      samples: dataset.sentences.length,
    };
    if (isBio(names)) {
      const filled = gold.map((tags) => tags.map((t) => t ?? "O"));
      const entities = entityMetrics(predicted.tags, filled);
      metrics.precision = entities.precision;
      metrics.recall = entities.recall;
      metrics.f1 = entities.f1;
    }
    return metrics;
  }

  /** The predicted tag of every word, and each batch's loss with its labelled-token count. */
  async predictTags(
    tokenizer: Tokenizer,
    dataset: TaggingDataset,
    labelIds: Map<string, number>,
    shard?: EvalShard,
  ): Promise<{ tags: string[][]; losses: { loss: number; tokens: number }[] }> {
    const names = [...labelIds.keys()];
    const tags: string[][] = dataset.sentences.map((s) => s.words.map(() => ""));
    let losses: { loss: number; tokens: number }[] = [];
    const size = this.settings.evalBatchSize;
    const starts: number[] = [];
    for (let from = 0; from < dataset.sentences.length; from += size) starts.push(from);
    const mine: number[] = []; // the sentences this shard tagged
    for (const from of shardOf(starts, shard)) {
      const rows = [...Array(Math.min(size, dataset.sentences.length - from)).keys()].map((i) => from + i);
      const enc = await this.encode(tokenizer, dataset, rows, labelIds);
      const tokens = enc.labels.data.reduce((n, l) => n + (l === -100 ? 0 : 1), 0);
      const out = await this.model.forward(
        tokens > 0
          ? { inputIds: enc.inputIds, attentionMask: enc.attentionMask, labels: enc.labels }
          : { inputIds: enc.inputIds, attentionMask: enc.attentionMask },
      );
      if (tokens > 0) losses.push({ loss: out.loss!, tokens });
      const [B, T] = enc.inputIds.shape;
      const K = names.length;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const k = b * T + t;
          if (enc.firstToken.data[k] !== 1) continue;
          let best = 0;
          for (let c = 1; c < K; c++) if (out.logits.data[k * K + c] > out.logits.data[k * K + best]) best = c;
          tags[rows[b]][enc.wordIndex.data[k]] = names[best];
        }
      }
      mine.push(...rows);
    }
    if (shard !== undefined) {
      const parts = await shard.gather({ losses, rows: mine, tags: mine.map((r) => tags[r]) });
      losses = parts.flatMap((part) => part.losses);
      for (const part of parts) part.rows.forEach((r, i) => (tags[r] = part.tags[i]));
    }
    return { tags, losses };
  }

  evalLog(metrics: TaggingEvalMetrics): Record<string, number> {
    return {
      eval_loss: metrics.loss,
      eval_accuracy: metrics.accuracy,
      ...(metrics.f1 === undefined
        ? {}
        : { eval_precision: metrics.precision!, eval_recall: metrics.recall!, eval_f1: metrics.f1 }),
      eval_words: metrics.words,
      eval_samples: metrics.samples,
    };
  }
}
