// Dynamic batching, apart from HTTP: callers submit lists of items (the
// encoded texts of one request); the batcher pools the items of every
// caller and runs them, at most `maxBatchSize` at a time and one run at a
// time, through one function (a forward pass), then hands each caller
// exactly its own results, in its own order. The queue of waiting items is
// bounded, and every submission has a deadline.
import { LtgBertError } from "../errors.js";
import { isInteger, isNumber } from "../validate.js";

/** Why a submission was turned away or given up. */
export type RejectionReason = "queue_full" | "timeout" | "closed" | "aborted";

/**
 * A submission the batcher did not run to the end: the queue had no room
 * for it, its deadline passed, the batcher was closed, or its caller
 * aborted. Code LTGBERT_BUSY; `reason` says which.
 */
export class BatcherRejection extends LtgBertError {
  readonly reason: RejectionReason;

  constructor(reason: RejectionReason, message: string) {
    super("LTGBERT_BUSY", message);
    this.name = "BatcherRejection";
    this.reason = reason;
  }
}

export interface BatcherOptions {
  /** Items per run at most. */
  maxBatchSize: number;
  /**
   * How long the oldest waiting item may wait for others to fill a batch
   * before a partial batch runs, in milliseconds; 0 runs whatever is
   * waiting as soon as the runner is free.
   */
  maxWaitMs: number;
  /**
   * Items waiting (submitted, not yet in a run) at most. A submission that
   * would go past it is rejected at once, whole, with reason "queue_full".
   */
  maxQueue: number;
  /**
   * Milliseconds from submission to results; past it the submission is
   * rejected with reason "timeout" and its items still waiting leave the
   * queue (items already in a run finish, their results unused). 0: none.
   */
  timeoutMs: number;
  /** Told of each run when it ends: how many items it had and how long it took. */
  onBatch?: (size: number, seconds: number) => void;
}

export interface SubmitOptions {
  /** Aborting gives the submission up, as a timeout does, with reason "aborted". */
  signal?: AbortSignal;
}

interface Job<R> {
  results: R[];
  remaining: number;
  /** Items of this job still in the queue. */
  queued: number;
  settled: boolean;
  resolve: (results: R[]) => void;
  reject: (error: unknown) => void;
  cleanup: () => void;
}

interface Entry<T, R> {
  job: Job<R>;
  /** Position of the item in its submission. */
  index: number;
  item: T;
  length: number;
  /** Arrival time (performance.now()). */
  arrived: number;
}

function checkOptions(options: BatcherOptions): void {
  const positive = (name: keyof BatcherOptions): void => {
    const v = options[name];
    if (!isInteger(v, 1)) throw new RangeError(`${name}: expected a positive integer, got ${String(v)}`);
  };
  const nonNegative = (name: keyof BatcherOptions): void => {
    const v = options[name];
    if (!isNumber(v, { min: 0 })) throw new RangeError(`${name}: expected a non-negative number, got ${String(v)}`);
  };
  positive("maxBatchSize");
  positive("maxQueue");
  nonNegative("maxWaitMs");
  nonNegative("timeoutMs");
}

/**
 * Pools submissions into runs of at most `maxBatchSize` items.
 *
 * Which items share a run: the oldest waiting item always goes (so no item
 * waits behind more than the items that arrived before it), and the rest
 * are those nearest to it in length, the window of waiting items sorted by
 * length that contains it and pads least. Within a run, items are sorted
 * longest first, as `predict` sorts them.
 *
 * @example
 * const batcher = new Batcher((rows) => model.classifyBatch(pad(rows)), (row) => row.length,
 *   { maxBatchSize: 32, maxWaitMs: 5, maxQueue: 1024, timeoutMs: 30_000 });
 * const predictions = await batcher.submit(rowsOfOneRequest);
 */
