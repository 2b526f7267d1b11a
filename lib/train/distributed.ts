// Data-parallel training across processes and machines on libtorch's c10d
// (Gloo on CPU): joining a group the way torchrun's environment describes
// it, and the few collectives the Trainer needs besides the gradients'.
import { invalidArgument, LtgBertError } from "../errors.js";
import { addon, callNative, type NativeProcessGroup } from "../native.js";
import { integer, integerIn, nonEmptyString } from "../validate.js";

export interface ProcessGroupOptions {
  /** This process's rank, 0 to worldSize - 1. Default: `RANK`. */
  rank?: number;
  /** How many processes train together. Default: `WORLD_SIZE`. */
  worldSize?: number;
  /** This process's rank on its machine. Default: `LOCAL_RANK`, else `rank`. */
  localRank?: number;
  /** Where rank 0 runs the rendezvous store. Default: `MASTER_ADDR`, else 127.0.0.1. */
  masterAddr?: string;
  /** The store's port. Default: `MASTER_PORT`, else 29500. */
  masterPort?: number;
  /**
   * How long the rendezvous, or any collective, may wait for the other ranks
   * before every rank fails with LTGBERT_DISTRIBUTED. Default:
   * `LTGBERT_DISTRIBUTED_TIMEOUT` (seconds), else 300 s.
   */
  timeoutMs?: number;
  /** Network interfaces Gloo uses, comma-separated. Default: `GLOO_SOCKET_IFNAME`, else the host name's. */
  interfaces?: string;
}

/** The environment variables torchrun sets, as ProcessGroupOptions; null when WORLD_SIZE is unset. */
export function processGroupOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ProcessGroupOptions | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === "") return null;
  const read = (name: string): number | undefined => {
    const value = env[name];
    if (value === undefined || value === "") return undefined;
    if (!/^\d+$/.test(value.trim())) throw invalidArgument(name, "a whole number", value);
    return Number(value);
  };
  const timeout = env.LTGBERT_DISTRIBUTED_TIMEOUT;
  if (timeout !== undefined && timeout !== "" && !(Number(timeout) > 0))
    throw invalidArgument("LTGBERT_DISTRIBUTED_TIMEOUT", "a positive number of seconds", timeout);
  return {
    rank: read("RANK") ?? 0,
    worldSize: read("WORLD_SIZE"),
    localRank: read("LOCAL_RANK"),
    masterAddr: env.MASTER_ADDR || undefined,
    masterPort: read("MASTER_PORT"),
    timeoutMs: timeout ? Number(timeout) * 1000 : undefined,
    interfaces: env.GLOO_SOCKET_IFNAME || undefined,
  };
}

/** Whether this build of the addon has data parallelism (c10d with Gloo). */
export function distributedAvailable(): boolean {
  return addon.ProcessGroup.available;
}

/**
 * One process's membership of a data-parallel group. Pass it to
 * `model.createOptimizer({ ..., processGroup })`: every training step then
 * averages the gradients over the ranks, so that each rank applies the same
 * update. The Trainer and `ltgbert finetune --nproc-per-node` make one for
 * you.
 *
 * @example
 * const group = await ProcessGroup.join(); // RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
 * const opt = model.createOptimizer({ learningRate: 2e-5, processGroup: group });
 */
