// The server's Prometheus metrics, in a registry of its own (so that two
// servers in one process do not share counts): requests by route and
// status, latency, texts per forward pass and its time, the queue, and
// readiness. Gauges are read when /metrics is scraped.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** What the gauges read at each scrape. */
export interface MetricSources {
  queueDepth(): number;
  inFlight(): number;
  ready(): boolean;
}

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<"route" | "method" | "status">;
  readonly #latency: Histogram<"route">;
  readonly #batchSize: Histogram;
  readonly #batchSeconds: Histogram;
  readonly #texts: Counter;
  readonly #rejections: Counter<"reason">;

  constructor(sources: MetricSources, options: { defaultMetrics: boolean }) {
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: "ltgbert_http_requests_total",
      help: "HTTP requests answered, by route, method and status code",
      labelNames: ["route", "method", "status"] as const,
      registers,
    });
    this.#latency = new Histogram({
      name: "ltgbert_http_request_duration_seconds",
      help: "Time from a request's arrival to its response, by route",
      labelNames: ["route"] as const,
      buckets: SECONDS,
      registers,
    });
    this.#batchSize = new Histogram({
      name: "ltgbert_batch_size",
      help: "Texts per forward pass",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.#batchSeconds = new Histogram({
      name: "ltgbert_batch_duration_seconds",
      help: "Time of one forward pass over a batch, softmax included",
      buckets: SECONDS,
      registers,
    });
    this.#texts = new Counter({ name: "ltgbert_texts_total", help: "Texts classified", registers });
    this.#rejections = new Counter({
      name: "ltgbert_rejections_total",
      help: "Requests answered 503, by reason: queue_full, timeout, not_ready, shutting_down, aborted",
      labelNames: ["reason"] as const,
      registers,
    });
    const gauge = (name: string, help: string, read: () => number): void =>
      void new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge("ltgbert_queue_depth", "Texts waiting for a forward pass", sources.queueDepth);
    gauge("ltgbert_http_requests_in_flight", "Requests accepted and not yet answered", sources.inFlight);
    gauge("ltgbert_ready", "1 once the model is loaded and the server is not shutting down, else 0", () =>
      sources.ready() ? 1 : 0,
    );
  }

  response(route: string, method: string, status: number, seconds: number): void {
    this.#requests.inc({ route, method, status: String(status) });
    this.#latency.observe({ route }, seconds);
  }

  batch(size: number, seconds: number): void {
    this.#batchSize.observe(size);
    this.#batchSeconds.observe(seconds);
    this.#texts.inc(size);
  }

  rejection(reason: string): void {
    this.#rejections.inc({ reason });
  }
}