export class Batcher<T, R> {
  readonly #run: (items: T[]) => Promise<R[]>;
  readonly #length: (item: T) => number;
  readonly #options: BatcherOptions;
  #queue: Entry<T, R>[] = [];
  #running = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(run: (items: T[]) => Promise<R[]>, length: (item: T) => number, options: BatcherOptions) {
    checkOptions(options);
    this.#run = run;
    this.#length = length;
    this.#options = { ...options };
  }

  /** Items waiting for a run. */
  get queueDepth(): number {
    return this.#queue.length;
  }

  /** Items in the run under way (0 when none is). */
  get inFlight(): number {
    return this.#running;
  }

  /** Whether `count` more items would fit in the queue now. */
  hasRoomFor(count: number): boolean {
    return this.#queue.length + count <= this.#options.maxQueue;
  }

  /**
   * Queues `items` and resolves to their results, in the same order, once
   * every one of them has been through a run. Rejects at once with a
   * BatcherRejection when the queue has no room or the batcher is closed;
   * rejects with the run's own error when a run with its items fails.
   */
  submit(items: readonly T[], options: SubmitOptions = {}): Promise<R[]> {
    if (this.#closed) return Promise.reject(new BatcherRejection("closed", "the server is shutting down"));
    if (items.length === 0) return Promise.resolve([]);
    if (!this.hasRoomFor(items.length)) {
      return Promise.reject(
        new BatcherRejection(
          "queue_full",
          `the queue is full: ${this.#queue.length} texts waiting, room for ${this.#options.maxQueue} (maxQueue)`,
        ),
      );
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new BatcherRejection("aborted", "the caller went away"));

    return new Promise<R[]>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const onAbort = (): void => this.#giveUp(job, new BatcherRejection("aborted", "the caller went away"));
      const job: Job<R> = {
        results: new Array<R>(items.length),
        remaining: items.length,
        queued: items.length,
        settled: false,
        resolve,
        reject,
        cleanup: () => {
          if (timer !== null) clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      const arrived = performance.now();
      items.forEach((item, index) => this.#queue.push({ job, index, item, length: this.#length(item), arrived }));
      if (this.#options.timeoutMs > 0) {
        timer = setTimeout(
          () =>
            this.#giveUp(
              job,
              new BatcherRejection("timeout", `no result within ${this.#options.timeoutMs} ms (timeoutMs)`),
            ),
          this.#options.timeoutMs,
        );
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#schedule();
    });
  }

  /** Refuses new submissions (reason "closed"); what was submitted still runs. */
  close(): void {
    this.#closed = true;
  }

  /** Resolves once no item waits and no run is under way. */
  drained(): Promise<void> {
    if (this.#queue.length === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #giveUp(job: Job<R>, error: BatcherRejection): void {
    if (job.settled) return;
    this.#settle(job, error);
    if (job.queued > 0) {
      this.#queue = this.#queue.filter((e) => e.job !== job);
      job.queued = 0;
      this.#checkIdle();
    }
  }

  #settle(job: Job<R>, error: unknown): void {
    job.settled = true;
    job.cleanup();
    if (error === null) job.resolve(job.results);
    else job.reject(error);
  }

  #schedule(): void {
    if (this.#running > 0 || this.#queue.length === 0) return;
    const { maxBatchSize, maxWaitMs } = this.#options;
    const waited = performance.now() - this.#queue[0].arrived;
    if (this.#queue.length >= maxBatchSize || waited >= maxWaitMs) {
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      void this.#runBatch();
    } else if (this.#timer === null) {
      this.#timer = setTimeout(
        () => {
          this.#timer = null;
          if (this.#running === 0 && this.#queue.length > 0) void this.#runBatch();
        },
        Math.max(0, maxWaitMs - waited),
      );
    }
  }

  /** Takes the next run's entries off the queue (see the class comment). */
  #take(): Entry<T, R>[] {
    const size = this.#options.maxBatchSize;
    const queue = this.#queue;
    if (queue.length <= size) {
      this.#queue = [];
      return queue;
    }
    // Shortest first; the sort is stable, so equal lengths keep arrival order.
    const sorted = queue.map((_, i) => i).sort((a, b) => queue[a].length - queue[b].length);
    const oldest = sorted.indexOf(0);
    const prefix = [0];
    for (const i of sorted) prefix.push(prefix[prefix.length - 1] + queue[i].length);
    let best = -1;
    let bestPadding = Infinity;
    const first = Math.max(0, oldest - size + 1);
    const last = Math.min(oldest, sorted.length - size);
    for (let start = first; start <= last; start++) {
      const end = start + size;
      const padding = size * queue[sorted[end - 1]].length - (prefix[end] - prefix[start]);
      if (padding < bestPadding) {
        bestPadding = padding;
        best = start;
      }
    }
    const chosen = new Set(sorted.slice(best, best + size));
    this.#queue = queue.filter((_, i) => !chosen.has(i));
    return queue.filter((_, i) => chosen.has(i));
  }

  async #runBatch(): Promise<void> {
    const entries = this.#take().sort((a, b) => b.length - a.length);
    for (const e of entries) e.job.queued--;
    this.#running = entries.length;
    const started = performance.now();
    try {
      let results: R[];
      try {
        results = await this.#run(entries.map((e) => e.item));
        if (results.length !== entries.length)
          throw new LtgBertError(
            "LTGBERT_INTERNAL",
            `batcher: a run of ${entries.length} items gave ${results.length} results`,
          );
      } catch (error) {
        // Every submission with an item in the failed run fails, and its other items leave the queue.
        for (const job of new Set(entries.map((e) => e.job))) {
          if (job.settled) continue;
          this.#settle(job, error);
          if (job.queued > 0) {
            this.#queue = this.#queue.filter((e) => e.job !== job);
            job.queued = 0;
          }
        }
        return;
      }
      entries.forEach((e, i) => {
        const { job } = e;
        if (job.settled) return;
        job.results[e.index] = results[i];
        if (--job.remaining === 0) this.#settle(job, null);
      });
    } finally {
      this.#running = 0;
      this.#options.onBatch?.(entries.length, (performance.now() - started) / 1000);
      this.#schedule();
      this.#checkIdle();
    }
  }

  #checkIdle(): void {
    if (this.#queue.length > 0 || this.#running > 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }
}
