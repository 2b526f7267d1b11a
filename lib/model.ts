// The public model classes. Each wraps one native model, runs one call at a
// time (later calls queue) and never lets weights cross into JS.
import { access, stat } from "node:fs/promises";
import path from "node:path";
import {
  checkModelMemory,
  numLabelsOf,
  problemTypeOf,
  resolveConfig,
  type LtgBertConfig,
  type LtgBertConfigInput,
  type ModelTask,
  type ProblemType,
} from "./config.js";
import { defaultModelHint } from "./default-model.js";
import { readConfigFile } from "./files.js";
import { invalidArgument, LtgBertError } from "./errors.js";
import { boolean, nonEmptyString, nonNegativeInteger, object, oneOf, positiveInteger, string } from "./validate.js";
import {
  onesLike,
  toIdMatrix,
  toIdTensor3,
  toLabels,
  toPositions,
  type IdMatrix,
  type IdTensor3,
  type LabelInput,
  type PositionInput,
  type TensorData,
} from "./inputs.js";
import {
  addon,
  callNative,
  callNativeSync,
  type NativeForwardResult,
  type NativeLoadReport,
  type NativeBatch,
  type NativeModel,
  type NativeStateDict,
  type NativeTensorEntry,
  type IdArray,
} from "./native.js";
import { Optimizer, resolveOptimizerOptions, type OptimizerOptions, type TrainStepResult } from "./train/optimizer.js";
import {
  checkSaveArguments,
  copyRemoteCodeFiles,
  copyTokenizerFiles,
  saveDirectoryAtomically,
  savedConfig,
  writeFileAtomic,
  type SaveOptions,
} from "./save.js";
import { Tokenizer, type BatchEncoding, type TextInput } from "./tokenizer.js";
import { poolHiddenStates, type Pooling } from "./pooling.js";
import {
  encodeMultipleChoice,
  encodeQuestionAnswering,
  encodeTagging,
  extractAnswers,
  groupByChoiceCount,
  type ExtractedAnswer,
  type MultipleChoiceInput,
} from "./tasks/preprocess.js";

/** Options of `fromPretrained` and `fromConfig`. */
export interface LoadOptions {
  /** "cpu" (default), "cuda" or "cuda:N". */
  device?: string;
  /** config.json values to override, snake_case, as Hugging Face's keyword arguments do. */
  config?: Partial<LtgBertConfig>;
  /**
   * Fail unless the checkpoint has exactly the model's keys and shapes.
   * Default: true when the checkpoint was saved by the same class (its
   * config's `architectures`), false otherwise (a masked LM loaded into a
   * classifier), with what did not load in `loadReport`.
   */
  strict?: boolean;
  /** Seed of the initialisation of weights the checkpoint does not hold. Default 42. */
  seed?: number;
  /**
   * Taken off the start of every checkpoint key first: the "module.",
   * "model.", … that wrappers add. Without it, a strict load that fails says
   * which prefix it detected.
   */
  stripPrefix?: string;
  /**
   * `fromPretrained` only: read the directory's `tokenizer.json` (with its
   * tokenizer_config.json and special_tokens_map.json) as `model.tokenizer`
   * when it has one. Default true.
   */
  tokenizer?: boolean;
  /**
   * The most bytes the model may take in memory, estimated from its config
   * before anything is allocated. Default: the machine's memory. A larger
   * model is refused with LTGBERT_BAD_CONFIG naming the config key behind it.
   */
  maxMemory?: number;
}

/** What a load moved, keyed by state-dict name. */
export type LoadReport = NativeLoadReport;

/** What every model's `forward` takes: token ids and their attention mask. */
export interface EncoderInputs {
  inputIds: IdMatrix;
  /** 1 = token, 0 = padding. Default: all ones. */
  attentionMask?: IdMatrix;
}

export interface ForwardInputs extends EncoderInputs {
  /** When given, the output has `loss`. */
  labels?: LabelInput;
}

export interface ForwardOptions {
  /**
   * Return `lastHiddenState` too (default true). Without it a classifier's
   * last layer computes only the first token (the one its head reads):
   * the same logits, less work. The bare encoder (`LtgBertModel`) always
   * returns it.
   */
  hiddenStates?: boolean;
  /**
   * Return every layer's output (default false; nothing is kept when off):
   * `hiddenStates` exactly as the Python reference's `output_hidden_states`
   * gives them (the embedding's output, then each layer's output minus the
   * previous layer's), and `layerOutputs`, the plain outputs of the
   * embedding and of each layer. L + 1 tensors [B, T, hidden] each.
   */
  outputHiddenStates?: boolean;
  /**
   * Return each layer's attention probabilities as `attentions` (default
   * false): L tensors [B, heads, T, T], after the masked softmax (0 at
   * padding keys) and before dropout, as `output_attentions` gives them.
   */
  outputAttentions?: boolean;
  /**
   * Float32Arrays to write the outputs into, each exactly the output's size
   * (`logits`: B·T·vocab for the masked LM, B·numLabels for sequence
   * classification, B·T·numLabels for token classification, B·C for
   * multiple choice; none for the bare encoder and question answering;
   * `lastHiddenState`: B·T·hidden, B·C·T·hidden for multiple choice). The result's `data` is then the array
   * given, and the call allocates no new JS memory: in a loop of forwards
   * this spares V8 the collection that each large new result would set
   * off. The outputs are computed in native memory (reused from call to
   * call) and copied into the arrays when the call ends, on the JS thread;
   * an array whose buffer was detached (transferred) meanwhile rejects the
   * call with LTGBERT_INVALID_ARGUMENT. Read them before handing them to the
   * next call (calls queue, and the next one writes over them).
   */
  out?: { logits?: Float32Array; lastHiddenState?: Float32Array };
}

/** What every model's `forward` may return besides its head's outputs. */
export interface EncoderOutput {
  /** [B, T, hidden] ([B·C, T, hidden] for multiple choice). */
  lastHiddenState?: TensorData;
  loss?: number;
  /** With `outputHiddenStates`: the reference's L + 1 tensors (layer 0 the embedding's output, then differences). */
  hiddenStates?: TensorData[];
  /** With `outputHiddenStates`: the embedding's output, then each layer's output. */
  layerOutputs?: TensorData[];
  /** With `outputAttentions`: L tensors [B, heads, T, T]. */
  attentions?: TensorData[];
}

/** Token ids with their mask, already encoded and padded, for `embed`. */
export interface EmbedIdsInput {
  inputIds: IdMatrix;
  /** 1 = token, 0 = padding. Default: all ones. */
  attentionMask?: IdMatrix;
}

/** Options of `embed`. */
export interface EmbedOptions {
  /**
   * "mean" (default): the average of the last hidden state over the
   * text's tokens, [CLS] and [SEP] included, padding left out. "cls": the
   * first position's vector ([CLS]).
   */
  pooling?: Pooling;
  /** Divide each vector by its L2 norm (default false), so that dot products are cosine similarities. */
  normalize?: boolean;
  /** Texts (or rows) per forward pass (default 32). */
  batchSize?: number;
  /**
   * Cut texts longer than the model's `max_position_embeddings` (default
   * false: such a text is an LTGBERT_INVALID_ARGUMENT error naming it, since
   * the vector of a cut text stands for its beginning only).
   */
  truncation?: boolean;
}

/** Sentence embeddings: row i is the vector of input i. */
export interface Embeddings {
  data: Float32Array;
  /** [N, hidden_size]. */
  shape: [number, number];
}

export interface ModelOutput extends EncoderOutput {
  /**
   * [B, T, vocab] for the masked LM, [B, numLabels] for sequence
   * classification, [B, T, numLabels] for token classification, [B, C] for
   * multiple choice.
   */
  logits: TensorData;
}

const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ?? Symbol.for("nodejs.asyncDispose");

function checkLoadOptions(options: LoadOptions): void {
  object("options", options);
  if (options.device !== undefined) string("options.device", options.device, '"cpu", "cuda" or "cuda:N"');
  if (options.seed !== undefined) nonNegativeInteger("options.seed", options.seed);
  if (options.stripPrefix !== undefined) string("options.stripPrefix", options.stripPrefix);
  if (options.strict !== undefined) boolean("options.strict", options.strict);
  if (options.config !== undefined) object("options.config", options.config, "an object of config.json keys");
  if (options.tokenizer !== undefined) boolean("options.tokenizer", options.tokenizer);
  if (options.maxMemory !== undefined)
    positiveInteger("options.maxMemory", options.maxMemory, "a positive number of bytes");
}

/** A tokenizer whose ids the model's embedding can take. */
function checkTokenizer(tokenizer: unknown, config: LtgBertConfig, name: string): Tokenizer | null {
  if (tokenizer === null) return null;
  if (!(tokenizer instanceof Tokenizer)) throw invalidArgument(name, "a Tokenizer or null", tokenizer);
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new LtgBertError(
      "LTGBERT_INVALID_ARGUMENT",
      `${tokenizer.file}: the tokenizer has ${tokenizer.vocabSize} tokens, more than the model's vocab_size ${config.vocab_size}`,
    );
  }
  return tokenizer;
}

/** `dir`'s tokenizer when it has a tokenizer.json and the options do not say no; else null. */
async function tokenizerOf(dir: string, options: LoadOptions, config: LtgBertConfig): Promise<Tokenizer | null> {
  if (options.tokenizer === false) return null;
  const file = path.join(dir, "tokenizer.json");
  const present = await access(file).then(
    () => true,
    () => false,
  );
  if (!present) return null;
  let tokenizer: Tokenizer;
  try {
    tokenizer = await Tokenizer.fromPretrained(dir);
  } catch (error) {
    if (!(error instanceof LtgBertError)) throw error;
    throw new LtgBertError(error.code, `${error.message} (pass tokenizer: false to load the model without it)`, {
      cause: error,
    });
  }
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new LtgBertError(
      "LTGBERT_BAD_CONFIG",
      `${file}: the tokenizer has ${tokenizer.vocabSize} tokens, more than config.json's vocab_size ${config.vocab_size} (pass tokenizer: false to load the model without it)`,
    );
  }
  return tokenizer;
}

