// The HTTP server over a model (a classifier, a task head or the encoder): Fastify routes, JSON-schema validation
// of every request body, bearer-token auth, Prometheus metrics, and the
// batcher between the routes and the model. Loaded only by `createServer`
// and `ltgbert serve`, so importing the package does not load Fastify.
import { createHash, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Registry } from "prom-client";
import { invalidArgument, LtgBertError } from "../errors.js";
import { problemTypeOf } from "../config.js";
import {
  boolean,
  integerIn,
  nonEmptyString,
  nonNegativeInteger,
  number,
  object,
  PORT_EXPECTED,
  positiveInteger,
} from "../validate.js";
import {
  LtgBertForMultipleChoice,
  LtgBertModel,
  LtgBertForQuestionAnswering,
  LtgBertForSequenceClassification,
  LtgBertForTokenClassification,
  type Prediction,
  type RankedChoice,
  type TaggedWords,
} from "../model.js";
import type { ExtractedAnswer, MultipleChoiceInput } from "../tasks/preprocess.js";
import type { RaggedEncoding, Tokenizer } from "../tokenizer.js";
import { Batcher, BatcherRejection } from "./batcher.js";
import { ServerMetrics } from "./metrics.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Answered without the API key: the probes. */
    public?: boolean;
  }
}

/** Options of `createServer` (and the flags of `ltgbert serve`). */
export interface ServerOptions {
  /** Texts per forward pass at most, pooled across requests (default 32; `--max-batch-size`). */
  maxBatchSize?: number;
  /**
   * How long the first waiting text may wait for others before a partial
   * batch runs, in milliseconds (default 5; `--max-wait-ms`).
   */
  maxWaitMs?: number;
  /**
   * Texts waiting for a forward pass at most (default 1024; `--max-queue`).
   * A request that does not fit is answered 503 with Retry-After at once.
   * At least `maxTextsPerRequest`.
   */
  maxQueue?: number;
  /**
   * Milliseconds a request may take from its arrival in the queue to its
   * results (default 30000; 0: no limit; `--timeout-ms`); past it, 503 with
   * Retry-After.
   */
  timeoutMs?: number;
  /** Texts per request at most (default 64; `--max-texts`); more is a 400. */
  maxTextsPerRequest?: number;
  /** Request body size limit in bytes (default 1 MiB; `--body-limit`); more is a 413. */
  bodyLimit?: number;
  /**
   * Requests to /v1/* and /metrics must carry `Authorization: Bearer <apiKey>`
   * (else 401). Default: no auth. /healthz and /readyz stay open to probes.
   */
  apiKey?: string;
  /**
   * Cut texts longer than the model's `max_position_embeddings` (default
   * true); with false, such a text makes its request a 400.
   */
  truncation?: boolean;
  /** Add prom-client's process metrics (CPU, memory, event-loop lag) to /metrics (default true). */
  defaultMetrics?: boolean;
  /** Fastify's request log (pino, JSON lines on stdout): true, or pino's options. Default false. */
  logger?: boolean | Record<string, unknown>;
}

type Classifier = LtgBertForSequenceClassification;

/** The models a server runs: a classifier, a tagger, a question-answering or a multiple-choice model, or the bare encoder. */
export type ServedModel =
  | LtgBertModel
  | LtgBertForSequenceClassification
  | LtgBertForTokenClassification
  | LtgBertForQuestionAnswering
  | LtgBertForMultipleChoice;

/** The route of each kind of model. */
type Route = "classify" | "score" | "tag" | "answer" | "choose" | "embed";
const ROUTE_OF_MODEL: Record<Route, string> = {
  classify: "a classifier",
  score: 'a regression model (problem_type "regression")',
  tag: "a tagger (token classification)",
  answer: "a question-answering model",
  choose: "a multiple-choice model",
  embed: "an encoder (sentence embeddings)",
};
/** The request's array each route takes: what its item limits count. */
const ITEMS_OF_ROUTE: Record<Route, string> = {
  classify: "texts",
  score: "texts",
  tag: "sentences",
  answer: "questions",
  choose: "questions",
  embed: "texts",
};

interface EmbedBody {
  texts: string[];
  pooling?: "mean" | "cls";
  normalize?: boolean;
}

interface ScoreBody {
  texts: (string | [string, string])[];
}

interface TagBody {
  sentences: (string | string[])[];
}
interface AnswerBody {
  questions: { question: string; context: string }[];
}
interface ChooseBody {
  questions: MultipleChoiceInput[];
  topK?: number;
}