export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly masterAddr: string;
  readonly masterPort: number;
  #native: NativeProcessGroup | null;

  private constructor(
    native: NativeProcessGroup,
    options: Required<Omit<ProcessGroupOptions, "interfaces" | "timeoutMs">>,
  ) {
    this.#native = native;
    this.rank = options.rank;
    this.worldSize = options.worldSize;
    this.localRank = options.localRank;
    this.masterAddr = options.masterAddr;
    this.masterPort = options.masterPort;
  }

  /**
   * Joins the group: resolves once all `worldSize` processes have arrived
   * at the rendezvous (rank 0 hosts it). Options left out come from the
   * environment torchrun sets.
   */
  static async join(options: ProcessGroupOptions = {}): Promise<ProcessGroup> {
    if (!distributedAvailable()) {
      throw new LtgBertError(
        "LTGBERT_DISTRIBUTED",
        "this build of ltgbert has no data parallelism: its libtorch lacks c10d with Gloo, or Gloo's headers were missing when it was built (Debian/Ubuntu: apt-get install libgloo-dev, then npm rebuild ltgbert)",
      );
    }
    const env = processGroupOptionsFromEnv() ?? {};
    const worldSize = integer("worldSize", options.worldSize ?? env.worldSize ?? 1, 1);
    const rank = integerIn("rank", options.rank ?? env.rank ?? 0, 0, worldSize - 1, `0 to ${worldSize - 1}`);
    const localRank = integer("localRank", options.localRank ?? env.localRank ?? rank, 0);
    const masterAddr = nonEmptyString("masterAddr", options.masterAddr ?? env.masterAddr ?? "127.0.0.1", "a host");
    const masterPort = integerIn(
      "masterPort",
      options.masterPort ?? env.masterPort ?? 29500,
      1,
      65535,
      "a port, 1 to 65535",
    );
    const timeoutMs = integer("timeoutMs", Math.round(options.timeoutMs ?? env.timeoutMs ?? 300_000), 1);
    const native = new addon.ProcessGroup();
    await callNative(() =>
      native.join({
        masterAddr,
        masterPort,
        rank,
        worldSize,
        timeoutMs,
        interfaces: options.interfaces ?? env.interfaces ?? "",
      }),
    );
    return new ProcessGroup(native, { rank, worldSize, localRank, masterAddr, masterPort });
  }

  /** Element-wise sums over the ranks; every rank gets them. */
  async allReduceSum(values: ArrayLike<number>): Promise<Float64Array> {
    const native = this.#require();
    return callNative(() => native.allReduceSum(Float64Array.from(values)));
  }

  /** Every rank's values, in rank order (lengths may differ). */
  async allGather(values: ArrayLike<number>): Promise<Float64Array[]> {
    const native = this.#require();
    return callNative(() => native.allGather(Float64Array.from(values)));
  }

  /** Every rank's JSON-serialisable value, in rank order. */
  async allGatherJson<T>(value: T): Promise<T[]> {
    const bytes = new TextEncoder().encode(JSON.stringify(value));
    const parts = await this.allGather(bytes);
    const decoder = new TextDecoder();
    return parts.map((part) => JSON.parse(decoder.decode(Uint8Array.from(part))) as T);
  }

  /**
   * Fails on every rank with LTGBERT_DISTRIBUTED when any rank's `value`
   * differs from rank 0's: what the ranks must share (model sizes, seeds,
   * batch sizes) is checked before the first step rather than found out as
   * a hang.
   */
  async agree(what: string, value: unknown): Promise<void> {
    const all = await this.allGatherJson(value);
    const first = JSON.stringify(all[0]);
    for (let r = 1; r < all.length; r++) {
      if (JSON.stringify(all[r]) !== first) {
        throw new LtgBertError(
          "LTGBERT_DISTRIBUTED",
          `rank ${this.rank}: ${what} differs between the ranks: rank 0 has ${first}, rank ${r} has ${JSON.stringify(all[r])}`,
        );
      }
    }
  }

  /** Resolves once every rank has called it. */
  async barrier(): Promise<void> {
    const native = this.#require();
    await callNative(() => native.barrier());
  }

  /** Leaves the group. Idempotent. */
  async shutdown(): Promise<void> {
    const native = this.#native;
    this.#native = null;
    if (native) await callNative(() => native.shutdown());
  }

  /** @internal */
  get native(): NativeProcessGroup {
    return this.#require();
  }

  #require(): NativeProcessGroup {
    if (this.#native === null)
      throw new LtgBertError("LTGBERT_DISTRIBUTED", `rank ${this.rank}: the process group was shut down`);
    return this.#native;
  }
}

type Field = {
  data: ArrayLike<unknown> & { subarray?: unknown; slice(a: number, b: number): unknown };
  shape: number[];
};

/**
 * Rank `rank`'s rows of a global batch of `world` ranks: contiguous, as
 * even as the rows allow (a batch of world × b rows gives each rank b). A
 * rank left without rows (a last batch smaller than the world) takes the
 * batch's first row again, as DistributedSampler repeats examples to fill
 * its last shard. Fields are `{ data, shape }` tensors or per-row arrays;
 * either way the leading dimension is the row.
 */
export function shardRows<B extends object>(batch: B, rank: number, world: number): B {
  const ids = (batch as { inputIds?: { shape?: number[] } }).inputIds;
  const rows = ids?.shape?.[0];
  if (rows === undefined) throw invalidArgument("batch.inputIds", "{ data, shape }", ids);
  const chunk = Math.ceil(rows / world);
  let from = Math.min(rows, rank * chunk);
  let to = Math.min(rows, from + chunk);
  if (from === to) [from, to] = [0, 1];
  const cut = (value: unknown): unknown => {
    if (value !== null && typeof value === "object" && "shape" in value && "data" in value) {
      const { data, shape } = value as Field;
      const per = data.length / shape[0];
      return { data: data.slice(from * per, to * per), shape: [to - from, ...shape.slice(1)] };
    }
    if (Array.isArray(value) || ArrayBuffer.isView(value)) {
      const list = value as unknown as { length: number; slice(a: number, b: number): unknown };
      if (list.length % rows !== 0) throw invalidArgument("batch", `per-row arrays of ${rows} rows`, list.length);
      const per = list.length / rows;
      return list.slice(from * per, to * per);
    }
    return value;
  };
  return Object.fromEntries(Object.entries(batch).map(([key, value]) => [key, cut(value)])) as B;
}