async function requireDirectory(dir: string): Promise<void> {
  nonEmptyString("dir", dir, "a model directory path");
  try {
    const info = await stat(dir);
    if (!info.isDirectory())
      throw new LtgBertError(
        "LTGBERT_FILE_NOT_FOUND",
        `${dir}: not a directory (expected a model directory with config.json)`,
      );
  } catch (error) {
    if (error instanceof LtgBertError) throw error;
    throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${dir}: no such directory${defaultModelHint(dir)}`, {
      cause: error,
    });
  }
}

/**
 * Named tensors held in native memory: a model's own parameters (from
 * `model.stateDict()`, sharing their storage, as PyTorch's `state_dict()`
 * does) or a checkpoint file's (from `readStateDict(path)`). Its data never
 * passes through JS unless `read` copies one tensor out.
 *
 * @example
 * const sd = mlm.stateDict();
 * sd.keys(); sd.shape("embedding.word_embedding.weight"); // [vocab, hidden]
 * await cls.loadStateDict(sd, { strict: false });
 */
export class StateDict {
  readonly #native: NativeStateDict;
  readonly #entries: Map<string, NativeTensorEntry>;

  /** @internal */
  constructor(native: NativeStateDict) {
    this.#native = native;
    this.#entries = new Map(native.entries().map((e) => [e.key, e]));
  }

  /** @internal The addon's handle. */
  get native(): NativeStateDict {
    return this.#native;
  }

  /** What the tensors are: a checkpoint file's path or "state dict of the model". */
  get source(): string {
    return this.#native.source();
  }

  /** Keys in order: PyTorch's `state_dict()` order for a model (tied weights under both names), the file's otherwise. */
  keys(): string[] {
    return [...this.#entries.keys()];
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  shape(key: string): number[] {
    return [...this.#entry(key).shape];
  }

  dtype(key: string): string {
    return this.#entry(key).dtype;
  }

  /** Copies one tensor out, for inspection. */
  async read(key: string): Promise<TensorData<Float32Array | BigInt64Array | Int32Array | Uint8Array>> {
    this.#entry(key);
    const t = await callNative(() => this.#native.readTensor(key));
    return { data: t.data, shape: t.shape };
  }

  #entry(key: string): NativeTensorEntry {
    const entry = this.#entries.get(key);
    if (!entry) throw invalidArgument("key", "a key of this state dict", key);
    return entry;
  }
}

/**
 * Reads a checkpoint (a model folder, model.safetensors, a sharded index or
 * pytorch_model.bin) into native memory without building a model.
 */
export async function readStateDict(file: string): Promise<StateDict> {
  nonEmptyString("file", file, "a checkpoint path");
  return new StateDict(await callNative(() => addon.readStateDict(file)));
}

/** Options of `loadStateDict`. */
export interface LoadStateDictOptions {
  /** Fail, changing nothing, unless every key matches in name and shape (default true). */
  strict?: boolean;
  /** Taken off the start of every source key first: a wrapper's "module.", "model.", … */
  stripPrefix?: string;
}

/**
 * What every model class shares: loading, `forward`, training steps, state
 * dicts, saving and disposal, one call at a time. `Inputs` and `Output` are
 * what the class's `forward` takes and gives.
 */
export abstract class LtgBertPreTrainedModel<Inputs extends object = ForwardInputs, Output = ModelOutput> {
  /** The resolved config.json of this model (snake_case). */
  readonly config: LtgBertConfig;
  /** The device the weights live on. */
  readonly device: string;
  /** What the last load moved; null for a model built from a config alone. */
  get loadReport(): LoadReport | null {
    return this.#loadReport;
  }
  /** The directory the model was loaded from, if any. */
  readonly sourceDir: string | null;

  #native: NativeModel | null;
  #loadReport: LoadReport | null;
  #tokenizer: Tokenizer | null = null;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #optimizers = new Set<Optimizer>();

  /** @internal Use the static factories. */
  constructor(
    native: NativeModel,
    config: LtgBertConfig,
    device: string,
    report: LoadReport | null,
    sourceDir: string | null,
  ) {
    this.#native = native;
    this.config = config;
    this.device = device;
    this.#loadReport = report;
    this.sourceDir = sourceDir;
  }

  /**
   * The tokenizer that goes with the model, or null: read by
   * `fromPretrained` from the directory's tokenizer.json, carried over by
   * `fromMaskedLM`, or set here. `savePretrained` copies its files, and
   * `predict` encodes with it. Its vocabulary must fit the model's.
   */
  get tokenizer(): Tokenizer | null {
    return this.#tokenizer;
  }

  set tokenizer(tokenizer: Tokenizer | null) {
    this.#tokenizer = checkTokenizer(tokenizer, this.config, "tokenizer");
  }

  /**
   * Sets `tokenizer` and returns the model.
   *
   * @example
   * model.setTokenizer(await Tokenizer.fromPretrained("./babylm-checkpoint"));
   */
  setTokenizer(tokenizer: Tokenizer | null): this {
    this.tokenizer = tokenizer;
    return this;
  }

  /** @internal Builds and loads the native model for a subclass. */
  protected static async loadNative(
    config: LtgBertConfig,
    task: ModelTask,
    options: LoadOptions,
    checkpoint: string | null,
    strict: boolean,
  ): Promise<{ native: NativeModel; config: LtgBertConfig; report: LoadReport | null }> {
    checkModelMemory(config, task, checkpoint ? path.join(checkpoint, "config.json") : "config", options.maxMemory);
    const native = new addon.Model();
    const result = await callNative(() =>
      native.load(JSON.stringify({ ...config, task }), {
        checkpoint: checkpoint ?? undefined,
        seed: options.seed ?? 42,
        stripPrefix: options.stripPrefix,
        strict,
        device: options.device ?? "cpu",
      }),
    ).catch((error: unknown) => {
      native.dispose();
      throw error;
    });
    const resolved =
      task === "sequence_classification"
        ? { ...config, classifier_head: result.classifierHead as "linear" | "mlp" }
        : config;
    return { native, config: resolved, report: result.report };
  }

  /** @internal Reads a model directory's config and decides strictness. */
  protected static async readPretrained(
    dir: string,
    options: LoadOptions,
    architecture: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ config: LtgBertConfig; strict: boolean; tokenizer: Tokenizer | null }> {
    checkLoadOptions(options);
    await requireDirectory(dir);
    const file = path.join(dir, "config.json");
    const raw = await readConfigFile(file);
    const config = resolveConfig(raw, { ...extra, ...(options.config ?? {}) }, file);
    const saved = Array.isArray(raw.architectures) ? (raw.architectures as unknown[]) : [];
    const strict = options.strict ?? (saved.length === 0 || saved.includes(architecture));
    const tokenizer = await tokenizerOf(dir, options, config);
    return { config, strict, tokenizer };
  }

  /**
   * Runs the model. Returns a Promise; the work runs on the native compute thread and
   * calls on one model run one at a time.
   *
   * @example
   * const out = await mlm.forward({ inputIds: [[1, 42, 2]], attentionMask: [[1, 1, 1]] });
   * out.logits.shape // [1, 3, vocab]
   */
  async forward(inputs: Inputs, options: ForwardOptions = {}): Promise<Output> {
    this.#ensureNotDisposed();
    object("options", options);
    const batch = this.toNativeBatch("inputs", inputs, false);
    const hidden = boolean("options.hiddenStates", options.hiddenStates ?? true);
    const hiddenStates = boolean("options.outputHiddenStates", options.outputHiddenStates ?? false);
    const attentions = boolean("options.outputAttentions", options.outputAttentions ?? false);
    const into = options.out ?? {};
    if (typeof into !== "object" || into === null)
      throw invalidArgument("out", "{ logits?: Float32Array, lastHiddenState?: Float32Array }", into);
    const out = await this.enqueue((native) =>
      native.forward({
        ...batch,
        hidden,
        hiddenStates,
        attentions,
        logitsInto: into.logits,
        hiddenInto: into.lastHiddenState,
      }),
    );
    const common: EncoderOutput = {};
    const hiddenState = into.lastHiddenState ?? out.lastHiddenState;
    if (hiddenState && out.hiddenShape) common.lastHiddenState = { data: hiddenState, shape: out.hiddenShape };
    if (out.loss !== undefined) common.loss = out.loss;
    if (out.hiddenStates) common.hiddenStates = out.hiddenStates;
    if (out.layerOutputs) common.layerOutputs = out.layerOutputs;
    if (out.attentions) common.attentions = out.attentions;
    return this.headOutput(out, into.logits, common);
  }

  /**
   * @internal The encoder's last hidden state [B, T, hidden] for a batch of
   * single sequences, whatever the class: its head is skipped where it can
   * be, and a multiple-choice model takes the rows as one choice each. For
   * what every class offers on top of its encoder (pooled embeddings).
   */
  protected async encoderOutput(
    batch: { inputIds: Int32Array | BigInt64Array; attentionMask: Int32Array | BigInt64Array; shape: [number, number] },
    options: Pick<ForwardOptions, "outputHiddenStates" | "outputAttentions"> = {},
  ): Promise<EncoderOutput & { lastHiddenState: TensorData }> {
    const [rows, length] = batch.shape;
    const out = await this.enqueue((native) =>
      native.forward({
        ...batch,
        shape: this.encoderRowsShape(rows, length),
        hidden: true,
        hiddenStates: options.outputHiddenStates ?? false,
        attentions: options.outputAttentions ?? false,
      }),
    );
    if (!out.lastHiddenState || !out.hiddenShape)
      throw new LtgBertError("LTGBERT_INTERNAL", "forward: the native result has no hidden states");
    const result: EncoderOutput & { lastHiddenState: TensorData } = {
      lastHiddenState: { data: out.lastHiddenState, shape: out.hiddenShape },
    };
    if (out.hiddenStates) result.hiddenStates = out.hiddenStates;
    if (out.layerOutputs) result.layerOutputs = out.layerOutputs;
    if (out.attentions) result.attentions = out.attentions;
    return result;
  }

  /** @internal The native shape of B single sequences of length T for this class's model. */
  protected encoderRowsShape(rows: number, length: number): number[] {
    return [rows, length];
  }

  /**
   * @internal The class's output from the native result: its head's
   * outputs, then `common`. The default: `logits`.
   */
  protected headOutput(out: NativeForwardResult, logitsInto: Float32Array | undefined, common: EncoderOutput): Output {
    const logits = logitsInto ?? out.logits;
    if (!logits || !out.logitsShape)
      throw new LtgBertError("LTGBERT_INTERNAL", "forward: the native result has no logits");
    const result: ModelOutput = { logits: { data: logits, shape: out.logitsShape }, ...common };
    return result as Output;
  }

  /**
   * Sentence embeddings: runs the encoder on texts (encoded with the
   * model's `tokenizer`, in batches of similar length) or on encoded rows,
   * and pools each row's last hidden state into one vector: the mean over
   * its tokens (padding left out) or its first token. Every model class has
   * it; a head, if any, is computed and not read.
   *
   * @example
   * const v = await model.embed(["a cat sat on the mat", "a dog lay on the rug"], { normalize: true });
   * v.shape; // [2, hidden_size]
   * let cos = 0; // the two rows are unit vectors: their dot product is the cosine similarity
   * for (let d = 0; d < v.shape[1]; d++) cos += v.data[d] * v.data[v.shape[1] + d];
   * await model.embed({ inputIds, attentionMask }, { pooling: "cls" }); // rows already encoded
   */
  async embed(inputs: readonly TextInput[] | EmbedIdsInput, options: EmbedOptions = {}): Promise<Embeddings> {
    this.#ensureNotDisposed();
    const {
      pooling = "mean",
      normalize = false,
      batchSize = 32,
      truncation = false,
    } = object<EmbedOptions>("options", options);
    oneOf("options.pooling", pooling, ["mean", "cls"]);
    boolean("options.normalize", normalize);
    positiveInteger("options.batchSize", batchSize);
    boolean("options.truncation", truncation);
    const width = this.config.hidden_size;
    const pooled = async (
      batch: { inputIds: IdMatrix; attentionMask: IdMatrix },
      mask: IdArray,
      rows: number[],
      into: Float32Array,
    ) => {
      const hidden = await this.lastHiddenStateOf(batch);
      poolHiddenStates(hidden.data, hidden.shape, mask, pooling, normalize, into, rows);
    };

    if (!Array.isArray(inputs)) {
      if (typeof inputs !== "object" || inputs === null) {
        throw invalidArgument("inputs", "an array of texts or { inputIds, attentionMask? }", inputs);
      }
      const ids = toIdMatrix("inputIds", (inputs as EmbedIdsInput).inputIds);
      const given = (inputs as EmbedIdsInput).attentionMask;
      const mask =
        given === undefined ? { data: onesLike(ids.shape), shape: ids.shape } : toIdMatrix("attentionMask", given);
      if (mask.shape[0] !== ids.shape[0] || mask.shape[1] !== ids.shape[1]) {
        throw invalidArgument(
          "attentionMask",
          `shape [${ids.shape.join(", ")}] like inputIds`,
          `shape [${mask.shape.join(", ")}]`,
        );
      }
      const [count, length] = ids.shape;
      const out = new Float32Array(count * width);
      for (let start = 0; start < count; start += batchSize) {
        const end = Math.min(start + batchSize, count);
        const slice = <T extends IdArray>(data: T): T => data.subarray(start * length, end * length) as T;
        const shape: [number, number] = [end - start, length];
        const rows = Array.from({ length: end - start }, (_, r) => start + r);
        const maskRows = slice(mask.data);
        await pooled(
          { inputIds: { data: slice(ids.data), shape }, attentionMask: { data: maskRows, shape } },
          maskRows,
          rows,
          out,
        );
      }
      return { data: out, shape: [count, width] };
    }

    const tokenizer = this.tokenizer;
    if (tokenizer === null) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        "embed: the model has no tokenizer; load one with Tokenizer.fromPretrained(dir) and set model.tokenizer, load the model from a directory that has a tokenizer.json, or pass encoded { inputIds, attentionMask }",
      );
    }
    if (inputs.length === 0) return { data: new Float32Array(0), shape: [0, width] };
    const ragged = await tokenizer.encodeBatch(inputs, {
      maxLength: this.config.max_position_embeddings,
      truncation,
      padding: "none",
    });
    // Longest first, as predict does: rows of a batch have similar lengths.
    const order = Array.from(inputs, (_, i) => i).sort((a, b) => ragged.lengths[b] - ragged.lengths[a]);
    const out = new Float32Array(inputs.length * width);
    for (let start = 0; start < order.length; start += batchSize) {
      const rows = order.slice(start, start + batchSize);
      const { inputIds, attentionMask } = tokenizer.pad(ragged, rows);
      await pooled({ inputIds, attentionMask }, attentionMask.data, rows, out);
    }
    return { data: out, shape: [inputs.length, width] };
  }

  /**
   * @internal The encoder's last hidden state [B, T, hidden] of one padded
   * batch: what `embed` pools, from the encoder alone (a head is skipped
   * where the class can skip it; see encoderOutput).
   */
  protected async lastHiddenStateOf(batch: { inputIds: IdMatrix; attentionMask: IdMatrix }): Promise<TensorData> {
    const ids = toIdMatrix("inputIds", batch.inputIds);
    const mask = toIdMatrix("attentionMask", batch.attentionMask);
    if (mask.shape[0] !== ids.shape[0] || mask.shape[1] !== ids.shape[1])
      throw invalidArgument("attentionMask", `shape [${ids.shape.join(", ")}] as inputIds`, mask.shape);
    const out = await this.encoderOutput({ inputIds: ids.data, attentionMask: mask.data, shape: ids.shape });
    return out.lastHiddenState;
  }

  /**
   * An AdamW optimizer over this model's parameters (see `Optimizer`), for
   * `trainStep`. The model's `dispose()` frees it too.
   *
   * @example
   * const opt = cls.createOptimizer({ learningRate: 2e-5, weightDecay: 0.01, maxGradNorm: 1,
   *   schedule: { kind: "linear", warmupSteps: 100, totalSteps: 1000 } });
   */
  createOptimizer(options: OptimizerOptions): Optimizer {
    const native = this.#ensureNotDisposed();
    const resolved = resolveOptimizerOptions(options);
    const handle = callNativeSync(() => new addon.Optimizer(native, resolved));
    const optimizer = new Optimizer(handle, resolved, (work) => this.enqueue(() => work()), options.processGroup);
    this.#optimizers.add(optimizer);
    return optimizer;
  }

  /**
   * One training step in native code: forward in training mode (dropout on),
   * loss, backward, clipping, then the optimizer's update at the learning
   * rate its schedule gives this step. With an array of batches, their
   * gradients accumulate into one update, each batch's mean loss weighted by
   * its share of the items the loss averages over (the scored tokens of the
   * masked LM and token classification, the examples of the other heads),
   * so that the update is the one a single batch of all of them would give
   * (batches of equal size: 1 / batches.length each, as Hugging Face's
   * gradient accumulation scales them). With an optimizer made with a
   * `processGroup`, the other ranks' batches count too. No gradient or
   * weight crosses into JS; the model is back in eval mode afterwards.
   *
   * @example
   * const r = await cls.trainStep({ inputIds, attentionMask, labels }, opt);
   * r.loss; r.gradNorm; r.learningRate;
   */
  async trainStep(batch: Inputs | Inputs[], optimizer: Optimizer): Promise<TrainStepResult> {
    this.#ensureNotDisposed();
    if (!(optimizer instanceof Optimizer) || !this.#optimizers.has(optimizer)) {
      throw invalidArgument("optimizer", "an Optimizer made by this model's createOptimizer()", optimizer);
    }
    const list = Array.isArray(batch) ? batch : [batch];
    if (list.length === 0) throw invalidArgument("batch", "a batch or a non-empty array of batches", batch);
    const batches = list.map((b, i) => this.toNativeBatch(Array.isArray(batch) ? `batch[${i}]` : "batch", b, true));
    const native = optimizer.native;
    const result = await this.enqueue(() => native.trainStep(batches));
    optimizer.recordStep(result.step);
    return result;
  }

  /**
   * @internal The inputs as the addon takes them, checked; the default reads
   * `{ inputIds [B, T], attentionMask?, labels? }`.
   */
  protected toNativeBatch(name: string, batch: Inputs, requireLabels: boolean): NativeBatch {
    if (typeof batch !== "object" || batch === null)
      throw invalidArgument(name, "{ inputIds, attentionMask?, labels? }", batch);
    const inputs = batch as ForwardInputs;
    const ids = toIdMatrix("inputIds", inputs.inputIds);
    let maskData: Int32Array | BigInt64Array;
    if (inputs.attentionMask === undefined) {
      maskData = onesLike(ids.shape);
    } else {
      const m = toIdMatrix("attentionMask", inputs.attentionMask);
      if (m.shape[0] !== ids.shape[0] || m.shape[1] !== ids.shape[1]) {
        throw invalidArgument(
          "attentionMask",
          `shape [${ids.shape.join(", ")}] like inputIds`,
          `shape [${m.shape.join(", ")}]`,
        );
      }
      maskData = m.data;
    }
    const given = inputs.labels;
    if (requireLabels && given === undefined) {
      throw invalidArgument(`${name}.labels`, "the labels a training step needs", undefined);
    }
    const labels = given === undefined ? undefined : toLabels(given, this.integerLabels);
    return {
      inputIds: ids.data,
      attentionMask: maskData,
      shape: ids.shape,
      labels: labels?.data,
      labelsShape: labels?.shape,
    };
  }

  /** Number of parameters, each tied weight counted once (as PyTorch's `parameters()`). */
  numParameters(): number {
    const native = this.#ensureNotDisposed();
    return callNativeSync(() => native.numParameters());
  }

  /**
   * The model's state dict as a native handle: its tensors are the model's
   * own (shared, not copied), listed as PyTorch's `state_dict()` lists them.
   */
  stateDict(): StateDict {
    const native = this.#ensureNotDisposed();
    return new StateDict(callNativeSync(() => native.stateDict()));
  }

  /**
   * Copies tensors into the model inside libtorch, from a StateDict (another
   * model's, or `readStateDict`'s) or a checkpoint path. Strict by default: a
   * load that does not match names every missing, unexpected and mismatched
   * key (LTGBERT_MISSING_KEYS / LTGBERT_SHAPE_MISMATCH) and changes nothing.
   * With `strict: false`, what matches loads and the report says the rest.
   *
   * @example
   * const report = await cls.loadStateDict(mlm.stateDict(), { strict: false });
   * report.missing; // the new head's keys
   */
  async loadStateDict(source: StateDict | string, options: LoadStateDictOptions = {}): Promise<LoadReport> {
    this.#ensureNotDisposed();
    object("options", options);
    if (options.strict !== undefined) boolean("options.strict", options.strict);
    if (options.stripPrefix !== undefined) string("options.stripPrefix", options.stripPrefix);
    let stateDict: StateDict;
    if (typeof source === "string") stateDict = await readStateDict(source);
    else if (source instanceof StateDict) stateDict = source;
    else throw invalidArgument("source", "a StateDict or a checkpoint path", source);
    const report = await this.enqueue((native) =>
      native.loadStateDict(stateDict.native, { strict: options.strict ?? true, stripPrefix: options.stripPrefix }),
    );
    this.#loadReport = report;
    return report;
  }

  /**
   * Saves the model as a Hugging Face directory that Python's
   * `from_pretrained` (and this package's) loads: the weights
   * (`model.safetensors`, or `pytorch_model.bin` with `format: "pytorch"`),
   * then `config.json`, then the tokenizer files (`tokenizer.json`,
   * `tokenizer_config.json`, `special_tokens_map.json`, `vocab.txt`) of the
   * folder the attached `tokenizer` was read from, or, with no tokenizer
   * attached, of the directory the model was loaded from, when it has them;
   * last the custom model code that config.json's `auto_map` names
   * (`modeling_ltgbert.py`, and the modules it imports relatively) from the
   * directory the model was loaded from, so that Python's
   * `from_pretrained(outDir, trust_remote_code=True)` loads the saved folder
   * as it loaded that one. Creates `outDir` (and its parents). The weights
   * are the state dict without the position-index buffers, in float32.
   *
   * Every file is written under a temporary name in `outDir` and renamed
   * over its target once complete, weights first: a failed save leaves a
   * model already in `outDir` as it was (config.json included) and no
   * temporary files. Runs in turn with the model's other calls. Resolves to
   * the paths written, weights first. A weights file of the other format
   * already in `outDir` is left alone; loaders (this package's and Hugging
   * Face's) take `model.safetensors` before `pytorch_model.bin`.
   *
   * @example
   * await cls.savePretrained("./sst2-model");                        // config.json + model.safetensors
   * await cls.savePretrained("./sst2-model", { format: "pytorch" }); // config.json + pytorch_model.bin
   * // Python: torch.load("./sst2-model/pytorch_model.bin", weights_only=True), or from_pretrained
   * // with the hub's modeling_ltgbert.py (load_state_dict needs strict=False: no position_indices)
   */
  async savePretrained(outDir: string, options: SaveOptions = {}): Promise<string[]> {
    this.#ensureNotDisposed();
    const format = checkSaveArguments(outDir, options);
    const saved = this.savedConfig();
    const from = this.#tokenizer === null ? this.sourceDir : path.dirname(this.#tokenizer.file);
    return saveDirectoryAtomically(outDir, async (stage) => {
      const weights = await this.enqueue((native) => native.save(stage, { format }));
      const config = path.join(stage, "config.json");
      await writeFileAtomic(config, `${JSON.stringify(saved, null, 2)}\n`);
      const tokenizer = await copyTokenizerFiles(from, stage, outDir);
      const code = await copyRemoteCodeFiles(this.sourceDir, stage, saved, outDir);
      return [weights, config, ...tokenizer, ...code];
    });
  }

  /** @internal The config.json that `savePretrained` writes. */
  protected savedConfig(): Record<string, unknown> {
    return savedConfig(this.config, (this.constructor as unknown as { architecture: string }).architecture, null);
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.#native === null;
  }

  /**
   * Frees the native model now rather than at garbage collection. Idempotent.
   * A call already running finishes; calls still queued reject with
   * LTGBERT_DISPOSED.
   */
  dispose(): void {
    for (const optimizer of this.#optimizers) optimizer.dispose();
    this.#optimizers.clear();
    this.#native?.dispose();
    this.#native = null;
  }

  async [asyncDispose](): Promise<void> {
    this.dispose();
  }

  /** @internal Labels are class ids (true) or real values (false). */
  protected get integerLabels(): boolean {
    return true;
  }

  /**
   * @internal Runs `work` after every call queued before it; on an idle
   * model it starts at once, so a dispose() that follows cannot cancel it.
   */
  protected enqueue<T>(work: (native: NativeModel) => Promise<T>): Promise<T> {
    this.#ensureNotDisposed();
    const start = (): Promise<T> => callNative(() => work(this.#ensureNotDisposed()));
    const run = this.#pending === 0 ? start() : this.#tail.then(start);
    this.#pending++;
    this.#tail = run.then(
      () => void this.#pending--,
      () => void this.#pending--,
    );
    return run;
  }

  #ensureNotDisposed(): NativeModel {
    if (this.#native === null)
      throw new LtgBertError("LTGBERT_DISPOSED", `${this.constructor.name}: used after dispose()`);
    return this.#native;
  }
}

/**
 * LTG-BERT with its masked-language-model head (decoder tied to the word
 * embedding). Loaded models are in eval mode.
 *
 * @example
 * const mlm = await LtgBertForMaskedLM.fromPretrained("./babylm-checkpoint");
 * const { logits } = await mlm.forward({ inputIds: [[1, 42, 4, 2]] });
 */
export class LtgBertForMaskedLM extends LtgBertPreTrainedModel {
  static readonly architecture = "LtgBertForMaskedLM";

  /** Loads a directory Python wrote: config.json plus model.safetensors (sharded too) or pytorch_model.bin. */
  static async fromPretrained(dir: string, options: LoadOptions = {}): Promise<LtgBertForMaskedLM> {
    const { config, strict, tokenizer } = await this.readPretrained(dir, options, this.architecture);
    const loaded = await this.loadNative(config, "masked_lm", options, dir, strict);
    const model = new LtgBertForMaskedLM(loaded.native, loaded.config, options.device ?? "cpu", loaded.report, dir);
    return model.setTokenizer(tokenizer);
  }

  /** A freshly initialised model (the reference's initialisation, seeded) from a config.json object. */
  static async fromConfig(config: LtgBertConfigInput, options: LoadOptions = {}): Promise<LtgBertForMaskedLM> {
    checkLoadOptions(options);
    if (typeof config !== "object" || config === null) throw invalidArgument("config", "a config.json object", config);
    const resolved = resolveConfig(config as Record<string, unknown>, options.config ?? {}, "config");
    const loaded = await this.loadNative(resolved, "masked_lm", options, null, true);
    return new LtgBertForMaskedLM(loaded.native, loaded.config, options.device ?? "cpu", null, null);
  }
}

/** Options of the sequence-classification factories. */
export interface ClassificationLoadOptions extends LoadOptions {
  /** Number of labels; overrides config.json's num_labels. */
  numLabels?: number;
}

/**
 * LTG-BERT with a sequence-classification head on the first ([CLS])
 * position: the linear `classifier` or the MLP `head` of hub checkpoints,
 * as config.json's `classifier_head` says (or the checkpoint's keys, when
 * it says nothing).
 *
 * @example
 * const cls = await LtgBertForSequenceClassification.fromPretrained("./sst2-model");
 * const { logits, loss } = await cls.forward({ inputIds, attentionMask, labels: [1, 0] });
 */
export class LtgBertForSequenceClassification extends LtgBertPreTrainedModel {
  static readonly architecture = "LtgBertForSequenceClassification";

  /** Loads a directory Python wrote. A masked-LM directory loads its encoder and gets a fresh head (see `loadReport`). */
  static async fromPretrained(
    dir: string,
    options: ClassificationLoadOptions = {},
  ): Promise<LtgBertForSequenceClassification> {
    const { config, strict, tokenizer } = await this.readPretrained(
      dir,
      options,
      this.architecture,
      numLabelsOverride(options),
    );
    const loaded = await this.loadNative(config, "sequence_classification", options, dir, strict);
    const model = new LtgBertForSequenceClassification(
      loaded.native,
      loaded.config,
      options.device ?? "cpu",
      loaded.report,
      dir,
    );
    return model.setTokenizer(tokenizer);
  }

  /**
   * Transfers a masked LM into a classifier in native memory, as the weight
   * transfer write-up does in Python: the embedding and the encoder are
   * copied tensor to tensor, the head is new (initialised as the reference
   * initialises it, seeded). `loadReport` says what moved; the masked LM's
   * tokenizer comes along. Gives the same
   * weights as `fromPretrained(mlmDir, …)` and as `fromConfig` followed by
   * `loadStateDict(mlm.stateDict(), { strict: false })`, for the same seed.
   *
   * @example
   * const cls = await LtgBertForSequenceClassification.fromMaskedLM(mlm, { numLabels: 3, classifierHead: "linear" });
   * cls.loadReport.missing; // ["classifier.bias", "classifier.weight"]
   */
  static async fromMaskedLM(
    mlm: LtgBertForMaskedLM,
    options: TransferOptions,
  ): Promise<LtgBertForSequenceClassification> {
    if (!(mlm instanceof LtgBertForMaskedLM)) throw invalidArgument("mlm", "an LtgBertForMaskedLM", mlm);
    object("options", options, "{ numLabels, … }");
    const { classifierHead, id2label, device, seed, problemType } = options;
    if (classifierHead !== undefined) oneOf("options.classifierHead", classifierHead, ["linear", "mlp"]);
    if (problemType !== undefined)
      oneOf("options.problemType", problemType, [
        "single_label_classification",
        "multi_label_classification",
        "regression",
      ]);
    const labels = labelConfig(id2label, options.numLabels);
    const { architectures: _architectures, ...base } = mlm.config;
    void _architectures;
    const cls = await LtgBertForSequenceClassification.fromConfig(base, {
      numLabels: options.numLabels,
      device: device ?? mlm.device,
      seed,
      config: {
        classifier_head: classifierHead ?? "linear",
        ...labels,
        ...(problemType === undefined ? {} : { problem_type: problemType }),
      },
    });
    try {
      await cls.loadStateDict(mlm.stateDict(), { strict: false });
      cls.tokenizer = mlm.tokenizer;
    } catch (error) {
      cls.dispose();
      throw error;
    }
    return cls;
  }

  /** A freshly initialised classifier from a config.json object. */
  static async fromConfig(
    config: LtgBertConfigInput,
    options: ClassificationLoadOptions = {},
  ): Promise<LtgBertForSequenceClassification> {
    checkLoadOptions(options);
    if (typeof config !== "object" || config === null) throw invalidArgument("config", "a config.json object", config);
    const resolved = resolveConfig(
      config as Record<string, unknown>,
      { ...numLabelsOverride(options), ...(options.config ?? {}) },
      "config",
    );
    const loaded = await this.loadNative(resolved, "sequence_classification", options, null, true);
    return new LtgBertForSequenceClassification(loaded.native, loaded.config, options.device ?? "cpu", null, null);
  }

  /** Number of output labels. */
  get numLabels(): number {
    return numLabelsOf(this.config);
  }

  /** The name of each class, by id: config.json's `id2label`, or "LABEL_i" where it says nothing. */
  get labelNames(): string[] {
    const given = this.config.id2label ?? {};
    return Array.from({ length: this.numLabels }, (_, i) => given[String(i)] ?? `LABEL_${i}`);
  }

  /**
   * Names the classes: sets config.json's `id2label` and `label2id`, which
   * `savePretrained` writes and `predict` reports.
   *
   * @example
   * cls.setLabelNames(["negative", "positive"]);
   */
  setLabelNames(names: readonly string[]): this {
    if (
      !Array.isArray(names) ||
      names.length !== this.numLabels ||
      names.some((n) => typeof n !== "string" || n === "") ||
      new Set(names).size !== names.length
    ) {
      throw invalidArgument("names", `${this.numLabels} distinct non-empty label names (numLabels)`, names);
    }
    this.config.id2label = Object.fromEntries(names.map((name, i) => [String(i), name]));
    this.config.label2id = Object.fromEntries(names.map((name, i) => [name, i]));
    return this;
  }

  /**
   * Classifies texts (or pairs of texts) with the attached `tokenizer`:
   * encodes them up to `max_position_embeddings` tokens, runs them in
   * batches of similar length, and gives each its class probabilities
   * (softmax of the logits, in float64), in the order of `texts`. With
   * `topK`, each prediction also lists its k most probable labels as `top`.
   *
   * @example
   * const [p] = await cls.predict(["a gorgeous , witty , seductive movie ."], { topK: 2 });
   * p.label; // "positive" (config.json's id2label, else "LABEL_1")
   * p.score; // the probability of that label
   * p.top;   // [{ label: "positive", labelId: 1, score: 0.93 }, { label: "negative", labelId: 0, score: 0.07 }]
   */
  async predict(texts: readonly TextInput[], options: PredictOptions = {}): Promise<Prediction[]> {
    const { batchSize = 32, truncation = true, topK } = object<PredictOptions>("options", options);
    positiveInteger("options.batchSize", batchSize);
    boolean("options.truncation", truncation);
    if (topK !== undefined) positiveInteger("options.topK", topK);
    if (!Array.isArray(texts)) throw invalidArgument("texts", "an array of strings or [string, string] pairs", texts);
    const tokenizer = this.predictionTokenizer();
    return this.#inBatches(tokenizer, texts, { batchSize, truncation }, (batch) => this.classifyBatch(batch, { topK }));
  }

  /**
   * Encodes `texts` up to `max_position_embeddings` tokens, runs `run` on
   * padded batches of similar length, and gives its results in the order of
   * `texts`.
   */
  async #inBatches<R>(
    tokenizer: Tokenizer,
    texts: readonly TextInput[],
    options: { batchSize: number; truncation: boolean },
    run: (batch: BatchEncoding) => Promise<R[]>,
  ): Promise<R[]> {
    if (texts.length === 0) return [];
    const ragged = await tokenizer.encodeBatch(texts, {
      maxLength: this.config.max_position_embeddings,
      truncation: options.truncation,
      padding: "none",
    });
    // Longest first, so that rows of one batch have similar lengths (less
    // padding) and a batch too large for memory fails at once.
    const order = Array.from(texts, (_, i) => i).sort((a, b) => ragged.lengths[b] - ragged.lengths[a]);
    const out = new Array<R>(texts.length);
    for (let start = 0; start < order.length; start += options.batchSize) {
      const rows = order.slice(start, start + options.batchSize);
      const results = await run(tokenizer.pad(ragged, rows));
      rows.forEach((row, r) => (out[row] = results[r]));
    }
    return out;
  }

  /**
   * Scores texts (or pairs of texts) with a regression model
   * (`problem_type` "regression", `num_labels` 1, as STS-B's): the model's
   * output for each, in the order of `texts`. Encodes with the attached
   * `tokenizer` up to `max_position_embeddings` tokens and runs them in
   * batches of similar length, as `predict` does.
   *
   * @example
   * const sts = await LtgBertForSequenceClassification.fromPretrained("./stsb-model");
   * await sts.score([["A man is playing a guitar.", "A man plays the guitar."]]); // [4.1]
   */
  async score(texts: readonly TextInput[], options: Omit<PredictOptions, "topK"> = {}): Promise<number[]> {
    const { batchSize = 32, truncation = true } = object<Omit<PredictOptions, "topK">>("options", options);
    positiveInteger("options.batchSize", batchSize);
    boolean("options.truncation", truncation);
    if (!Array.isArray(texts)) throw invalidArgument("texts", "an array of strings or [string, string] pairs", texts);
    const tokenizer = this.predictionTokenizer("regression");
    return this.#inBatches(tokenizer, texts, { batchSize, truncation }, (batch) => this.scoreBatch(batch));
  }

  /** @internal One forward over an encoded, padded batch of a regression model: a score per row. */
  async scoreBatch(batch: Pick<BatchEncoding, "inputIds" | "attentionMask">): Promise<number[]> {
    const { logits } = await this.forward(
      { inputIds: batch.inputIds, attentionMask: batch.attentionMask },
      { hiddenStates: false },
    );
    return Array.from(logits.data);
  }

  /**
   * @internal The tokenizer `predict` (and `score`) encodes with; fails,
   * saying what to do, without one or for a model whose outputs are not
   * what the call gives: single-label classes for `predict`, one score for
   * `score`.
   */
  predictionTokenizer(
    problem: "single_label_classification" | "regression" = "single_label_classification",
  ): Tokenizer {
    const call = problem === "regression" ? "score" : "predict";
    const tokenizer = this.tokenizer;
    if (tokenizer === null) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        `${call}: the model has no tokenizer; load one with Tokenizer.fromPretrained(dir) and set model.tokenizer, or load the model from a directory that has a tokenizer.json`,
      );
    }
    const actual = problemTypeOf(this.config);
    if (actual !== problem) {
      const what =
        problem === "regression"
          ? `score: gives the output of regression models (problem_type "regression"); this model's problem_type is ${JSON.stringify(actual)}${actual === "single_label_classification" ? " (use predict)" : ""}`
          : `predict: gives softmax probabilities of single-label classifiers; this model's problem_type is ${JSON.stringify(actual)}${actual === "regression" ? " (use score)" : ""}`;
      throw new LtgBertError("LTGBERT_INVALID_ARGUMENT", what);
    }
    if (problem === "regression" && this.numLabels !== 1) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        `score: gives one score per text, for num_labels 1; this model has num_labels ${this.numLabels}`,
      );
    }
    return tokenizer;
  }

  /**
   * @internal One forward over an encoded, padded batch and a prediction
   * per row: what `predict` does for each of its batches, and what the
   * server's batcher runs on the texts of many requests at once.
   */
  async classifyBatch(
    batch: Pick<BatchEncoding, "inputIds" | "attentionMask">,
    options: { topK?: number } = {},
  ): Promise<Prediction[]> {
    const { logits } = await this.forward(
      { inputIds: batch.inputIds, attentionMask: batch.attentionMask },
      { hiddenStates: false },
    );
    const names = this.labelNames;
    const k = this.numLabels;
    const top = options.topK === undefined ? 0 : Math.min(options.topK, k);
    return Array.from({ length: batch.inputIds.shape[0] }, (_, r) => {
      const scores = softmax(logits.data.subarray(r * k, (r + 1) * k));
      let best = 0;
      for (let c = 1; c < k; c++) if (scores[c] > scores[best]) best = c;
      const prediction: Prediction = { label: names[best], labelId: best, score: scores[best], scores };
      if (top > 0) prediction.top = ranked(scores, names, top);
      return prediction;
    });
  }

  protected override get integerLabels(): boolean {
    return problemTypeOf(this.config) === "single_label_classification";
  }

  protected override savedConfig(): Record<string, unknown> {
    return savedConfig(this.config, LtgBertForSequenceClassification.architecture, { numLabels: this.numLabels });
  }
}

