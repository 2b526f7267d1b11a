// The batcher on its own, with a stand-in for the model: a run function
// that records each batch and can be held back, so that tests decide what
// is waiting when a batch is formed. No model, no HTTP.
import { afterEach, describe, expect, it, vi } from "vitest";
import { LtgBertError } from "../lib/errors.js";
import { Batcher, BatcherRejection, type BatcherOptions } from "../lib/serve/batcher.js";

interface Item {
  id: string;
  length: number;
}

/** A run function that records its batches; while `hold()`-ed, runs wait for `release()`. */
function recorder(result: (item: Item) => string = (item) => `result of ${item.id}`) {
  const batches: Item[][] = [];
  let gate: Promise<void> | null = null;
  let open = (): void => {};
  return {
    batches,
    hold(): void {
      gate = new Promise((resolve) => (open = resolve));
    },
    release(): void {
      gate = null;
      open();
    },
    run: async (items: Item[]): Promise<string[]> => {
      batches.push(items);
      if (gate !== null) await gate;
      return items.map(result);
    },
  };
}

const OPTIONS: BatcherOptions = { maxBatchSize: 4, maxWaitMs: 0, maxQueue: 100, timeoutMs: 0 };
const make = (run: (items: Item[]) => Promise<string[]>, options: Partial<BatcherOptions> = {}) =>
  new Batcher<Item, string>(run, (item) => item.length, { ...OPTIONS, ...options });
const items = (prefix: string, lengths: number[]): Item[] =>
  lengths.map((length, i) => ({ id: `${prefix}${i}`, length }));
const flush = () => new Promise((resolve) => setImmediate(resolve));

