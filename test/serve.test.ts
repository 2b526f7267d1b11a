// Serving over real HTTP on 127.0.0.1 (port 0): a tiny random classifier
// (hidden 32, two layers, three labels) with the BabyLM tokenizer, its
// answers checked against predict() text by text; validation, auth, size
// limits, load shedding and timeouts; readiness while the model loads; and
// `ltgbert serve` as a child process of the built CLI, drained by SIGTERM.
// One libtorch thread, as in the other tests.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../lib/cli.js";
import {
  createServer,
  LtgBertForSequenceClassification,
  setNumThreads,
  Tokenizer,
  type LtgBertServer,
  type Prediction,
  type ServerOptions,
} from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

setNumThreads(1);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist", "cli.js");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-serve-"));
const modelDir = path.join(work, "tiny-cls");

const CONFIG = {
  vocab_size: 16384,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 32,
};
const NAMES = ["negative", "neutral", "positive"];
/** SST-2 dev sentences: many lengths, some over 32 tokens (cut). */
const SENTENCES = readFileSync(path.join(FIXTURES, "sst2", "dev.tsv"), "utf8")
  .split("\n")
  .slice(1, 161)
  .map((line) => line.split("\t")[0].trim());

let model: LtgBertForSequenceClassification;
/** predict() of every sentence, one at a time: the reference the server's answers are checked against. */
const expected = new Map<string, Prediction>();

beforeAll(async () => {
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    { cwd: root },
  );
  model = await LtgBertForSequenceClassification.fromConfig(CONFIG, { numLabels: 3, seed: 5 });
  model.tokenizer = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm"));
  model.setLabelNames(NAMES);
  await model.savePretrained(modelDir);
  const alone = await Promise.all(SENTENCES.map((s) => model.predict([s], { topK: 3 })));
  SENTENCES.forEach((s, i) => expected.set(s, alone[i][0]));
});
afterAll(() => {
  model.dispose();
  rmSync(work, { recursive: true, force: true });
});

const servers: LtgBertServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A server on 127.0.0.1, a free port; closed after the test. */
async function serve(
  options: ServerOptions = {},
  over: LtgBertForSequenceClassification | Promise<LtgBertForSequenceClassification> = model,
): Promise<{ server: LtgBertServer; url: string }> {
  const server = await createServer(over, { defaultMetrics: false, ...options });
  servers.push(server);
  const url = await server.listen({ port: 0 });
  return { server, url };
}

interface Answer {
  status: number;
  headers: Headers;
  body: {
    predictions?: (Prediction & { top?: { label: string; labelId: number; score: number }[] })[];
    error?: { code: string; message: string };
    status?: string;
  };
  /** Milliseconds from sending to the answer. */
  ms: number;
}