/** Options of `predict`. */
export interface PredictOptions {
  /** Texts per forward pass (default 32). */
  batchSize?: number;
  /**
   * Cut texts longer than the model's `max_position_embeddings` (default
   * true); with false, such a text is an LTGBERT_INVALID_ARGUMENT error
   * naming its index and length.
   */
  truncation?: boolean;
  /**
   * Also list each text's k most probable labels, best first, as `top`
   * (k above the number of labels gives them all). Default: no `top`.
   */
  topK?: number;
}

/** One text's prediction. */
export interface Prediction {
  /** The most probable class's name (config.json's id2label, else "LABEL_i"). */
  label: string;
  labelId: number;
  /** Its probability. */
  score: number;
  /** Every class's probability, by id; they sum to 1. */
  scores: number[];
  /** With `topK`: the k most probable labels, best first (ties: the lower id first). */
  top?: RankedLabel[];
}

/** A label with its probability, as `Prediction.top` lists them. */
export interface RankedLabel {
  label: string;
  labelId: number;
  score: number;
}

/** The `k` most probable labels, best first; a stable sort keeps ties in id order. */
function ranked(scores: readonly number[], names: readonly string[], k: number): RankedLabel[] {
  return scores
    .map((score, labelId) => ({ label: names[labelId], labelId, score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

/** Probabilities from logits, in float64, shifted by the maximum so that exp cannot overflow. */
function softmax(logits: Float32Array): number[] {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  const exps = Array.from(logits, (x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Options of `fromMaskedLM`. */
export interface TransferOptions {
  /** Number of labels of the new head. */
  numLabels: number;
  /** The new head: a linear `classifier` (default) or the hub's MLP `head`. */
  classifierHead?: "linear" | "mlp";
  /** Label names by id, saved as config.json's id2label (label2id follows). */
  id2label?: Record<string, string> | string[];
  /** Seed of the new head's initialisation (default 42). */
  seed?: number;
  /** Device of the classifier (default: the masked LM's). */
  device?: string;
  /** config.json's problem_type (default: single-label classification); "regression" with numLabels 1 scores, as STS-B. */
  problemType?: ProblemType;
}

function labelConfig(id2label: TransferOptions["id2label"], numLabels: number): Record<string, unknown> {
  if (id2label === undefined) return {};
  const entries: [string, string][] = Array.isArray(id2label)
    ? id2label.map((name, i) => [String(i), name])
    : Object.entries(id2label);
  if (entries.length !== numLabels || entries.some(([, name]) => typeof name !== "string")) {
    throw invalidArgument("options.id2label", `${numLabels} label names`, id2label);
  }
  return {
    id2label: Object.fromEntries(entries),
    label2id: Object.fromEntries(entries.map(([id, name]) => [name, Number(id)])),
  };
}

function numLabelsOverride(options: ClassificationLoadOptions): Record<string, unknown> {
  if (options.numLabels === undefined) return {};
  return { num_labels: positiveInteger("options.numLabels", options.numLabels) };
}

/** The name of each of `count` classes, by id: config.json's `id2label`, or "LABEL_i" where it says nothing. */
function labelNamesOf(config: LtgBertConfig, count: number): string[] {
  const given = config.id2label ?? {};
  return Array.from({ length: count }, (_, i) => given[String(i)] ?? `LABEL_${i}`);
}

/** Sets config.json's `id2label` and `label2id` from `names`, checked against `count`. */
function setLabelNamesOf(config: LtgBertConfig, count: number, names: readonly string[]): void {
  if (
    !Array.isArray(names) ||
    names.length !== count ||
    names.some((n) => typeof n !== "string" || n === "") ||
    new Set(names).size !== names.length
  ) {
    throw invalidArgument("names", `${count} distinct non-empty label names (numLabels)`, names);
  }
  config.id2label = Object.fromEntries(names.map((name, i) => [String(i), name]));
  config.label2id = Object.fromEntries(names.map((name, i) => [name, i]));
}

/** A config object as `fromConfig` takes it, checked and resolved with `overrides` on top of `options.config`. */
function configFromObject(config: unknown, options: LoadOptions, overrides: Record<string, unknown>): LtgBertConfig {
  checkLoadOptions(options);
  if (typeof config !== "object" || config === null) throw invalidArgument("config", "a config.json object", config);
  return resolveConfig(config as Record<string, unknown>, { ...(options.config ?? {}), ...overrides }, "config");
}

/**
 * `saved` with an `auto_map` entry for `autoClass` when config.json has an
 * auto_map that names the model's code but not that class: Python's
 * `AutoModelFor…` with `trust_remote_code` then finds the class in the same
 * module as the others (a masked-LM repository often lists only its own).
 */
function withAutoMapEntry(
  saved: Record<string, unknown>,
  autoClass: string,
  architecture: string,
): Record<string, unknown> {
  const map = saved.auto_map;
  if (typeof map !== "object" || map === null || Array.isArray(map) || autoClass in map) return saved;
  const entries = Object.entries(map as Record<string, unknown>);
  const model = entries.find(([key, value]) => key.startsWith("AutoModel") && typeof value === "string");
  if (!model) return saved;
  const module = (model[1] as string).slice(0, (model[1] as string).lastIndexOf("."));
  if (module === "") return saved;
  return { ...saved, auto_map: { ...(map as Record<string, unknown>), [autoClass]: `${module}.${architecture}` } };
}

/** Options of `fromMaskedLM` for the heads without labels of their own. */
export interface HeadTransferOptions {
  /** Seed of the new head's initialisation (default 42). */
  seed?: number;
  /** Device of the new model (default: the masked LM's). */
  device?: string;
}

/** Options of `LtgBertForTokenClassification.fromMaskedLM`. */
export interface TokenClassificationTransferOptions extends HeadTransferOptions {
  /** Number of labels (tags) of the new head. */
  numLabels: number;
  /** Label names by id, saved as config.json's id2label (label2id follows). */
  id2label?: Record<string, string> | string[];
}

/**
 * The masked LM's encoder copied into `build`'s fresh model inside native
 * memory (a non-strict loadStateDict: its report's `missing` is the new
 * head, `unexpected` the masked-LM head left behind); the tokenizer comes
 * along.
 */
async function transferEncoder<M extends LtgBertPreTrainedModel<object, unknown>>(
  mlm: LtgBertForMaskedLM,
  options: HeadTransferOptions,
  build: (base: LtgBertConfigInput, load: LoadOptions) => Promise<M>,
): Promise<M> {
  if (!(mlm instanceof LtgBertForMaskedLM)) throw invalidArgument("mlm", "an LtgBertForMaskedLM", mlm);
  object("options", options);
  const { architectures: _architectures, ...base } = mlm.config;
  void _architectures;
  const model = await build(base, { device: options.device ?? mlm.device, seed: options.seed });
  try {
    await model.loadStateDict(mlm.stateDict(), { strict: false });
    model.tokenizer = mlm.tokenizer;
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

/** What `LtgBertModel.forward` gives. */
export interface BaseModelOutput extends EncoderOutput {
  /** [B, T, hidden]. */
  lastHiddenState: TensorData;
}

/**
 * The bare encoder: embedding and transformer layers, no head, as the
 * reference's `LtgBertModel`. Any LTG-BERT directory loads into it; a head
 * the checkpoint carries is left out and listed in `loadReport.unexpected`.
 *
 * @example
 * const enc = await LtgBertModel.fromPretrained("./babylm-checkpoint");
 * const o = await enc.forward({ inputIds, attentionMask }, { outputHiddenStates: true, outputAttentions: true });
 * o.lastHiddenState.shape; // [B, T, hidden]
 * o.hiddenStates.length;   // layers + 1, as Python's output_hidden_states
 */
export class LtgBertModel extends LtgBertPreTrainedModel<EncoderInputs, BaseModelOutput> {
  static readonly architecture = "LtgBertModel";

  /** Loads a directory Python wrote (any head in it is dropped and reported). */
  static async fromPretrained(dir: string, options: LoadOptions = {}): Promise<LtgBertModel> {
    const { config, strict, tokenizer } = await this.readPretrained(dir, options, this.architecture);
    const loaded = await this.loadNative(config, "base", options, dir, strict);
    return new LtgBertModel(loaded.native, loaded.config, options.device ?? "cpu", loaded.report, dir).setTokenizer(
      tokenizer,
    );
  }

  /** A freshly initialised encoder (the reference's initialisation, seeded) from a config.json object. */
  static async fromConfig(config: LtgBertConfigInput, options: LoadOptions = {}): Promise<LtgBertModel> {
    const resolved = configFromObject(config, options, {});
    const loaded = await this.loadNative(resolved, "base", options, null, true);
    return new LtgBertModel(loaded.native, loaded.config, options.device ?? "cpu", null, null);
  }

  /**
   * The masked LM's encoder, copied in native memory; `loadReport.missing`
   * is empty and `unexpected` lists the masked-LM head left behind.
   */
  static async fromMaskedLM(mlm: LtgBertForMaskedLM, options: HeadTransferOptions = {}): Promise<LtgBertModel> {
    return transferEncoder(mlm, options, (base, load) => LtgBertModel.fromConfig(base, load));
  }

  /** Runs the encoder; `lastHiddenState` is always returned (`hiddenStates: false` is refused). */
  override async forward(inputs: EncoderInputs, options: ForwardOptions = {}): Promise<BaseModelOutput> {
    if (typeof options === "object" && options !== null && options.hiddenStates === false) {
      throw invalidArgument("options.hiddenStates", "true or absent (the encoder's output is lastHiddenState)", false);
    }
    return super.forward(inputs, options);
  }

  protected override headOutput(
    _out: NativeForwardResult,
    _logitsInto: Float32Array | undefined,
    common: EncoderOutput,
  ): BaseModelOutput {
    if (!common.lastHiddenState)
      throw new LtgBertError("LTGBERT_INTERNAL", "forward: the native result has no hidden states");
    return { ...common, lastHiddenState: common.lastHiddenState };
  }

  protected override savedConfig(): Record<string, unknown> {
    return withAutoMapEntry(
      savedConfig(this.config, LtgBertModel.architecture, null),
      "AutoModel",
      LtgBertModel.architecture,
    );
  }
}

/**
 * LTG-BERT with the hub's MLP head on every position (tagging: named
 * entities, parts of speech). Labels are [B, T] class ids, -100 where a
 * position is not scored (padding, continuation subwords); the loss is the
 * mean cross-entropy over the others.
 *
 * @example
 * const tagger = await LtgBertForTokenClassification.fromMaskedLM(mlm, { numLabels: 17, id2label: tags });
 * const { logits, loss } = await tagger.forward({ inputIds, attentionMask, labels }); // logits [B, T, 17]
 */
/** What `LtgBertForTokenClassification.tag` gives for a sentence. */
export interface TaggedWords {
  words: string[];
  /** One label per word. */
  labels: string[];
  /** The label's softmax probability, per word. */
  scores: number[];
  /** Where a string input's words are in it: [start, end) JavaScript string indices per word. */
  spans?: [number, number][];
}

/** Words of a text: whitespace-separated, with leading and trailing punctuation split off, and their spans. */
export function splitWords(text: string): { words: string[]; spans: [number, number][] } {
  const words: string[] = [];
  const spans: [number, number][] = [];
  const push = (start: number, end: number): void => {
    if (end > start) {
      words.push(text.slice(start, end));
      spans.push([start, end]);
    }
  };
  const punct = /[\p{P}\p{S}]/u;
  for (const m of text.matchAll(/\S+/gu)) {
    let start = m.index!;
    let end = start + m[0].length;
    const tail: [number, number][] = [];
    // Split punctuation off the start, one character at a time…
    while (start < end && punct.test(text[start])) {
      push(start, start + 1);
      start++;
    }
    // …and off the end (kept in order).
    while (end > start && punct.test(text[end - 1])) {
      tail.unshift([end - 1, end]);
      end--;
    }
    push(start, end);
    for (const [a, b] of tail) push(a, b);
  }
  return { words, spans };
}

export class LtgBertForTokenClassification extends LtgBertPreTrainedModel<ForwardInputs, ModelOutput> {
  static readonly architecture = "LtgBertForTokenClassification";

  /** Loads a directory Python wrote. A masked-LM directory loads its encoder and gets a fresh head (see `loadReport`). */
  static async fromPretrained(
    dir: string,
    options: ClassificationLoadOptions = {},
  ): Promise<LtgBertForTokenClassification> {
    const { config, strict, tokenizer } = await this.readPretrained(
      dir,
      options,
      this.architecture,
      numLabelsOverride(options),
    );
    const loaded = await this.loadNative(config, "token_classification", options, dir, strict);
    const device = options.device ?? "cpu";
    return new LtgBertForTokenClassification(loaded.native, loaded.config, device, loaded.report, dir).setTokenizer(
      tokenizer,
    );
  }

  /** A freshly initialised tagger from a config.json object. */
  static async fromConfig(
    config: LtgBertConfigInput,
    options: ClassificationLoadOptions = {},
  ): Promise<LtgBertForTokenClassification> {
    const resolved = configFromObject(config, options, numLabelsOverride(options));
    const loaded = await this.loadNative(resolved, "token_classification", options, null, true);
    return new LtgBertForTokenClassification(loaded.native, loaded.config, options.device ?? "cpu", null, null);
  }

  /**
   * Transfers a masked LM into a tagger in native memory: the encoder is
   * copied tensor to tensor, the head is new (seeded);
   * `loadReport.missing` names its four keys.
   */
  static async fromMaskedLM(
    mlm: LtgBertForMaskedLM,
    options: TokenClassificationTransferOptions,
  ): Promise<LtgBertForTokenClassification> {
    object("options", options, "{ numLabels, … }");
    const labels = labelConfig(options.id2label, options.numLabels);
    return transferEncoder(mlm, options, (base, load) =>
      LtgBertForTokenClassification.fromConfig(base, { ...load, numLabels: options.numLabels, config: labels }),
    );
  }

  /** Number of labels (tags). */
  get numLabels(): number {
    return numLabelsOf(this.config);
  }

  /** The name of each label, by id: config.json's `id2label`, or "LABEL_i" where it says nothing. */
  get labelNames(): string[] {
    return labelNamesOf(this.config, this.numLabels);
  }

  /** Names the labels: sets config.json's `id2label` and `label2id`, which `savePretrained` writes. */
  setLabelNames(names: readonly string[]): this {
    setLabelNamesOf(this.config, this.numLabels, names);
    return this;
  }

  /**
   * Tags words: the label of each word (read off its first subword), with
   * its softmax probability. A string is split into words first: at
   * whitespace, with punctuation at a word's start or end split off
   * (`"Hello, world!"` → `Hello` `,` `world` `!`), and each word's span in the
   * string is given; pass an array of words to split them your own way (as
   * the training data did, for example UD's `do` `n't`). A sentence longer
   * than the model takes is an LTGBERT_INVALID_ARGUMENT error naming it.
   *
   * @example
   * const [s] = await tagger.tag(["The cat sat."]);
   * s.words;  // ["The", "cat", "sat", "."]
   * s.labels; // ["DET", "NOUN", "VERB", "PUNCT"]
   */
  async tag(
    inputs: readonly (string | readonly string[])[],
    options: { batchSize?: number } = {},
  ): Promise<TaggedWords[]> {
    const { batchSize = 32 } = object<{ batchSize?: number }>("options", options);
    positiveInteger("options.batchSize", batchSize);
    if (!Array.isArray(inputs)) throw invalidArgument("inputs", "an array of strings or of word arrays", inputs);
    const tokenizer = this.tokenizer;
    if (tokenizer === null) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        "tag: the model has no tokenizer; load one with Tokenizer.fromPretrained(dir) and set model.tokenizer",
      );
    }
    const sentences = inputs.map((input, i) => {
      if (typeof input === "string") return splitWords(input);
      if (!Array.isArray(input) || input.some((w) => typeof w !== "string"))
        throw invalidArgument(`inputs[${i}]`, "a string or an array of words", input);
      return { words: [...input], spans: null };
    });
    const names = this.labelNames;
    const K = this.numLabels;
    const out: TaggedWords[] = [];
    for (let from = 0; from < sentences.length; from += batchSize) {
      const part = sentences.slice(from, from + batchSize);
      const enc = await encodeTagging(
        tokenizer,
        part.map((s) => ({ words: s.words.length === 0 ? ["."] : s.words })),
        { maxLength: this.config.max_position_embeddings },
      );
      enc.wordsCut.forEach((cut, r) => {
        if (cut > 0 && part[r].words.length > 0) {
          throw invalidArgument(
            `inputs[${from + r}]`,
            `a sentence that fits in ${this.config.max_position_embeddings} tokens (max_position_embeddings); its last ${cut} words do not`,
            part[r].words.length,
          );
        }
      });
      const { logits } = await this.forward({ inputIds: enc.inputIds, attentionMask: enc.attentionMask });
      const [B, T] = enc.inputIds.shape;
      for (let b = 0; b < B; b++) {
        const s = part[b];
        const labels = new Array<string>(s.words.length);
        const scores = new Array<number>(s.words.length);
        for (let t = 0; t < T && s.words.length > 0; t++) {
          const k = b * T + t;
          if (enc.firstToken.data[k] !== 1) continue;
          const row = logits.data.subarray(k * K, (k + 1) * K);
          let best = 0;
          for (let c = 1; c < K; c++) if (row[c] > row[best]) best = c;
          let sum = 0;
          for (let c = 0; c < K; c++) sum += Math.exp(row[c] - row[best]);
          labels[enc.wordIndex.data[k]] = names[best];
          scores[enc.wordIndex.data[k]] = 1 / sum;
        }
        out.push({ words: s.words, labels, scores, ...(s.spans === null ? {} : { spans: s.spans }) });
      }
    }
    return out;
  }

  protected override savedConfig(): Record<string, unknown> {
    const saved = savedConfig(this.config, LtgBertForTokenClassification.architecture, { numLabels: this.numLabels });
    // Sequence classification's keys: the reference's token classifier reads neither.
    if (this.config.problem_type === undefined) delete saved.problem_type;
    delete saved.classifier_head;
    return withAutoMapEntry(saved, "AutoModelForTokenClassification", LtgBertForTokenClassification.architecture);
  }
}

/** What `LtgBertForQuestionAnswering.forward` takes. */
export interface QuestionAnsweringInputs extends EncoderInputs {
  /**
   * The answer's first token per row, [B]; with `endPositions`, the output
   * has `loss`. Positions outside [0, T) are clamped to T and so ignored,
   * as the reference does (an answer cut off by truncation scores nothing).
   */
  startPositions?: PositionInput;
  /** The answer's last token per row, [B]. */
  endPositions?: PositionInput;
}

/** What `LtgBertForQuestionAnswering.forward` gives. */
export interface QuestionAnsweringOutput extends EncoderOutput {
  /** [B, T]: the score of each position as the answer's start. */
  startLogits: TensorData;
  /** [B, T]: the score of each position as the answer's end. */
  endLogits: TensorData;
}

/** Options of `LtgBertForQuestionAnswering.answer`. */
export interface AnswerOptions {
  /** Tokens per window (default 384, at most max_position_embeddings). */
  maxLength?: number;
  /** Context tokens neighbouring windows share (default 128, or a quarter of maxLength if less). */
  docStride?: number;
  maxQuestionLength?: number;
  /** Windows per forward (default 16). */
  batchSize?: number;
  nBest?: number;
  maxAnswerLength?: number;
  allowImpossible?: boolean;
}

/**
 * LTG-BERT for extractive question answering: the hub's MLP head with two
 * outputs per position, the start and end logits of the answer span. The
 * loss is the mean of the start and end cross-entropies.
 *
 * @example
 * const qa = await LtgBertForQuestionAnswering.fromPretrained("./qa-model");
 * const r = await qa.forward({ inputIds, attentionMask, startPositions: [5], endPositions: [7] });
 * r.startLogits.shape; // [1, T]
 */
export class LtgBertForQuestionAnswering extends LtgBertPreTrainedModel<
  QuestionAnsweringInputs,
  QuestionAnsweringOutput
> {
  static readonly architecture = "LtgBertForQuestionAnswering";

  /** Loads a directory Python wrote. A masked-LM directory loads its encoder and gets a fresh head (see `loadReport`). */
  static async fromPretrained(dir: string, options: LoadOptions = {}): Promise<LtgBertForQuestionAnswering> {
    const { config, strict, tokenizer } = await this.readPretrained(dir, options, this.architecture);
    const loaded = await this.loadNative(config, "question_answering", options, dir, strict);
    const device = options.device ?? "cpu";
    return new LtgBertForQuestionAnswering(loaded.native, loaded.config, device, loaded.report, dir).setTokenizer(
      tokenizer,
    );
  }

  /** A freshly initialised model from a config.json object. */
  static async fromConfig(config: LtgBertConfigInput, options: LoadOptions = {}): Promise<LtgBertForQuestionAnswering> {
    const resolved = configFromObject(config, options, { num_labels: 2 });
    const loaded = await this.loadNative(resolved, "question_answering", options, null, true);
    return new LtgBertForQuestionAnswering(loaded.native, loaded.config, options.device ?? "cpu", null, null);
  }

  /** Transfers a masked LM in native memory; `loadReport.missing` names the new head's four keys. */
  static async fromMaskedLM(
    mlm: LtgBertForMaskedLM,
    options: HeadTransferOptions = {},
  ): Promise<LtgBertForQuestionAnswering> {
    return transferEncoder(mlm, options, (base, load) => LtgBertForQuestionAnswering.fromConfig(base, load));
  }

  /**
   * Answers questions about contexts: the best span of each context (cut
   * into windows of `maxLength` tokens that share `docStride`), its text as
   * it stands in the context, its character span and its score (start +
   * end logit). `allowImpossible` answers "" where the model's no-answer
   * score ([CLS]) wins, as a SQuAD 2.0 model should.
   *
   * @example
   * const [a] = await qa.answer([{ question: "Who won?", context: "The Broncos won the game." }]);
   * a.text; // "The Broncos"
   */
  async answer(
    inputs: readonly { question: string; context: string }[],
    options: AnswerOptions = {},
  ): Promise<ExtractedAnswer[]> {
    const o = object<AnswerOptions>("options", options);
    if (!Array.isArray(inputs)) throw invalidArgument("inputs", "an array of { question, context }", inputs);
    const tokenizer = this.tokenizer;
    if (tokenizer === null) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        "answer: the model has no tokenizer; load one with Tokenizer.fromPretrained(dir) and set model.tokenizer",
      );
    }
    if (inputs.length === 0) return [];
    const maxLength = o.maxLength ?? Math.min(384, this.config.max_position_embeddings);
    if (maxLength > this.config.max_position_embeddings)
      throw invalidArgument(
        "options.maxLength",
        `at most max_position_embeddings (${this.config.max_position_embeddings})`,
        maxLength,
      );
    const enc = await encodeQuestionAnswering(tokenizer, inputs, {
      maxLength,
      docStride: o.docStride ?? Math.min(128, Math.floor(maxLength / 4)),
      maxQuestionLength: o.maxQuestionLength ?? 64,
    });
    const [F, T] = enc.inputIds.shape;
    const start = new Float32Array(F * T).fill(-Infinity);
    const end = new Float32Array(F * T).fill(-Infinity);
    const batchSize = o.batchSize ?? 16;
    positiveInteger("options.batchSize", batchSize);
    for (let from = 0; from < F; from += batchSize) {
      const n = Math.min(batchSize, F - from);
      const out = await this.forward({
        inputIds: { data: enc.inputIds.data.subarray(from * T, (from + n) * T), shape: [n, T] },
        attentionMask: { data: enc.attentionMask.data.subarray(from * T, (from + n) * T), shape: [n, T] },
      });
      start.set(out.startLogits.data, from * T);
      end.set(out.endLogits.data, from * T);
    }
    return extractAnswers(
      inputs,
      enc,
      { data: start, shape: [F, T] },
      { data: end, shape: [F, T] },
      {
        nBest: o.nBest,
        maxAnswerLength: o.maxAnswerLength,
        allowImpossible: o.allowImpossible,
      },
    );
  }

  protected override toNativeBatch(name: string, batch: QuestionAnsweringInputs, requireLabels: boolean): NativeBatch {
    if (typeof batch !== "object" || batch === null)
      throw invalidArgument(name, "{ inputIds, attentionMask?, startPositions?, endPositions? }", batch);
    const { startPositions, endPositions, ...encoder } = batch;
    if ((encoder as ForwardInputs).labels !== undefined) {
      throw invalidArgument(
        `${name}.labels`,
        "nothing: question answering takes startPositions and endPositions",
        "labels",
      );
    }
    const out = super.toNativeBatch(name, encoder, false);
    if (startPositions === undefined && endPositions === undefined) {
      if (requireLabels)
        throw invalidArgument(`${name}.startPositions`, "the start and end positions a training step needs", undefined);
      return out;
    }
    if (startPositions === undefined || endPositions === undefined) {
      const missing = startPositions === undefined ? "startPositions" : "endPositions";
      throw invalidArgument(`${name}.${missing}`, "given with the other (both or neither)", undefined);
    }
    const rows = out.shape[0];
    const starts = toPositions(`${name}.startPositions`, startPositions, rows);
    const ends = toPositions(`${name}.endPositions`, endPositions, rows);
    // Interleaved [B, 2]; every value outside [0, T] means the same as T
    // (clamped and ignored), so int32 saturation changes nothing.
    const int32 = (v: number | bigint): number => Math.max(-2147483648, Math.min(2147483647, Number(v)));
    const labels = new Int32Array(2 * rows);
    for (let i = 0; i < rows; i++) {
      labels[2 * i] = int32(starts[i]);
      labels[2 * i + 1] = int32(ends[i]);
    }
    return { ...out, labels, labelsShape: [rows, 2] };
  }

  protected override headOutput(
    out: NativeForwardResult,
    _logitsInto: Float32Array | undefined,
    common: EncoderOutput,
  ): QuestionAnsweringOutput {
    if (!out.startLogits || !out.endLogits || !out.positionShape)
      throw new LtgBertError("LTGBERT_INTERNAL", "forward: the native result has no start and end logits");
    return {
      startLogits: { data: out.startLogits, shape: out.positionShape },
      endLogits: { data: out.endLogits, shape: [...out.positionShape] },
      ...common,
    };
  }

  protected override savedConfig(): Record<string, unknown> {
    const saved = { ...savedConfig(this.config, LtgBertForQuestionAnswering.architecture, null), num_labels: 2 };
    return withAutoMapEntry(saved, "AutoModelForQuestionAnswering", LtgBertForQuestionAnswering.architecture);
  }
}

/** What `LtgBertForMultipleChoice.forward` takes. */
/** One choice of `LtgBertForMultipleChoice.choose`'s ranking. */
export interface RankedChoice {
  /** Its index in the question's choices. */
  index: number;
  choice: string;
  /** Softmax probability over the question's choices. */
  score: number;
}

export interface MultipleChoiceInputs {
  /** [B, C, T]: each row's C choices (each usually the context paired with one answer), padded to one length. */
  inputIds: IdTensor3;
  /** [B, C, T], like inputIds. Default: all ones. */
  attentionMask?: IdTensor3;
  /** [B]: the right choice of each row, in [0, C). With it, the output has `loss`. */
  labels?: number[] | Int32Array | BigInt64Array;
}

/**
 * LTG-BERT for multiple choice: the hub's MLP head with one output, on the
 * first token of each choice, gives one score per choice (logits [B, C]);
 * the loss is the cross-entropy over the choices. This is the usual
 * definition (Hugging Face's BertForMultipleChoice); the reference's class
 * applies its head to every position instead. Its checkpoints (num_labels
 * 1) load either way. Per-position outputs (`lastHiddenState`, …) have one
 * row per choice: [B·C, T, …].
 *
 * @example
 * const mc = await LtgBertForMultipleChoice.fromPretrained("./mc-model");
 * const { logits } = await mc.forward({ inputIds: [[[1, 7, 2], [1, 9, 2]]], labels: [1] }); // logits [1, 2]
 */
export class LtgBertForMultipleChoice extends LtgBertPreTrainedModel<MultipleChoiceInputs, ModelOutput> {
  static readonly architecture = "LtgBertForMultipleChoice";

  /** Loads a directory Python wrote. A masked-LM directory loads its encoder and gets a fresh head (see `loadReport`). */
  static async fromPretrained(dir: string, options: LoadOptions = {}): Promise<LtgBertForMultipleChoice> {
    const { config, strict, tokenizer } = await this.readPretrained(dir, options, this.architecture);
    const loaded = await this.loadNative(config, "multiple_choice", options, dir, strict);
    const device = options.device ?? "cpu";
    return new LtgBertForMultipleChoice(loaded.native, loaded.config, device, loaded.report, dir).setTokenizer(
      tokenizer,
    );
  }

  /** A freshly initialised model from a config.json object. */
  static async fromConfig(config: LtgBertConfigInput, options: LoadOptions = {}): Promise<LtgBertForMultipleChoice> {
    const resolved = configFromObject(config, options, { num_labels: 1 });
    const loaded = await this.loadNative(resolved, "multiple_choice", options, null, true);
    return new LtgBertForMultipleChoice(loaded.native, loaded.config, options.device ?? "cpu", null, null);
  }

  /** Transfers a masked LM in native memory; `loadReport.missing` names the new head's four keys. */
  static async fromMaskedLM(
    mlm: LtgBertForMaskedLM,
    options: HeadTransferOptions = {},
  ): Promise<LtgBertForMultipleChoice> {
    return transferEncoder(mlm, options, (base, load) => LtgBertForMultipleChoice.fromConfig(base, load));
  }

  /**
   * Ranks the choices of each question: each choice's softmax probability
   * over the question's choices, best first. Questions with different
   * numbers of choices may be mixed.
   *
   * @example
   * const [r] = await mc.choose([{ question: "Which one swims?", choices: ["a rock", "a fish"] }]);
   * r[0]; // { index: 1, choice: "a fish", score: 0.93 }
   */
  async choose(
    inputs: readonly MultipleChoiceInput[],
    options: { batchSize?: number } = {},
  ): Promise<RankedChoice[][]> {
    const { batchSize = 16 } = object<{ batchSize?: number }>("options", options);
    positiveInteger("options.batchSize", batchSize);
    if (!Array.isArray(inputs)) throw invalidArgument("inputs", "an array of { question, choices }", inputs);
    const tokenizer = this.tokenizer;
    if (tokenizer === null) {
      throw new LtgBertError(
        "LTGBERT_INVALID_ARGUMENT",
        "choose: the model has no tokenizer; load one with Tokenizer.fromPretrained(dir) and set model.tokenizer",
      );
    }
    const out = new Array<RankedChoice[]>(inputs.length);
    for (const [, members] of groupByChoiceCount(inputs)) {
      for (let from = 0; from < members.length; from += batchSize) {
        const rows = members.slice(from, from + batchSize);
        const enc = await encodeMultipleChoice(
          tokenizer,
          rows.map((r) => inputs[r]),
          { maxLength: this.config.max_position_embeddings },
        );
        const { logits } = await this.forward({ inputIds: enc.inputIds, attentionMask: enc.attentionMask });
        const C = enc.inputIds.shape[1];
        rows.forEach((r, i) => {
          const row = logits.data.subarray(i * C, (i + 1) * C);
          const top = Math.max(...row);
          const exp = Array.from(row, (x) => Math.exp(x - top));
          const sum = exp.reduce((a, b) => a + b, 0);
          out[r] = exp
            .map((e, c) => ({ index: c, choice: inputs[r].choices[c], score: e / sum }))
            .sort((a, b) => b.score - a.score || a.index - b.index);
        });
      }
    }
    return out;
  }

  protected override toNativeBatch(name: string, batch: MultipleChoiceInputs, requireLabels: boolean): NativeBatch {
    if (typeof batch !== "object" || batch === null)
      throw invalidArgument(name, "{ inputIds [B, C, T], attentionMask?, labels? }", batch);
    const ids = toIdTensor3("inputIds", batch.inputIds);
    let mask: Int32Array | BigInt64Array;
    if (batch.attentionMask === undefined) {
      mask = onesLike(ids.shape);
    } else {
      const m = toIdTensor3("attentionMask", batch.attentionMask);
      if (m.shape.some((size, i) => size !== ids.shape[i])) {
        throw invalidArgument(
          "attentionMask",
          `shape [${ids.shape.join(", ")}] like inputIds`,
          `shape [${m.shape.join(", ")}]`,
        );
      }
      mask = m.data;
    }
    if (requireLabels && batch.labels === undefined)
      throw invalidArgument(`${name}.labels`, "the labels a training step needs", undefined);
    const labels = batch.labels === undefined ? undefined : toLabels(batch.labels, true);
    return {
      inputIds: ids.data,
      attentionMask: mask,
      shape: ids.shape,
      labels: labels?.data,
      labelsShape: labels?.shape,
    };
  }

  /** @internal Each sequence as a row with one choice, [B, 1, T]. */
  protected override encoderRowsShape(rows: number, length: number): number[] {
    return [rows, 1, length];
  }

  protected override savedConfig(): Record<string, unknown> {
    const saved = { ...savedConfig(this.config, LtgBertForMultipleChoice.architecture, null), num_labels: 1 };
    return withAutoMapEntry(saved, "AutoModelForMultipleChoice", LtgBertForMultipleChoice.architecture);
  }
}
