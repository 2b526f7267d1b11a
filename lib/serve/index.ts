// The entry to serving. Fastify and prom-client load on the first call to
// `createServer`, not when the package is imported.
import type { LtgBertServer, ServedModel, ServerOptions } from "./server.js";

export type { LtgBertServer, ServedModel, ServerOptions } from "./server.js";

/**
 * An HTTP server over `model` (with a tokenizer), pooling the items of
 * concurrent requests into batched forward passes: `POST /v1/classify` for
 * a classifier, `/v1/tag` for a tagger, `/v1/answer` for a
 * question-answering model, `/v1/choose` for a multiple-choice model; `GET
 * /healthz`, `GET /readyz`, `GET /metrics`. It does not listen until `listen()` (127.0.0.1 unless told
 * otherwise). `model` may be a promise: the server can listen while it
 * loads, /readyz answering 503 until it has. The model stays the caller's
 * to dispose, after `close()`.
 *
 * @example
 * const model = await LtgBertForSequenceClassification.fromPretrained("./sst2-model");
 * const server = await createServer(model, { maxBatchSize: 32, maxWaitMs: 5 });
 * const url = await server.listen({ port: 8080 }); // "http://127.0.0.1:8080"
 * // curl -d '{"texts":["a gorgeous , witty , seductive movie ."]}' -H 'content-type: application/json' $url/v1/classify
 * process.once("SIGTERM", () => server.close().then(() => model.dispose()));
 */
export async function createServer(
  model: ServedModel | Promise<ServedModel>,
  options: ServerOptions = {},
): Promise<LtgBertServer> {
  // A load that fails while Fastify is being imported is reported by the server (`loaded`, /readyz), not as unhandled.
  if (model instanceof Promise) model.catch(() => {});
  const { buildServer } = await import("./server.js");
  return buildServer(model, options);
}
