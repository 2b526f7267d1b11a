// The task heads behind HTTP: a tagger on /v1/tag, a question-answering
// model on /v1/answer, a multiple-choice model on /v1/choose, a regression
// model on /v1/score, an encoder on /v1/embed, each over a
// real socket. Answers equal the model's own tag/answer/choose calls; bad
// bodies get 400 naming the field; a route that is not the model's gets a
// 404 naming the right one; a flood gets 503 with Retry-After while the
// accepted requests succeed. Small random models: the numbers, not their
// quality, are under test.
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createServer,
  LtgBertForMultipleChoice,
  LtgBertForQuestionAnswering,
  LtgBertForSequenceClassification,
  LtgBertForTokenClassification,
  LtgBertModel,
  readMultipleChoice,
  readRegressionTsv,
  readSquad,
  setNumThreads,
  Tokenizer,
  type LtgBertServer,
  type ServerOptions,
} from "../lib/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

setNumThreads(1);
const CONFIG = {
  vocab_size: 4096,
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 128,
};

let tok: Tokenizer;
let tagger: LtgBertForTokenClassification;
let qa: LtgBertForQuestionAnswering;
let mc: LtgBertForMultipleChoice;
let encoder: LtgBertModel;
let regressor: LtgBertForSequenceClassification;
const servers: LtgBertServer[] = [];