interface ResolvedOptions {
  maxBatchSize: number;
  maxWaitMs: number;
  maxQueue: number;
  timeoutMs: number;
  maxTextsPerRequest: number;
  bodyLimit: number;
  apiKey: string | null;
  truncation: boolean;
  defaultMetrics: boolean;
  logger: boolean | Record<string, unknown>;
}

const DEFAULTS = {
  maxBatchSize: 32,
  maxWaitMs: 5,
  maxQueue: 1024,
  timeoutMs: 30_000,
  maxTextsPerRequest: 64,
  bodyLimit: 1024 * 1024,
} as const;

/** Seconds a client told to come back later (503) waits: Retry-After. */
const RETRY_AFTER_SECONDS = 1;

function resolveOptions(options: ServerOptions): ResolvedOptions {
  object("options", options);
  const count = (name: keyof typeof DEFAULTS): number =>
    positiveInteger(`options.${name}`, options[name] ?? DEFAULTS[name]);
  const maxWaitMs = number(
    "options.maxWaitMs",
    options.maxWaitMs ?? DEFAULTS.maxWaitMs,
    { min: 0 },
    "a non-negative number of milliseconds",
  );
  const resolved: ResolvedOptions = {
    maxBatchSize: count("maxBatchSize"),
    maxWaitMs,
    maxQueue: count("maxQueue"),
    timeoutMs: nonNegativeInteger("options.timeoutMs", options.timeoutMs ?? DEFAULTS.timeoutMs),
    maxTextsPerRequest: count("maxTextsPerRequest"),
    bodyLimit: count("bodyLimit"),
    apiKey: options.apiKey ?? null,
    truncation: options.truncation ?? true,
    defaultMetrics: options.defaultMetrics ?? true,
    logger: options.logger ?? false,
  };
  if (resolved.apiKey !== null) nonEmptyString("options.apiKey", resolved.apiKey);
  boolean("options.truncation", resolved.truncation);
  boolean("options.defaultMetrics", resolved.defaultMetrics);
  if (resolved.maxQueue < resolved.maxTextsPerRequest) {
    throw invalidArgument(
      "options.maxQueue",
      `at least maxTextsPerRequest (${resolved.maxTextsPerRequest}), or a full request could never be queued`,
      resolved.maxQueue,
    );
  }
  return resolved;
}

/** The model a server can run, with a tokenizer (a classifier: single-label or regression), and its route. */
function checkModel(model: unknown): { model: ServedModel; tokenizer: Tokenizer; route: Route } {
  if (model instanceof LtgBertForSequenceClassification) {
    if (problemTypeOf(model.config) === "regression")
      return { model, tokenizer: model.predictionTokenizer("regression"), route: "score" };
    return { model, tokenizer: model.predictionTokenizer(), route: "classify" };
  }
  const route: Route | null =
    model instanceof LtgBertModel
      ? "embed"
      : model instanceof LtgBertForTokenClassification
        ? "tag"
        : model instanceof LtgBertForQuestionAnswering
          ? "answer"
          : model instanceof LtgBertForMultipleChoice
            ? "choose"
            : null;
  if (route === null) {
    throw invalidArgument(
      "model",
      "an LtgBertForSequenceClassification, LtgBertForTokenClassification, LtgBertForQuestionAnswering, LtgBertForMultipleChoice or LtgBertModel",
      model,
    );
  }
  const served = model as ServedModel;
  if (served.tokenizer === null)
    throw invalidArgument("model", "a model with a tokenizer (model.setTokenizer)", "no tokenizer");
  return { model: served, tokenizer: served.tokenizer, route };
}

/** The body of every error response. */
interface ErrorBody {
  error: { code: string; message: string };
}

/** An HTTP error response: status, body, and headers (Retry-After, WWW-Authenticate). */
class HttpError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.headers = headers;
  }
}

const unavailable = (code: string, message: string): HttpError =>
  new HttpError(503, code, message, { "retry-after": String(RETRY_AFTER_SECONDS) });

interface ClassifyBody {
  texts: string[];
  topK?: number;
}

const ERROR_SCHEMA = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: { code: { type: "string" }, message: { type: "string" } },
      required: ["code", "message"],
    },
  },
  required: ["error"],
} as const;