async function rejection(promise: Promise<unknown>): Promise<BatcherRejection> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BatcherRejection);
  expect(error).toBeInstanceOf(LtgBertError);
  return error as BatcherRejection;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("Batcher", () => {
  it("gives every caller exactly its own results, in its own order, across shared batches", async () => {
    const r = recorder();
    const batcher = make(r.run, { maxBatchSize: 5, maxQueue: 1000 });
    r.hold();
    const first = batcher.submit(items("first-", [1]));
    // While the first batch runs, 40 callers of 1 to 7 items each queue up.
    const callers = Array.from({ length: 40 }, (_, c) =>
      items(
        `c${c}-`,
        Array.from({ length: 1 + (c % 7) }, (_, i) => 1 + ((c * 7 + i * 3) % 11)),
      ),
    );
    const pending = callers.map((list) => batcher.submit(list));
    r.release();
    const results = await Promise.all(pending);
    results.forEach((got, c) => expect(got).toEqual(callers[c].map((item) => `result of ${item.id}`)));
    expect(await first).toEqual(["result of first-0"]);
    // Every item ran exactly once, in batches of at most 5, most of them full.
    const ran = r.batches.flat().map((item) => item.id);
    expect(ran).toHaveLength(1 + callers.flat().length);
    expect(new Set(ran).size).toBe(ran.length);
    expect(Math.max(...r.batches.map((b) => b.length))).toBe(5);
    expect(r.batches.filter((b) => b.length === 5).length).toBeGreaterThanOrEqual(
      Math.floor(callers.flat().length / 5),
    );
    expect(batcher.queueDepth).toBe(0);
  });

  it("pools the items that arrive while a batch runs into the next one, up to maxBatchSize", async () => {
    const r = recorder();
    const batcher = make(r.run, { maxBatchSize: 8 });
    r.hold();
    const a = batcher.submit(items("a", [3]));
    await flush();
    expect(r.batches).toHaveLength(1); // the runner was idle, and maxWaitMs is 0: it ran at once
    const b = batcher.submit(items("b", [3, 3]));
    const c = batcher.submit(items("c", [3, 3, 3]));
    const d = batcher.submit(items("d", [3, 3, 3, 3]));
    expect(batcher.queueDepth).toBe(9);
    r.release();
    await Promise.all([a, b, c, d]);
    // b and c and one of d's items fill the next batch of 8; the rest of d runs after it.
    expect(r.batches.map((batch) => batch.length)).toEqual([1, 8, 1]);
    expect(r.batches[1].map((item) => item.id).sort()).toEqual(["b0", "b1", "c0", "c1", "c2", "d0", "d1", "d2"]);
  });

  it("splits one large submission into batches of maxBatchSize", async () => {
    const r = recorder();
    const batcher = make(r.run, { maxBatchSize: 4 });
    const list = items(
      "x",
      Array.from({ length: 10 }, () => 5),
    );
    expect(await batcher.submit(list)).toEqual(list.map((item) => `result of ${item.id}`));
    expect(r.batches.map((batch) => batch.length)).toEqual([4, 4, 2]);
  });

  it("waits up to maxWaitMs for a batch to fill, and no longer", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const r = recorder();
    const batcher = make(r.run, { maxBatchSize: 4, maxWaitMs: 50 });
    const one = batcher.submit(items("a", [2]));
    await vi.advanceTimersByTimeAsync(30);
    expect(r.batches).toHaveLength(0);
    const two = batcher.submit(items("b", [2]));
    await vi.advanceTimersByTimeAsync(19);
    expect(r.batches).toHaveLength(0);
    // 50 ms after the first item arrived, the two run together.
    await vi.advanceTimersByTimeAsync(1);
    expect(r.batches.map((batch) => batch.length)).toEqual([2]);
    await Promise.all([one, two]);

    // A full batch does not wait.
    const full = batcher.submit(items("c", [1, 1, 1, 1]));
    await vi.advanceTimersByTimeAsync(0);
    expect(r.batches.map((batch) => batch.length)).toEqual([2, 4]);
    await full;
  });

  it("groups texts of similar length, always taking the oldest, longest first within a batch", async () => {
    const r = recorder();
    const batcher = make(r.run, { maxBatchSize: 3 });
    r.hold();
    const blocker = batcher.submit(items("blocker", [1]));
    // Arrival order: long, short, long, short, long, short.
    const lengths = [30, 2, 31, 3, 29, 1];
    const callers = lengths.map((length, i) => batcher.submit([{ id: `t${i}`, length }]));
    r.release();
    await Promise.all([blocker, ...callers]);
    const [, first, second] = r.batches.map((batch) => batch.map((item) => item.length));
    expect(first).toEqual([31, 30, 29]); // t0 (the oldest) and the two nearest in length
    expect(second).toEqual([3, 2, 1]);

    // The oldest goes first even when it is the odd one out.
    r.batches.length = 0;
    r.hold();
    const again = batcher.submit(items("blocker", [1]));
    const mixed = [40, 2, 3, 2, 3].map((length, i) => batcher.submit([{ id: `m${i}`, length }]));
    r.release();
    await Promise.all([again, ...mixed]);
    expect(r.batches[1].map((item) => item.id)).toContain("m0");
    expect(r.batches[1].map((item) => item.length)).toEqual([40, 3, 3]);
    expect(r.batches[2].map((item) => item.length)).toEqual([2, 2]);
  });

  it("rejects a submission at once when the queue has no room, and takes one that fits", async () => {
    const r = recorder();
    const batcher = make(r.run, { maxBatchSize: 2, maxQueue: 4 });
    r.hold();
    const running = batcher.submit(items("run", [1, 1])); // in the running batch, not in the queue
    await flush();
    const queued = batcher.submit(items("q", [1, 1, 1]));
    expect(batcher.queueDepth).toBe(3);
    expect(batcher.hasRoomFor(2)).toBe(false);
    const error = await rejection(batcher.submit(items("late", [1, 1])));
    expect(error.reason).toBe("queue_full");
    expect(error.code).toBe("LTGBERT_BUSY");
    expect(error.message).toMatch(/3 texts waiting, room for 4 \(maxQueue\)/);
    const fits = batcher.submit(items("fits", [1]));
    r.release();
    await Promise.all([running, queued, fits]);
  });

  it("gives up a submission past timeoutMs, taking its waiting items out of the queue", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const r = recorder();
    const batcher = make(r.run, { maxBatchSize: 2, timeoutMs: 100 });
    r.hold();
    const running = batcher.submit(items("run", [1, 1]));
    await vi.advanceTimersByTimeAsync(0);
    const runningError = rejection(running);
    const lateError = rejection(batcher.submit(items("late", [1, 1, 1])));
    expect(batcher.queueDepth).toBe(3);
    await vi.advanceTimersByTimeAsync(100);
    const error = await lateError;
    expect(error.reason).toBe("timeout");
    expect(error.message).toMatch(/no result within 100 ms \(timeoutMs\)/);
    expect(batcher.queueDepth).toBe(0);
    // The submission whose batch was already running is past its time too.
    expect((await runningError).reason).toBe("timeout");
    r.release();
    await batcher.drained();
    expect(r.batches.flat().map((item) => item.id)).toEqual(["run0", "run1"]);
  });

  it("gives up a submission whose signal aborts", async () => {
    const r = recorder();
    const batcher = make(r.run, { maxBatchSize: 1 });
    r.hold();
    const running = batcher.submit(items("run", [1]));
    const controller = new AbortController();
    const gone = rejection(batcher.submit(items("gone", [1, 1]), { signal: controller.signal }));
    controller.abort();
    expect((await gone).reason).toBe("aborted");
    expect(batcher.queueDepth).toBe(0);
    r.release();
    await running;
    expect(r.batches.flat().map((item) => item.id)).toEqual(["run0"]);
  });

  it("fails the callers of a failed batch with its error, and only them", async () => {
    const failing = new Set(["bad0"]);
    const r = recorder();
    const batcher = make(
      async (list) => {
        if (list.some((item) => failing.has(item.id))) throw new LtgBertError("LTGBERT_INTERNAL", "forward failed");
        return r.run(list);
      },
      { maxBatchSize: 2 },
    );
    r.hold();
    const first = batcher.submit(items("ok", [1]));
    // bad0 shares a batch with one of bad's other items; its last item would run later: it leaves the queue.
    const bad = batcher.submit(items("bad", [1, 1, 1]));
    const after = batcher.submit(items("after", [1]));
    r.release();
    await expect(bad).rejects.toThrow("forward failed");
    expect(await first).toEqual(["result of ok0"]);
    expect(await after).toEqual(["result of after0"]);
    expect(r.batches.flat().map((item) => item.id)).toEqual(["ok0", "after0"]);
  });

  it("after close(), refuses new submissions and still finishes the accepted ones", async () => {
    const r = recorder();
    const batcher = make(r.run, { maxBatchSize: 2 });
    r.hold();
    const accepted = [batcher.submit(items("a", [1, 1])), batcher.submit(items("b", [1, 1]))];
    batcher.close();
    expect((await rejection(batcher.submit(items("c", [1])))).reason).toBe("closed");
    let drained = false;
    const done = batcher.drained().then(() => (drained = true));
    await flush();
    expect(drained).toBe(false);
    r.release();
    await done;
    expect(await Promise.all(accepted)).toEqual([
      ["result of a0", "result of a1"],
      ["result of b0", "result of b1"],
    ]);
    expect(await batcher.submit([]).catch((e: BatcherRejection) => e.reason)).toBe("closed");
  });

  it("checks its options", () => {
    const run = async (list: Item[]) => list.map(() => "");
    expect(() => make(run, { maxBatchSize: 0 })).toThrow(/maxBatchSize: expected a positive integer, got 0/);
    expect(() => make(run, { maxQueue: 1.5 })).toThrow(/maxQueue/);
    expect(() => make(run, { maxWaitMs: -1 })).toThrow(/maxWaitMs: expected a non-negative number/);
    expect(() => make(run, { timeoutMs: Number.NaN })).toThrow(/timeoutMs/);
  });
});