beforeAll(async () => {
  tok = await Tokenizer.fromPretrained(path.join(FIXTURES, "tokenizers", "ltg-bert-babylm-10m"));
  tagger = (await LtgBertForTokenClassification.fromConfig(CONFIG, { seed: 1, numLabels: 3 }))
    .setLabelNames(["NOUN", "VERB", "X"])
    .setTokenizer(tok);
  qa = (await LtgBertForQuestionAnswering.fromConfig(CONFIG, { seed: 2 })).setTokenizer(tok);
  mc = (await LtgBertForMultipleChoice.fromConfig(CONFIG, { seed: 3 })).setTokenizer(tok);
  encoder = (await LtgBertModel.fromConfig(CONFIG, { seed: 4 })).setTokenizer(tok);
  regressor = (
    await LtgBertForSequenceClassification.fromConfig(CONFIG, {
      seed: 5,
      numLabels: 1,
      config: { problem_type: "regression" },
    })
  ).setTokenizer(tok);
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => {
  for (const m of [tagger, qa, mc, encoder, regressor]) m.dispose();
});

async function serve(model: Parameters<typeof createServer>[0], options: ServerOptions = {}): Promise<string> {
  const server = await createServer(model, { defaultMetrics: false, ...options });
  servers.push(server);
  return server.listen({ port: 0 });
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

async function post(url: string, route: string, body: unknown): Promise<Answer> {
  const response = await fetch(`${url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer["body"] };
}

describe("POST /v1/tag", () => {
  it("tags strings and word lists as tag() does; other routes and bad bodies are refused by name", async () => {
    const url = await serve(tagger);
    const sentences = ["The cat sat on the mat.", ["Dogs", "bark", "."]];
    const answer = await post(url, "/v1/tag", { sentences });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toEqual(JSON.parse(JSON.stringify(await tagger.tag(sentences))));

    const wrong = await post(url, "/v1/classify", { texts: ["a"] });
    expect(wrong.status).toBe(404);
    expect(wrong.body.error).toEqual({
      code: "wrong_route",
      message: "this server's model is a tagger (token classification): send its requests to POST /v1/tag",
    });
    const bad = await post(url, "/v1/tag", { sentences: ["ok", 7] });
    expect(bad.status).toBe(400);
    expect(bad.body.error!.code).toBe("invalid_request");
    expect(bad.body.error!.message).toMatch(/^body\.sentences\.1: /);
    const unknown = await post(url, "/v1/tag", { texts: ["a"] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error!.message).toContain("sentences");
    const many = await post(url, "/v1/tag", { sentences: Array(65).fill("a") });
    expect(many.status).toBe(400);
    expect(many.body.error!.code).toBe("too_many_texts");
    expect(many.body.error!.message).toMatch(/^sentences: 65 sentences, more than the limit of 64/);
  });

  it("answers 503 with Retry-After to a flood, while the accepted requests succeed", async () => {
    // Batches wait 800 ms to fill, so the first requests hold the 4-item queue while the flood arrives.
    const url = await serve(tagger, { maxQueue: 4, maxTextsPerRequest: 2, maxBatchSize: 64, maxWaitMs: 800 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, r) => post(url, "/v1/tag", { sentences: [`sentence ${r}`, "another one"] })),
    );
    const ok = answers.filter((a) => a.status === 200);
    const shed = answers.filter((a) => a.status === 503);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(shed.length).toBeGreaterThan(0);
    expect(ok.length + shed.length).toBe(20);
    for (const a of shed) {
      expect(a.headers.get("retry-after")).toBe("1");
      expect(a.body.error!.code).toBe("queue_full");
    }
  });
});

describe("POST /v1/answer and /v1/choose", () => {
  it("answers SQuAD questions as answer() does", async () => {
    const { examples } = await readSquad(path.join(FIXTURES, "tasks", "xquad-en-slice.json"));
    const questions = examples.slice(0, 3).map((e) => ({ question: e.question, context: e.context }));
    const url = await serve(qa);
    const answer = await post(url, "/v1/answer", { questions });
    expect(answer.status).toBe(200);
    expect(answer.body.answers).toEqual(JSON.parse(JSON.stringify(await qa.answer(questions))));
    const bad = await post(url, "/v1/answer", { questions: [{ question: "q" }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error!.message).toMatch(/^body\.questions\.0: .*context/);
    expect((await post(url, "/v1/tag", { sentences: ["a"] })).body.error!.message).toContain("POST /v1/answer");
  });

  it("ranks ARC choices as choose() does, mixed choice counts in one request, topK cutting each ranking", async () => {
    const { examples } = await readMultipleChoice(path.join(FIXTURES, "tasks", "arc-easy-dev-slice.jsonl"));
    const questions = [examples[0], examples[17], examples[20]].map((e) => ({
      question: e.question,
      choices: e.choices,
    }));
    expect(questions.map((q) => q.choices.length)).toEqual([4, 5, 3]);
    const url = await serve(mc);
    const answer = await post(url, "/v1/choose", { questions });
    expect(answer.status).toBe(200);
    const direct = JSON.parse(JSON.stringify(await mc.choose(questions)));
    expect(answer.body.rankings).toEqual(direct);
    const top = await post(url, "/v1/choose", { questions, topK: 1 });
    expect(top.body.rankings).toEqual(direct.map((r: unknown[]) => r.slice(0, 1)));
    const bad = await post(url, "/v1/choose", { questions: [{ question: "q", choices: ["only one"] }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error!.message).toMatch(/^body\.questions\.0\.choices: /);
  });
});

describe("POST /v1/embed", () => {
  it("gives the vectors embed() gives, mean or cls, normalised on request", async () => {
    const texts = ["a gorgeous , witty , seductive movie .", "a dull film ."];
    const url = await serve(encoder);
    for (const [pooling, normalize] of [
      ["mean", true],
      ["cls", false],
    ] as const) {
      const answer = await post(url, "/v1/embed", { texts, pooling, normalize });
      expect(answer.status).toBe(200);
      const direct = await encoder.embed(texts, { pooling, normalize });
      const D = direct.shape[1];
      const got = answer.body.embeddings as number[][];
      expect(got.map((v) => v.length)).toEqual([D, D]);
      got.forEach((v, i) => v.forEach((x, k) => expect(Math.abs(x - direct.data[i * D + k])).toBeLessThan(1e-6)));
    }
    const bad = await post(url, "/v1/embed", { texts: ["a"], pooling: "max" });
    expect(bad.status).toBe(400);
    expect(bad.body.error!.message).toMatch(/^body\.pooling: /);
    expect((await post(url, "/v1/classify", { texts: ["a"] })).body.error!.message).toContain("POST /v1/embed");
  });
});

describe("POST /v1/score", () => {
  it("scores texts and STS-B pairs as score() does; a classifier's route and bad bodies are refused by name", async () => {
    const { examples } = await readRegressionTsv(path.join(FIXTURES, "tasks", "stsb-dev-slice.tsv"));
    const texts: (string | [string, string])[] = [
      ...examples.slice(0, 3).map((e) => [e.sentence1, e.sentence2] as [string, string]),
      "a single text",
    ];
    const url = await serve(regressor);
    const answer = await post(url, "/v1/score", { texts });
    expect(answer.status).toBe(200);
    const direct = await regressor.score(texts);
    const got = answer.body.scores as number[];
    expect(got).toHaveLength(4);
    got.forEach((x, i) => expect(Math.abs(x - direct[i])).toBeLessThan(1e-6));

    const wrong = await post(url, "/v1/classify", { texts: ["a"] });
    expect(wrong.status).toBe(404);
    expect(wrong.body.error!.message).toContain(
      'a regression model (problem_type "regression"): send its requests to POST /v1/score',
    );
    const bad = await post(url, "/v1/score", { texts: [["only one"]] });
    expect(bad.status).toBe(400);
    expect(bad.body.error!.message).toMatch(/^body\.texts\.0: /);
    const unknown = await post(url, "/v1/score", { pairs: [["a", "b"]] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error!.message).toContain("texts");
  });

  it("answers 503 with Retry-After to a flood, while the accepted requests succeed", async () => {
    const url = await serve(regressor, { maxQueue: 4, maxTextsPerRequest: 2, maxBatchSize: 64, maxWaitMs: 800 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, r) => post(url, "/v1/score", { texts: [[`pair ${r}`, "another"], "one"] })),
    );
    const ok = answers.filter((a) => a.status === 200);
    const shed = answers.filter((a) => a.status === 503);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(shed.length).toBeGreaterThan(0);
    expect(ok.length + shed.length).toBe(20);
    for (const a of ok) expect(a.body.scores).toHaveLength(2);
    for (const a of shed) expect(a.body.error!.code).toBe("queue_full");
  });
});
