// `ltgbert serve`: the HTTP server over a classifier. It listens at once,
// answers /readyz 503 while the model loads, and on SIGTERM or SIGINT stops
// accepting, answers every request it accepted, and exits 0.
import { buildServer } from "../serve/server.js";
import { usageError, type CliIo } from "./common.js";
import { applyThreads, loadClassifier } from "./load.js";

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

export async function serve(modelName: string, options: ServeOptions, io: CliIo): Promise<void> {
  if (options.maxQueue < options.maxTexts) {
    throw usageError(
      `--max-queue ${options.maxQueue}: expected at least --max-texts (${options.maxTexts}), or a full request could never be queued`,
    );
  }
  const envKey = process.env[API_KEY_ENV];
  const apiKey = options.apiKey ?? (envKey !== undefined && envKey !== "" ? envKey : undefined);
  if (apiKey !== undefined && apiKey.trim() === "") throw usageError("--api-key: expected a non-empty key");
  applyThreads(options.threads);

  const loading = loadClassifier(modelName, options);
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
      const labels = model.labelNames.join(", ");
      io.stdout.write(
        `ready: ${dir} (${labels}); batches of up to ${options.maxBatchSize} texts, ${options.maxWaitMs} ms wait, queue ${options.maxQueue} texts${apiKey === undefined ? "" : ", API key required"}\n`,
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