const TAGGED_SCHEMA = {
  type: "object",
  properties: {
    words: { type: "array", items: { type: "string" } },
    labels: { type: "array", items: { type: "string" } },
    scores: { type: "array", items: { type: "number" } },
    spans: { type: "array", items: { type: "array", items: { type: "integer" } } },
  },
  required: ["words", "labels", "scores"],
} as const;

const ANSWER_SCHEMA = {
  type: "object",
  properties: {
    text: { type: "string" },
    start: { type: "integer" },
    end: { type: "integer" },
    score: { type: "number" },
  },
  required: ["text", "start", "end", "score"],
} as const;

const CHOICE_SCHEMA = {
  type: "object",
  properties: { index: { type: "integer" }, choice: { type: "string" }, score: { type: "number" } },
  required: ["index", "choice", "score"],
} as const;

/** What each route's body is, for messages about an unknown key. */
const BODY_OF_ROUTE: Record<string, string> = {
  "/v1/classify": 'the body is { "texts": [string, ...], "topK"?: integer }',
  "/v1/score": 'the body is { "texts": [string or [string, string], ...] }',
  "/v1/embed": 'the body is { "texts": [string, ...], "pooling"?: "mean" | "cls", "normalize"?: boolean }',
  "/v1/tag": 'the body is { "sentences": [string or [word, ...], ...] }',
  "/v1/answer": 'the body is { "questions": [{ "question": string, "context": string }, ...] }',
  "/v1/choose":
    'the body is { "questions": [{ "question": string, "choices": [string, ...], "context"?: string }, ...], "topK"?: integer }',
};

function routeName(request: FastifyRequest): string {
  return request.routeOptions.url ?? "";
}

/** The number of items (texts, sentences, questions) in a request's body. */
function itemCount(request: FastifyRequest): number {
  const body = request.body as Record<string, unknown> | undefined;
  if (body === undefined || body === null) return 0;
  for (const key of ["texts", "sentences", "questions"]) {
    const value = body[key];
    if (Array.isArray(value)) return value.length;
  }
  return 0;
}

const RANKED_SCHEMA = {
  type: "object",
  properties: { label: { type: "string" }, labelId: { type: "integer" }, score: { type: "number" } },
  required: ["label", "labelId", "score"],
} as const;

const PREDICTION_SCHEMA = {
  type: "object",
  properties: {
    label: { type: "string" },
    labelId: { type: "integer" },
    score: { type: "number" },
    scores: { type: "array", items: { type: "number" } },
    top: { type: "array", items: RANKED_SCHEMA },
  },
  required: ["label", "labelId", "score", "scores"],
} as const;

/** A metric label for the route a request matched; one value for all unmatched ones. */
const routeOf = (request: FastifyRequest): string => request.routeOptions.url ?? "(unmatched)";

/** Compares digests, so that the time taken says nothing about the key. */
function sameKey(given: string, expected: Buffer): boolean {
  return timingSafeEqual(createHash("sha256").update(given).digest(), expected);
}

/** The Fastify instance with the server's limits, strict JSON bodies and its own 503 while closing. */
function createApp(o: ResolvedOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: o.bodyLimit,
    // Bodies are validated as sent: no coercion ("1" is not 1, a string is not a list) and no silent removal of unknown keys.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Requests that arrive while shutting down get this server's 503 (JSON error body, Retry-After) from the onRequest hook.
    return503OnClosing: false,
    logger: o.logger,
  });
  // JSON only: a text/plain body is a 415, not a string that fails validation.
  app.removeContentTypeParser("text/plain");
  return app;
}

/**
 * An HTTP server over a model, pooling the items (texts, sentences,
 * questions) of concurrent requests into batched forward passes. Made by `createServer`;
 * see docs/serving.md for the routes.
 */
export class LtgBertServer {
  /** The Fastify instance: routes can be added before `listen`, and `inject` runs requests without a socket. */
  readonly app: FastifyInstance;
  /** The prom-client registry /metrics reads. */
  readonly registry: Registry;
  /** The options in force, defaults filled in. */
  readonly options: Readonly<ResolvedOptions>;

  #model: ServedModel | null = null;
  #route: Route | null = null;
  #tokenizer: Tokenizer | null = null;
  #loadError: Error | null = null;
  #closing: Promise<void> | null = null;
  #shuttingDown = false;
  #inFlight = 0;
  readonly #batcher: Batcher<Int32Array, Prediction>;
  readonly #scorer: Batcher<string | [string, string], number>;
  readonly #tagger: Batcher<string | string[], TaggedWords>;
  readonly #reader: Batcher<{ question: string; context: string }, ExtractedAnswer>;
  readonly #chooser: Batcher<MultipleChoiceInput, RankedChoice[]>;
  readonly #embedder: Batcher<{ text: string; pooling: "mean" | "cls" }, Float32Array>;
  readonly #loaded: Promise<void>;

