// `ltgbert serve`: the HTTP server over a classifier. It listens at once,
// answers /readyz 503 while the model loads, and on SIGTERM or SIGINT stops
// accepting, answers every request it accepted, and exits 0.
import type { Command } from "commander";
import {
  type CliContext,
  type CliIo,
  deviceOption,
  MODEL_DIR_HELP,
  nonNegativeInteger,
  nonNegativeNumber,
  portNumber,
  positiveInteger,
  threadsOption,
  tokenizerOption,
  usageError,
} from "./common.js";
import type { ServedModel } from "../serve/server.js";
import { modelKind, resolveModelDir } from "./model-dir.js";
import { runtime } from "./runtime.js";

export interface ServeOptions {
  host: string;
  port: number;
  maxBatchSize: number;
  maxWaitMs: number;
  maxQueue: number;
  timeoutMs: number;
  maxTexts: number;
  bodyLimit: number;
  apiKey?: string;
  truncation: boolean;
  log?: boolean;
  tokenizer?: string;
  threads?: number;
  device: string;
}

/** The environment variable that holds the API key when `--api-key` is not given. */
export const API_KEY_ENV = "LTGBERT_API_KEY";

/** The model to serve: a classifier, or a tagger, question-answering or multiple-choice model, with its tokenizer. */
async function loadServed(
  name: string,
  options: { device: string; tokenizer?: string },
  loadClassifier: (
    name: string,
    options: { device: string; tokenizer?: string },
  ) => Promise<{ dir: string; model: ServedModel }>,
): Promise<{ dir: string; model: ServedModel }> {
  const dir = resolveModelDir(name);
  const { kind } = await modelKind(dir);
  const { loadTaskModel, taskCommandOf } = await import("./task-run.js");
  if (kind === "encoder") {
    const { LtgBertModel } = await runtime();
    return { dir, model: (await loadTaskModel(LtgBertModel as never, dir, options)) as unknown as ServedModel };
  }
  const spec = await taskCommandOf(kind);
  if (spec === null) return loadClassifier(name, options);
  const cls = (await spec.modelClass()) as Parameters<typeof loadTaskModel>[0];
  return { dir, model: (await loadTaskModel(cls, dir, options)) as ServedModel };
}

export async function serve(modelName: string, options: ServeOptions, io: CliIo): Promise<void> {
  // Fastify too is imported only when the command runs.
  const { buildServer } = await import("../serve/server.js");
  const { applyThreads, loadClassifier } = await runtime();
  if (options.maxQueue < options.maxTexts) {
    throw usageError(
      `--max-queue ${options.maxQueue}: expected at least --max-texts (${options.maxTexts}), or a full request could never be queued`,
    );
  }
  const envKey = process.env[API_KEY_ENV];
  const apiKey = options.apiKey ?? (envKey !== undefined && envKey !== "" ? envKey : undefined);
  if (apiKey !== undefined && apiKey.trim() === "") throw usageError("--api-key: expected a non-empty key");
  applyThreads(options.threads);

  const loading = loadServed(modelName, options, loadClassifier);
  // Whatever happens to the server, a model that loads is disposed at the end.
  const disposeModel = (): Promise<void> => loading.then(({ model }) => model.dispose()).catch(() => {});
  const server = buildServer(
    loading.then(({ model }) => model),
    {
      maxBatchSize: options.maxBatchSize,
      maxWaitMs: options.maxWaitMs,
      maxQueue: options.maxQueue,
      timeoutMs: options.timeoutMs,
      maxTextsPerRequest: options.maxTexts,
      bodyLimit: options.bodyLimit,
      apiKey,
      truncation: options.truncation,
      logger: options.log === true,
    },
  );

  // Signals are taken from here on: until the server is up, one ends the start-up.
  let stop: (signal: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stop = resolve));
  let signalCount = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signalCount++;
    if (signalCount === 1) {
      stop(signal);
      return;
    }
    // A second signal while draining gives up on the requests still open.
    io.stderr.write(`${signal} again: exiting without finishing ${server.inFlight} open requests\n`);
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    let url: string;
    try {
      url = await server.listen({ host: options.host, port: options.port });
    } catch (error) {
      await server.close().catch(() => {});
      throw error;
    }
    io.stdout.write(`listening on ${url}\n`);
    const outcome = await Promise.race([
      server.loaded.then(
        () => null,
        (error: unknown) => ({ error }),
      ),
      stopped.then((signal) => ({ signal })),
    ]);
    if (outcome !== null && "error" in outcome) {
      await server.close();
      throw outcome.error;
    }
    if (outcome === null) {
      const { dir, model } = await loading;
      const what =
        "labelNames" in model ? model.labelNames.join(", ") : `${model.constructor.name.replace(/^LtgBertFor/, "")}`;
      io.stdout.write(
        `ready: ${dir} (${what}); batches of up to ${options.maxBatchSize} texts, ${options.maxWaitMs} ms wait, queue ${options.maxQueue} texts${apiKey === undefined ? "" : ", API key required"}\n`,
      );
    }
    const signal = await stopped;
    io.stderr.write(`${signal}: not accepting new requests; finishing ${server.inFlight} open requests\n`);
    await server.close();
    io.stderr.write("stopped\n");
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    await disposeModel();
  }
}

/** Declares `ltgbert serve`: its arguments and options, and the action that runs serve. */
export function register(program: Command, context: CliContext): Command {
  const command = program
    .command("serve")
    .description(
      "serve a model over HTTP: POST /v1/classify (a classifier), /v1/score (regression), /v1/tag (a tagger), /v1/answer (question answering), /v1/choose (multiple choice) or /v1/embed (a bare encoder); GET /healthz, /readyz, /metrics; items of concurrent requests share forward passes",
    )
    .argument("<model-dir>", MODEL_DIR_HELP)
    .option("--host <host>", "address to listen on (0.0.0.0: every interface)", "127.0.0.1")
    .option("--port <n>", "port to listen on (0: any free one)", portNumber, 8080)
    .option("--max-batch-size <n>", "texts per forward pass at most, pooled across requests", positiveInteger, 32)
    .option(
      "--max-wait-ms <ms>",
      "how long the first waiting text waits for others before a partial batch runs",
      nonNegativeNumber,
      5,
    )
    .option(
      "--max-queue <n>",
      "texts waiting at most; a request that does not fit gets 503 with Retry-After",
      positiveInteger,
      1024,
    )
    .option(
      "--timeout-ms <ms>",
      "per-request limit from arrival to results, else 503 with Retry-After (0: none)",
      nonNegativeInteger,
      30_000,
    )
    .option("--max-texts <n>", "texts per request at most, else 400", positiveInteger, 64)
    .option("--body-limit <bytes>", "request body size limit, else 413", positiveInteger, 1024 * 1024)
    .option(
      "--api-key <key>",
      "require Authorization: Bearer <key> on /v1/* and /metrics (default: $LTGBERT_API_KEY, else no auth; the variable keeps the key out of the process list)",
    )
    .option(
      "--no-truncation",
      "answer 400 for a text longer than the model's max_position_embeddings instead of cutting it",
    )
    .option("--log", "log each request (Fastify's JSON lines, on stdout)");
  tokenizerOption(command);
  threadsOption(command);
  return deviceOption(command).action(async (dir: string, options: ServeOptions) => {
    await serve(dir, options, context.io);
  });
}