async function request(
  url: string,
  route: string,
  init: { body?: unknown; headers?: Record<string, string>; method?: string } = {},
): Promise<Answer> {
  const started = performance.now();
  const body = init.body === undefined || typeof init.body === "string" ? init.body : JSON.stringify(init.body);
  const response = await fetch(`${url}${route}`, {
    method: init.method ?? (body === undefined ? "GET" : "POST"),
    headers: body === undefined ? init.headers : { "content-type": "application/json", ...init.headers },
    body: body as string | undefined,
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text.startsWith("{") ? JSON.parse(text) : { status: text },
    ms: performance.now() - started,
  };
}

const classify = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  request(url, "/v1/classify", { body, headers });

/** The server's answer for `text` equals predict()'s: same label, probabilities within float error of a different batch. */
function expectSameAsPredict(got: Prediction, text: string): void {
  const want = expected.get(text)!;
  expect(got.scores).toHaveLength(3);
  got.scores.forEach((s, c) => expect(Math.abs(s - want.scores[c]), text).toBeLessThan(1e-6));
  const sorted = [...want.scores].sort((a, b) => b - a);
  if (sorted[0] - sorted[1] > 1e-5) expect(got.label, text).toBe(want.label);
  expect(got.score).toBe(got.scores[got.labelId]);
  expect(got.label).toBe(NAMES[got.labelId]);
}

async function metric(url: string, name: string, headers: Record<string, string> = {}): Promise<number> {
  const text = (await request(url, "/metrics", { headers })).body.status!;
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

describe("POST /v1/classify", () => {
  it("answers as predict() does, in the order of the texts, with top when asked", async () => {
    const { url } = await serve();
    const texts = SENTENCES.slice(0, 12);
    const answer = await classify(url, { texts });
    expect(answer.status).toBe(200);
    expect(answer.body.predictions).toHaveLength(12);
    answer.body.predictions!.forEach((p, i) => {
      expectSameAsPredict(p, texts[i]);
      expect(p.top).toBeUndefined();
    });
    const direct = await model.predict(texts);
    answer.body.predictions!.forEach((p, i) => expect(p.label).toBe(direct[i].label));

    const top = await classify(url, { texts: texts.slice(0, 3), topK: 2 });
    top.body.predictions!.forEach((p, i) => {
      const want = expected.get(texts[i])!.top!.slice(0, 2);
      expect(p.top!.map((r) => [r.label, r.labelId])).toEqual(want.map((r) => [r.label, r.labelId]));
      p.top!.forEach((r, k) => expect(Math.abs(r.score - want[k].score)).toBeLessThan(1e-6));
    });
    const all = await classify(url, { texts: [texts[0]], topK: 9 });
    expect(all.body.predictions![0].top).toHaveLength(3);
  });

  it("gives each of many concurrent requests exactly its own answers, sharing forward passes", async () => {
    const { url } = await serve({ maxBatchSize: 16, maxWaitMs: 5 });
    // 80 requests of 1 to 4 sentences each, all sent at once.
    const requests = Array.from({ length: 80 }, (_, r) =>
      Array.from({ length: 1 + (r % 4) }, (_, i) => SENTENCES[(r * 7 + i * 13) % SENTENCES.length]),
    );
    const answers = await Promise.all(requests.map((texts) => classify(url, { texts })));
    answers.forEach((answer, r) => {
      expect(answer.status).toBe(200);
      expect(answer.body.predictions).toHaveLength(requests[r].length);
      answer.body.predictions!.forEach((p, i) => expectSameAsPredict(p, requests[r][i]));
    });
    const texts = requests.flat().length;
    const batches = await metric(url, "ltgbert_batch_size_count");
    expect(await metric(url, "ltgbert_batch_size_sum")).toBe(texts);
    expect(await metric(url, "ltgbert_texts_total")).toBe(texts);
    // Texts of different requests shared forward passes: far fewer passes than requests.
    expect(batches).toBeLessThan(requests.length / 2);
    expect(batches).toBeGreaterThanOrEqual(Math.ceil(texts / 16));
  });

  it("refuses bodies that do not match the schema, with a JSON error naming what is wrong", async () => {
    const { url } = await serve({ maxTextsPerRequest: 3 });
    const cases: [unknown, string, RegExp][] = [
      [{}, "invalid_request", /must have required property 'texts'/],
      [{ texts: [] }, "invalid_request", /body\.texts: must NOT have fewer than 1 items/],
      [{ texts: "one text" }, "invalid_request", /body\.texts: must be array/],
      [{ texts: ["fine", 7] }, "invalid_request", /body\.texts\.1: must be string/],
      [{ texts: ["a"], topK: 0 }, "invalid_request", /body\.topK: must be >= 1/],
      [{ texts: ["a"], topK: "2" }, "invalid_request", /body\.topK: must be integer/],
      [{ texts: ["a"], extra: 1 }, "invalid_request", /unknown key "extra"/],
      [[["a"]], "invalid_request", /body: must be object/],
      ["{not json", "invalid_json", /not valid JSON/],
      [
        { texts: ["a", "b", "c", "d"] },
        "too_many_texts",
        /4 texts, more than the limit of 3 per request \(maxTextsPerRequest, --max-texts\)/,
      ],
    ];
    for (const [body, code, message] of cases) {
      const answer = await classify(url, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error!.code, JSON.stringify(body)).toBe(code);
      expect(answer.body.error!.message).toMatch(message);
    }
    const plain = await request(url, "/v1/classify", { body: "texts", headers: { "content-type": "text/plain" } });
    expect(plain.status).toBe(415);
    expect(plain.body.error!.code).toBe("unsupported_media_type");
    const missing = await request(url, "/v1/nothing");
    expect(missing.status).toBe(404);
    expect(missing.body.error!.message).toMatch(/no route GET \/v1\/nothing/);
    // None of these reached the model.
    expect(await metric(url, "ltgbert_texts_total")).toBe(0);
  });

  it("answers 413 for a body over the limit, naming it", async () => {
    const { url } = await serve({ bodyLimit: 1000 });
    const answer = await classify(url, { texts: ["x".repeat(1200)] });
    expect(answer.status).toBe(413);
    expect(answer.body.error).toEqual({
      code: "body_too_large",
      message: "the request body is larger than the limit of 1000 bytes (bodyLimit, --body-limit)",
    });
    expect((await classify(url, { texts: ["x".repeat(900)] })).status).toBe(200);
  });

  it("cuts long texts by default; with truncation off, answers 400 naming the text", async () => {
    const long = "a very long review that goes on and on ".repeat(8);
    const cut = await serve();
    const answer = await classify(cut.url, { texts: [long] });
    expect(answer.status).toBe(200);
    const [direct] = await model.predict([long]);
    answer.body.predictions![0].scores.forEach((s, c) => expect(Math.abs(s - direct.scores[c])).toBeLessThan(1e-6));

    const strict = await serve({ truncation: false });
    const refused = await classify(strict.url, { texts: ["short", long] });
    expect(refused.status).toBe(400);
    expect(refused.body.error!.code).toBe("text_too_long");
    expect(refused.body.error!.message).toMatch(
      /^texts\[1\]: \d+ tokens with the special tokens, more than maxLength 32/,
    );
    expect((await classify(strict.url, { texts: ["short"] })).status).toBe(200);
  });
});

describe("auth", () => {
  it("with an API key, /v1 and /metrics answer 401 without it; the probes stay open", async () => {
    const { url } = await serve({ apiKey: "s3cret" });
    const none = await classify(url, { texts: ["a"] });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="ltgbert"');
    expect(none.body.error!.code).toBe("unauthorized");
    expect(none.body.error!.message).toMatch(/Authorization: Bearer <key>/);
    const wrong = await classify(url, { texts: ["a"] }, { authorization: "Bearer s3cre" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error!.message).toMatch(/not valid/);
    expect((await classify(url, { texts: ["a"] }, { authorization: "Bearer s3cret" })).status).toBe(200);
    expect((await request(url, "/metrics")).status).toBe(401);
    expect((await request(url, "/metrics", { headers: { authorization: "Bearer s3cret" } })).status).toBe(200);
    expect((await request(url, "/healthz")).status).toBe(200);
    expect((await request(url, "/readyz")).status).toBe(200);
    // Auth comes before the body is read: an oversized body without the key is a 401, not a 413.
    expect((await classify(url, { texts: ["x".repeat(2_000_000)] })).status).toBe(401);
  });
});

describe("load shedding", () => {
  it("answers 503 with Retry-After at once when the queue is full, while the accepted requests succeed", async () => {
    // Batches wait 800 ms to fill, so the first requests hold the 4-text queue while the flood arrives.
    const { url } = await serve({ maxQueue: 4, maxTextsPerRequest: 2, maxBatchSize: 64, maxWaitMs: 800 });
    const requests = Array.from({ length: 40 }, (_, r) => [SENTENCES[r * 2], SENTENCES[r * 2 + 1]]);
    const answers = await Promise.all(requests.map((texts) => classify(url, { texts })));
    const ok = answers.filter((a) => a.status === 200);
    const shed = answers.filter((a) => a.status === 503);
    expect(ok.length + shed.length).toBe(40);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(ok.length).toBeLessThan(10);
    for (const a of shed) {
      expect(a.headers.get("retry-after")).toBe("1");
      expect(a.body.error!.code).toBe("queue_full");
      expect(a.body.error!.message).toMatch(/the queue holds 4 \(maxQueue, --max-queue\)/);
    }
    // Shed at once, not after waiting: every 503 came before the first answer with results.
    expect(Math.max(...shed.map((a) => a.ms))).toBeLessThan(Math.min(...ok.map((a) => a.ms)));
    answers.forEach((a, r) => {
      if (a.status === 200) a.body.predictions!.forEach((p, i) => expectSameAsPredict(p, requests[r][i]));
    });
    const metrics = (await request(url, "/metrics")).body.status!;
    expect(metrics).toContain(`ltgbert_rejections_total{reason="queue_full"} ${shed.length}`);
    expect(metrics).toContain(
      `ltgbert_http_requests_total{route="/v1/classify",method="POST",status="503"} ${shed.length}`,
    );
  });

  it("answers 503 with Retry-After when a request passes its time limit", async () => {
    const { server, url } = await serve({ timeoutMs: 50, maxWaitMs: 1000, maxBatchSize: 64 });
    const answer = await classify(url, { texts: ["late"] });
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toBe("1");
    expect(answer.body.error!.code).toBe("timeout");
    expect(answer.body.error!.message).toMatch(/no result within 50 ms \(timeoutMs, --timeout-ms\)/);
    expect(server.queueDepth).toBe(0);
  });
});

describe("clients that leave, and shutdown", () => {
  it("takes the texts of a client that disconnects out of the queue", async () => {
    const { server, url } = await serve({ maxWaitMs: 5000, maxBatchSize: 64 });
    const { hostname, port } = new URL(url);
    const req = http.request({ host: hostname, port, path: "/v1/classify", method: "POST" });
    req.setHeader("content-type", "application/json");
    req.on("error", () => {});
    req.end(JSON.stringify({ texts: ["one", "two", "three"] }));
    while (server.queueDepth < 3) await new Promise((r) => setTimeout(r, 5));
    req.destroy();
    const started = Date.now();
    while (server.queueDepth > 0 && Date.now() - started < 2000) await new Promise((r) => setTimeout(r, 5));
    expect(server.queueDepth).toBe(0);
  });

  it("close() answers the accepted requests, and 503 to those that come after", async () => {
    const { server, url } = await serve({ maxWaitMs: 300, maxBatchSize: 64 });
    const accepted = classify(url, { texts: SENTENCES.slice(0, 2) });
    while (server.queueDepth < 2) await new Promise((r) => setTimeout(r, 5));
    const closed = server.close();
    expect(server.ready).toBe(false);
    const late = await server.app.inject({ method: "POST", url: "/v1/classify", payload: { texts: ["late"] } });
    expect(late.statusCode).toBe(503);
    expect(late.headers["retry-after"]).toBe("1");
    expect(late.json()).toEqual({ error: { code: "shutting_down", message: "the server is shutting down" } });
    const answer = await accepted;
    expect(answer.status).toBe(200);
    answer.body.predictions!.forEach((p, i) => expectSameAsPredict(p, SENTENCES[i]));
    await closed;
  });
});

describe("probes, metrics and start-up", () => {
  it("listens on 127.0.0.1 unless told otherwise", async () => {
    const { server, url } = await serve();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.app.server.address()).toMatchObject({ address: "127.0.0.1" });
  });

  it("answers /readyz 503 until the model is loaded, and /v1/classify 503 meanwhile", async () => {
    let resolve: (m: LtgBertForSequenceClassification) => void = () => {};
    const loading = new Promise<LtgBertForSequenceClassification>((r) => (resolve = r));
    const { server, url } = await serve({}, loading);
    expect((await request(url, "/healthz")).status).toBe(200);
    const early = await request(url, "/readyz");
    expect(early.status).toBe(503);
    expect(early.body.error).toEqual({ code: "not_ready", message: "the model is still loading" });
    const notYet = await classify(url, { texts: ["a"] });
    expect(notYet.status).toBe(503);
    expect(notYet.headers.get("retry-after")).toBe("1");
    resolve(model);
    await server.loaded;
    expect(await request(url, "/readyz")).toMatchObject({ status: 200, body: { status: "ready" } });
    expect((await classify(url, { texts: ["a"] })).status).toBe(200);

    const failing = await serve({}, Promise.reject(new Error("no such directory")));
    await expect(failing.server.loaded).rejects.toThrow("no such directory");
    const failed = await request(failing.url, "/readyz");
    expect(failed.status).toBe(503);
    expect(failed.body.error!.message).toBe("the model failed to load: no such directory");
  });

  it("exposes Prometheus metrics: requests, latency, batch sizes, queue depth", async () => {
    const { url } = await serve();
    await classify(url, { texts: SENTENCES.slice(0, 5) });
    await classify(url, { texts: [] });
    const answer = await request(url, "/metrics");
    expect(answer.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = answer.body.status!;
    for (const name of [
      "ltgbert_http_requests_total",
      "ltgbert_http_request_duration_seconds",
      "ltgbert_batch_size",
      "ltgbert_batch_duration_seconds",
      "ltgbert_queue_depth",
      "ltgbert_http_requests_in_flight",
      "ltgbert_ready",
    ])
      expect(text).toContain(`# TYPE ${name} `);
    expect(text).toContain('ltgbert_http_requests_total{route="/v1/classify",method="POST",status="200"} 1');
    expect(text).toContain('ltgbert_http_requests_total{route="/v1/classify",method="POST",status="400"} 1');
    expect(text).toContain('ltgbert_http_request_duration_seconds_count{route="/v1/classify"} 2');
    expect(text).toContain("ltgbert_batch_size_sum 5");
    expect(text).toContain("ltgbert_queue_depth 0");
    expect(text).toContain("ltgbert_ready 1");
  });

  it("refuses a model it cannot serve, and options that contradict each other", async () => {
    const bare = await LtgBertForSequenceClassification.fromConfig(CONFIG, { numLabels: 2 });
    await expect(createServer(bare)).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
      message: expect.stringMatching(/no tokenizer/),
    });
    bare.dispose();
    await expect(createServer(model, { maxQueue: 8, maxTextsPerRequest: 64 })).rejects.toThrow(
      /options\.maxQueue: expected at least maxTextsPerRequest \(64\)/,
    );
    await expect(createServer(model, { maxBatchSize: 0 })).rejects.toThrow(/options\.maxBatchSize/);
  });
});

describe("ltgbert serve (the built CLI)", () => {
  it("documents its options, and refuses contradicting ones with one line", async () => {
    let stdout = "";
    let stderr = "";
    const io = {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      stdin: Readable.from([""]),
    };
    expect(await main(["node", "ltgbert", "serve", "--help"], io)).toBe(0);
    for (const flag of [
      "--host",
      "--port",
      "--max-batch-size",
      "--max-wait-ms",
      "--max-queue",
      "--timeout-ms",
      "--max-texts",
      "--body-limit",
      "--api-key",
      "LTGBERT_API_KEY",
      "--no-truncation",
      "--threads",
    ])
      expect(stdout).toContain(flag);
    expect(await main(["node", "ltgbert", "serve", modelDir, "--max-queue", "4", "--max-texts", "8"], io)).toBe(1);
    expect(stderr).toBe(
      "ltgbert: --max-queue 4: expected at least --max-texts (8), or a full request could never be queued [LTGBERT_INVALID_ARGUMENT]\n",
    );
    stderr = "";
    expect(await main(["node", "ltgbert", "serve", modelDir, "--port", "70000"], io)).toBe(2);
    expect(stderr).toMatch(/^ltgbert: serve: option '--port <n>' argument '70000' is invalid/);
    stderr = "";
    expect(await main(["node", "ltgbert", "serve", path.join(work, "nowhere"), "--port", "0"], io)).toBe(1);
    expect(stderr).toMatch(/nowhere.*\[LTGBERT_FILE_NOT_FOUND\]\n$/);
  });

  it("on SIGTERM, stops accepting, answers every accepted request, and exits 0", async () => {
    const child = spawn(
      process.execPath,
      [cli, "serve", modelDir, "--port", "0", "--threads", "1", "--max-wait-ms", "500", "--max-batch-size", "64"],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LTGBERT_API_KEY: "from-env" } },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const started = Date.now();
    while (!stdout.includes("ready:")) {
      if (Date.now() - started > 60_000 || child.exitCode !== null) throw new Error(`not ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const url = /listening on (\S+)/.exec(stdout)![1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const auth = { authorization: "Bearer from-env" };
    expect((await classify(url, { texts: ["a"] })).status).toBe(401); // the key came from the environment

    // Ten requests wait in the queue (a batch waits up to 500 ms to fill) when SIGTERM comes.
    const requests = Array.from({ length: 10 }, (_, r) => SENTENCES.slice(r * 3, r * 3 + 3));
    const pending = requests.map((texts) => classify(url, { texts }, auth));
    while ((await metric(url, "ltgbert_queue_depth", auth)) < 30) {
      if (Date.now() - started > 60_000) throw new Error("the requests never queued");
    }
    child.kill("SIGTERM");
    const answers = await Promise.all(pending);
    answers.forEach((answer, r) => {
      expect(answer.status).toBe(200);
      answer.body.predictions!.forEach((p, i) => expectSameAsPredict(p, requests[r][i]));
    });
    expect(await exited).toBe(0);
    expect(stderr).toContain("SIGTERM: not accepting new requests");
    expect(stderr).toContain("stopped\n");
    // Nothing listens any more.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