  /** @internal Use `createServer`. */
  constructor(model: ServedModel | Promise<ServedModel>, options: ServerOptions) {
    const o = resolveOptions(options);
    this.options = o;
    this.#loaded = this.#load(model);

    const metrics = new ServerMetrics(
      {
        queueDepth: () => this.queueDepth,
        inFlight: () => this.#inFlight,
        ready: () => this.ready,
      },
      { defaultMetrics: o.defaultMetrics },
    );
    this.registry = metrics.registry;

    this.#batcher = new Batcher<Int32Array, Prediction>(
      (rows) => this.#classify(rows),
      (row) => row.length,
      {
        maxBatchSize: o.maxBatchSize,
        maxWaitMs: o.maxWaitMs,
        maxQueue: o.maxQueue,
        timeoutMs: o.timeoutMs,
        onBatch: (size, seconds) => metrics.batch(size, seconds),
      },
    );

    // The other heads' batchers: the items of many requests in one call of the model's own method.
    const batching = {
      maxBatchSize: o.maxBatchSize,
      maxWaitMs: o.maxWaitMs,
      maxQueue: o.maxQueue,
      timeoutMs: o.timeoutMs,
      onBatch: (size: number, seconds: number) => metrics.batch(size, seconds),
    };
    this.#scorer = new Batcher(
      (items) =>
        (this.#model as LtgBertForSequenceClassification).score(items, {
          batchSize: o.maxBatchSize,
          truncation: o.truncation,
        }),
      (item) => (typeof item === "string" ? item.length : item[0].length + item[1].length),
      batching,
    );
    this.#tagger = new Batcher(
      (items) => (this.#model as LtgBertForTokenClassification).tag(items, { batchSize: o.maxBatchSize }),
      (item) => (typeof item === "string" ? item.length : item.join(" ").length),
      batching,
    );
    this.#reader = new Batcher(
      (items) => (this.#model as LtgBertForQuestionAnswering).answer(items),
      (item) => item.question.length + item.context.length,
      batching,
    );
    this.#chooser = new Batcher(
      (items) => (this.#model as LtgBertForMultipleChoice).choose(items, { batchSize: o.maxBatchSize }),
      (item) => item.question.length + item.choices.join(" ").length,
      batching,
    );

    this.#embedder = new Batcher(
      async (items) => {
        // One embed call per pooling; the vectors go back in the items' order.
        const out = new Array<Float32Array>(items.length);
        for (const pooling of ["mean", "cls"] as const) {
          const rows = items.flatMap((item, i) => (item.pooling === pooling ? [i] : []));
          if (rows.length === 0) continue;
          const v = await (this.#model as LtgBertModel).embed(
            rows.map((i) => items[i].text),
            { pooling, batchSize: o.maxBatchSize, truncation: o.truncation },
          );
          const D = v.shape[1];
          rows.forEach((i, r) => (out[i] = v.data.slice(r * D, (r + 1) * D)));
        }
        return out;
      },
      (item) => item.text.length,
      batching,
    );

    this.app = createApp(o);
    this.#addHooks(o, metrics);
    this.#addErrorHandlers(metrics);
    this.#addRoutes(o);
  }

  /** Attaches the model, now or once its promise resolves; a failed load is kept for /readyz. */
  #load(model: ServedModel | Promise<ServedModel>): Promise<void> {
    if (!(model instanceof Promise)) {
      this.#attach(model);
      return Promise.resolve();
    }
    const loaded = model.then(
      (m) => this.#attach(m),
      (error: unknown) => {
        this.#loadError = error instanceof Error ? error : new Error(String(error));
        throw error;
      },
    );
    // The caller learns of a failed load through `loaded`; the server itself must not crash on it.
    loaded.catch(() => {});
    return loaded;
  }

  /** Counts requests in flight, checks the API key, closes connections while shutting down, and times responses. */
  #addHooks(o: ResolvedOptions, metrics: ServerMetrics): void {
    const app = this.app;
    // Counted from arrival until the connection is done with the response ("close" comes after it is sent, or when the client goes away).
    app.addHook("onRequest", async (_request, reply) => {
      this.#inFlight++;
      reply.raw.once("close", () => this.#inFlight--);
    });
    const expectedKey = o.apiKey === null ? null : createHash("sha256").update(o.apiKey).digest();
    app.addHook("onRequest", async (request) => {
      if (this.#shuttingDown) throw unavailable("shutting_down", "the server is shutting down");
      if (expectedKey === null || request.routeOptions.config.public === true) return;
      const header = request.headers.authorization ?? "";
      const match = /^Bearer (.+)$/i.exec(header);
      if (match === null || !sameKey(match[1], expectedKey)) {
        throw new HttpError(
          401,
          "unauthorized",
          match === null
            ? "this server needs an API key: send the header Authorization: Bearer <key>"
            : "the API key is not valid",
          { "www-authenticate": 'Bearer realm="ltgbert"' },
        );
      }
    });
    // While shutting down, every response closes its connection, so the drain does not wait on idle keep-alive sockets.
    app.addHook("onSend", async (_request, reply) => {
      if (this.#shuttingDown) reply.header("connection", "close");
    });
    app.addHook("onResponse", async (request, reply) => {
      metrics.response(routeOf(request), request.method, reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  /** Errors as JSON bodies `{ error: { code, message } }`: thrown ones, and routes that do not exist. */
  #addErrorHandlers(metrics: ServerMetrics): void {
    const app = this.app;
    app.setErrorHandler((error: FastifyError | HttpError | Error, request, reply) => {
      const http = this.#toHttpError(error, request);
      if (http.statusCode === 503) metrics.rejection(http.code);
      if (http.statusCode >= 500 && http.statusCode !== 503) request.log.error(error);
      const body: ErrorBody = { error: { code: http.code, message: http.message } };
      return reply.code(http.statusCode).headers(http.headers).send(body);
    });
    app.setNotFoundHandler((request, reply) => {
      const body: ErrorBody = {
        error: {
          code: "not_found",
          message: `no route ${request.method} ${request.url.split("?")[0]}; the routes are POST /v1/classify, /v1/score, /v1/tag, /v1/answer, /v1/choose or /v1/embed (the one of the model's head), GET /healthz, GET /readyz, GET /metrics`,
        },
      };
      return reply.code(404).send(body);
    });
  }

  /** GET /healthz, /readyz and /metrics, and POST /v1/classify with its body and response schemas. */
  #addRoutes(o: ResolvedOptions): void {
    const app = this.app;
    app.get("/healthz", { config: { public: true } }, async () => ({ status: "ok" }));

    app.get("/readyz", { config: { public: true } }, async () => {
      if (this.#loadError !== null)
        throw unavailable("not_ready", `the model failed to load: ${this.#loadError.message}`);
      if (this.#model === null) throw unavailable("not_ready", "the model is still loading");
      return { status: "ready" };
    });

    app.get("/metrics", async (_request, reply) => {
      reply.header("content-type", this.registry.contentType);
      return this.registry.metrics();
    });

    app.post<{ Body: ClassifyBody }>(
      "/v1/classify",
      {
        schema: {
          body: {
            type: "object",
            required: ["texts"],
            additionalProperties: false,
            properties: {
              texts: { type: "array", minItems: 1, maxItems: o.maxTextsPerRequest, items: { type: "string" } },
              topK: { type: "integer", minimum: 1 },
            },
          },
          response: {
            200: {
              type: "object",
              properties: { predictions: { type: "array", items: PREDICTION_SCHEMA } },
              required: ["predictions"],
            },
            "4xx": ERROR_SCHEMA,
            "5xx": ERROR_SCHEMA,
          },
        },
      },
      async (request, reply) => this.#classifyRoute(request, reply),
    );

    const items = (schema: Record<string, unknown>) => ({
      type: "array",
      minItems: 1,
      maxItems: o.maxTextsPerRequest,
      items: schema,
    });
    const responses = (key: string, schema: Record<string, unknown>) => ({
      200: { type: "object", properties: { [key]: { type: "array", items: schema } }, required: [key] },
      "4xx": ERROR_SCHEMA,
      "5xx": ERROR_SCHEMA,
    });
    app.post<{ Body: EmbedBody }>(
      "/v1/embed",
      {
        schema: {
          body: {
            type: "object",
            required: ["texts"],
            additionalProperties: false,
            properties: {
              texts: items({ type: "string" }),
              pooling: { type: "string", enum: ["mean", "cls"] },
              normalize: { type: "boolean" },
            },
          },
          response: responses("embeddings", { type: "array", items: { type: "number" } }),
        },
      },
      async (request, reply) => this.#embedRoute(request, reply),
    );
    app.post<{ Body: ScoreBody }>(
      "/v1/score",
      {
        schema: {
          body: {
            type: "object",
            required: ["texts"],
            additionalProperties: false,
            properties: {
              texts: items({
                anyOf: [{ type: "string" }, { type: "array", minItems: 2, maxItems: 2, items: { type: "string" } }],
              }),
            },
          },
          response: responses("scores", { type: "number" }),
        },
      },
      async (request, reply) => {
        const { texts } = request.body;
        this.#modelFor("score");
        if (!this.#scorer.hasRoomFor(texts.length)) throw this.#queueFull(texts.length);
        // With truncation off, a text too long is this request's 400, not an error in a batch shared with others.
        if (!this.options.truncation) await this.#encode(this.#tokenizer!, this.#model!, texts);
        return { scores: await this.#taskRoute("score", this.#scorer, texts, reply) };
      },
    );
    app.post<{ Body: TagBody }>(
      "/v1/tag",
      {
        schema: {
          body: {
            type: "object",
            required: ["sentences"],
            additionalProperties: false,
            properties: {
              sentences: items({
                anyOf: [{ type: "string" }, { type: "array", minItems: 1, items: { type: "string", minLength: 1 } }],
              }),
            },
          },
          response: responses("results", TAGGED_SCHEMA),
        },
      },
      async (request, reply) => ({
        results: await this.#taskRoute("tag", this.#tagger, request.body.sentences, reply),
      }),
    );
    app.post<{ Body: AnswerBody }>(
      "/v1/answer",
      {
        schema: {
          body: {
            type: "object",
            required: ["questions"],
            additionalProperties: false,
            properties: {
              questions: items({
                type: "object",
                required: ["question", "context"],
                additionalProperties: false,
                properties: { question: { type: "string" }, context: { type: "string" } },
              }),
            },
          },
          response: responses("answers", ANSWER_SCHEMA),
        },
      },
      async (request, reply) => ({
        answers: await this.#taskRoute("answer", this.#reader, request.body.questions, reply),
      }),
    );
    app.post<{ Body: ChooseBody }>(
      "/v1/choose",
      {
        schema: {
          body: {
            type: "object",
            required: ["questions"],
            additionalProperties: false,
            properties: {
              questions: items({
                type: "object",
                required: ["question", "choices"],
                additionalProperties: false,
                properties: {
                  question: { type: "string" },
                  context: { type: "string" },
                  choices: { type: "array", minItems: 2, maxItems: 26, items: { type: "string" } },
                },
              }),
              topK: { type: "integer", minimum: 1 },
            },
          },
          response: responses("rankings", { type: "array", items: CHOICE_SCHEMA }),
        },
      },
      async (request, reply) => {
        const rankings = await this.#taskRoute("choose", this.#chooser, request.body.questions, reply);
        const k = request.body.topK;
        return { rankings: k === undefined ? rankings : rankings.map((r) => r.slice(0, k)) };
      },
    );
  }

  /** POST /v1/embed: the texts checked against the model's length, then their vectors, normalised if asked. */
  async #embedRoute(
    request: FastifyRequest<{ Body: EmbedBody }>,
    reply: FastifyReply,
  ): Promise<{ embeddings: number[][] }> {
    const model = this.#modelFor("embed") as LtgBertModel;
    const { texts, pooling = "mean", normalize = false } = request.body;
    if (!this.#embedder.hasRoomFor(texts.length)) throw this.#queueFull(texts.length);
    // With truncation off, a text too long is this request's 400, not an error in a batch shared with others.
    if (!this.options.truncation) await this.#encode(this.#tokenizer!, model, texts);
    const vectors = await this.#taskRoute(
      "embed",
      this.#embedder,
      texts.map((text) => ({ text, pooling })),
      reply,
    );
    return {
      embeddings: vectors.map((v) => {
        const norm = normalize ? Math.hypot(...v) : 1;
        return Array.from(v, (x) => (norm > 0 ? x / norm : x));
      }),
    };
  }

  /** The model, or a 503 while it loads; a 404 when the route is not the model's. */
  #modelFor(route: Route): ServedModel {
    const model = this.#model;
    if (model === null) {
      throw unavailable(
        "not_ready",
        this.#loadError === null ? "the model is still loading" : "the model failed to load",
      );
    }
    if (this.#route !== route) {
      throw new HttpError(
        404,
        "wrong_route",
        `this server's model is ${ROUTE_OF_MODEL[this.#route!]}: send its requests to POST /v1/${this.#route}`,
      );
    }
    return model;
  }

  /** POST /v1/tag, /v1/answer, /v1/choose: sheds load when the queue is full, then waits for the items' batch. */
  async #taskRoute<T, R>(route: Route, batcher: Batcher<T, R>, items: T[], reply: FastifyReply): Promise<R[]> {
    this.#modelFor(route);
    if (!batcher.hasRoomFor(items.length)) throw this.#queueFull(items.length);
    const controller = new AbortController();
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    return batcher.submit(items, { signal: controller.signal });
  }

  /** POST /v1/classify: sheds load when the queue is full, then encodes the texts and waits for their batch. */
  async #classifyRoute(
    request: FastifyRequest<{ Body: ClassifyBody }>,
    reply: FastifyReply,
  ): Promise<{ predictions: unknown[] }> {
    const model = this.#modelFor("classify") as Classifier;
    const tokenizer = this.#tokenizer!;
    const { texts, topK } = request.body;
    // Shed load before doing any work for the request.
    if (!this.#batcher.hasRoomFor(texts.length)) throw this.#queueFull(texts.length);
    const rows = await this.#encode(tokenizer, model, texts);
    const controller = new AbortController();
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    const predictions = await this.#batcher.submit(rows, { signal: controller.signal });
    const k = topK === undefined ? 0 : Math.min(topK, model.numLabels);
    return {
      predictions: predictions.map((p) => {
        const { top, ...rest } = p;
        return k > 0 ? { ...rest, top: top!.slice(0, k) } : rest;
      }),
    };
  }

  /** Whether the model is loaded and the server is not shutting down: what /readyz answers. */
  get ready(): boolean {
    return this.#model !== null && !this.#shuttingDown;
  }

  /** The model, once loaded. */
  get model(): ServedModel | null {
    return this.#model;
  }

  /** Resolves once the model is loaded; rejects with the load's error. */
  get loaded(): Promise<void> {
    return this.#loaded;
  }

  /** Requests accepted and not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Texts waiting for a forward pass now. */
  get queueDepth(): number {
    return (
      this.#batcher.queueDepth +
      this.#scorer.queueDepth +
      this.#tagger.queueDepth +
      this.#reader.queueDepth +
      this.#chooser.queueDepth +
      this.#embedder.queueDepth
    );
  }

  /**
   * Starts listening; resolves to the server's URL. The host defaults to
   * 127.0.0.1 (this machine only): name another, e.g. "0.0.0.0", to be
   * reachable from elsewhere. Port 0 picks a free one.
   */
  async listen(options: { host?: string; port?: number } = {}): Promise<string> {
    const { host = "127.0.0.1", port = 8080 } = options;
    nonEmptyString("options.host", host, "a host name or address");
    integerIn("options.port", port, 0, 65535, PORT_EXPECTED);
    await this.app.listen({ host, port });
    const address = this.app.server.address();
    if (address === null || typeof address === "string") return String(address);
    const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return `http://${shown}:${address.port}`;
  }

  /**
   * Shuts down gracefully: stops accepting connections (requests that still
   * arrive are answered 503), finishes every request already accepted, and
   * resolves when the last has been answered. Idempotent. The model is the
   * caller's: it is not disposed.
   */
  close(): Promise<void> {
    this.#shuttingDown = true;
    this.#closing ??= (async () => {
      await this.app.close();
      const batchers = [
        this.#batcher,
        this.#scorer,
        this.#tagger,
        this.#reader,
        this.#chooser,
        this.#embedder,
      ] as const;
      for (const b of batchers) b.close();
      await Promise.all(batchers.map((b) => b.drained()));
    })();
    return this.#closing;
  }

  #attach(model: ServedModel): void {
    const checked = checkModel(model);
    this.#route = checked.route;
    this.#model = checked.model;
    this.#tokenizer = checked.tokenizer;
  }

  #queueFull(count: number): HttpError {
    return unavailable(
      "queue_full",
      `the server is busy: ${this.queueDepth} items are waiting and the queue holds ${this.options.maxQueue} (maxQueue, --max-queue); this request has ${count}; retry later`,
    );
  }

  /** The request's texts as token ids, one row each, cut (or refused) at the model's length. */
  async #encode(
    tokenizer: Tokenizer,
    model: ServedModel,
    texts: readonly (string | readonly [string, string])[],
  ): Promise<Int32Array[]> {
    let ragged: RaggedEncoding;
    try {
      ragged = await tokenizer.encodeBatch(texts, {
        maxLength: model.config.max_position_embeddings,
        truncation: this.options.truncation,
        padding: "none",
      });
    } catch (error) {
      if (error instanceof LtgBertError && error.code === "LTGBERT_INVALID_ARGUMENT")
        throw new HttpError(
          400,
          "text_too_long",
          `${error.message.replace(/ \(pass truncation: true to cut it\)$/, "")}: this server does not cut texts (truncation off)`,
        );
      throw error;
    }
    return texts.map((_, i) => ragged.ids.subarray(ragged.offsets[i], ragged.offsets[i + 1]));
  }

  /** One forward pass over rows from any number of requests. */
  async #classify(rows: Int32Array[]): Promise<Prediction[]> {
    const model = this.#model as Classifier;
    const tokenizer = this.#tokenizer!;
    const offsets = new Int32Array(rows.length + 1);
    rows.forEach((row, i) => (offsets[i + 1] = offsets[i] + row.length));
    const ids = new Int32Array(offsets[rows.length]);
    rows.forEach((row, i) => ids.set(row, offsets[i]));
    const ragged: RaggedEncoding = {
      ids,
      offsets,
      lengths: Int32Array.from(rows, (r) => r.length),
      numTruncated: new Int32Array(rows.length),
    };
    return model.classifyBatch(tokenizer.pad(ragged), { topK: model.numLabels });
  }

  #toHttpError(error: FastifyError | HttpError | Error, request: FastifyRequest): HttpError {
    if (error instanceof HttpError) return error;
    if (error instanceof BatcherRejection) {
      if (error.reason === "queue_full") return this.#queueFull(itemCount(request));
      if (error.reason === "timeout")
        return unavailable(
          "timeout",
          `no result within ${this.options.timeoutMs} ms (timeoutMs, --timeout-ms): the server is overloaded; retry later`,
        );
      if (error.reason === "closed") return unavailable("shutting_down", "the server is shutting down");
      return unavailable("aborted", "the client went away");
    }
    const fastify = error as FastifyError;
    if (fastify.validation) {
      const first = fastify.validation[0];
      const key = first?.instancePath.slice(1) ?? "";
      if (first?.keyword === "maxItems" && Object.values(ITEMS_OF_ROUTE).includes(key)) {
        const count = itemCount(request);
        return new HttpError(
          400,
          "too_many_texts",
          `${key}: ${count} ${key}, more than the limit of ${this.options.maxTextsPerRequest} per request (maxTextsPerRequest, --max-texts); split them over several requests`,
        );
      }
      const where = first?.instancePath ? `body${first.instancePath.replace(/\//g, ".")}` : "body";
      const detail =
        first?.keyword === "additionalProperties"
          ? `unknown key ${JSON.stringify((first.params as { additionalProperty: string }).additionalProperty)} (${BODY_OF_ROUTE[routeName(request)] ?? "see docs/serving.md for the body"})`
          : `${first?.message ?? "is not valid"}`;
      return new HttpError(400, "invalid_request", `${where}: ${detail}`);
    }
    switch (fastify.code) {
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return new HttpError(
          413,
          "body_too_large",
          `the request body is larger than the limit of ${this.options.bodyLimit} bytes (bodyLimit, --body-limit)`,
        );
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return new HttpError(415, "unsupported_media_type", "send the body as JSON (Content-Type: application/json)");
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
        return new HttpError(400, "invalid_request", 'body: empty; expected { "texts": [string, ...] }');
      case "FST_ERR_CTP_INVALID_JSON_BODY":
        return new HttpError(400, "invalid_json", "body: not valid JSON");
      default:
        break;
    }
    if (typeof fastify.statusCode === "number" && fastify.statusCode >= 400 && fastify.statusCode < 500)
      return new HttpError(fastify.statusCode, "bad_request", error.message);
    return new HttpError(
      500,
      "internal",
      error instanceof LtgBertError ? `${error.code}: ${error.message}` : "internal error (see the server's log)",
    );
  }
}

/** Builds a server (does not listen yet); see `createServer` in the package's entry point. */
export function buildServer(model: ServedModel | Promise<ServedModel>, options: ServerOptions = {}): LtgBertServer {
  if (!(model instanceof Promise)) checkModel(model);
  return new LtgBertServer(model, options);
}
