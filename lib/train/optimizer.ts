// The optimizer handle that `model.createOptimizer` returns: AdamW with its
// schedule and clipping, held in native memory next to the model it trains.
import { stat } from "node:fs/promises";
import path from "node:path";
import { invalidArgument, LtgBertError } from "../errors.js";
import { integer, nonEmptyString, number, object } from "../validate.js";
import { callNative, type NativeOptimizer, type NativeOptimizerOptions } from "../native.js";
import { makeDirectory } from "../save.js";
import { ProcessGroup } from "./distributed.js";

export type ScheduleKind = "constant" | "constant_with_warmup" | "linear" | "cosine";

/** A learning-rate schedule, as Hugging Face's `get_scheduler` defines each kind. */
export interface ScheduleOptions {
  kind: ScheduleKind;
  /** Steps over which the rate rises linearly from 0 (at step 0) to `learningRate`. Default 0. */
  warmupSteps?: number;
  /** The step at which "linear" reaches 0 and "cosine" ends its half cycle. Needed by both. */
  totalSteps?: number;
  /** "cosine" only: cycles over the steps after warmup (default 0.5: peak down to 0). */
  numCycles?: number;
}

export interface OptimizerOptions {
  /** Peak learning rate. */
  learningRate: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay on all parameters but biases and LayerNorm parameters. Default 0. */
  weightDecay?: number;
  /** Clip gradients to this global 2-norm; 0 or absent: no clipping. */
  maxGradNorm?: number;
  /** Default { kind: "constant" }. */
  schedule?: ScheduleOptions;
  /** Seed of the random stream dropout draws from during training. Default 42. */
  seed?: number;
  /**
   * Data parallelism: every step averages the gradients over this group's
   * ranks (each its share of the global batch), and the first step copies
   * rank 0's weights to every rank. Each rank draws its own dropout masks
   * (rank 0 from `seed`, the others from seeds mixed from it and their
   * rank). `save` and `load` are then collective: every rank calls them,
   * rank 0 writes.
   */
  processGroup?: ProcessGroup;
  /** With `processGroup`: check every this many steps that the ranks' weights are identical (0: never). Default 100. */
  checkEvery?: number;
}

/** What one training step did. */
export interface TrainStepResult {
  /** Mean loss over the step's items (every micro-batch's, and every rank's with a process group), before the update. */
  loss: number;
  /** Global 2-norm of the gradients, before clipping. */
  gradNorm: number;
  /** The learning rate this step used. */
  learningRate: number;
  /** Optimizer steps taken so far, this one included. */
  step: number;
  /** With a process group: seconds this step waited on collectives (item counts, the loss, the gradients' all-reduce once backward was done; what overlapped backward is not counted); 0 without. */
  communicationSeconds: number;
}

/** The file inside a checkpoint directory that `save` writes and `load` reads. */
export const OPTIMIZER_FILE = "optimizer.safetensors";

const SCHEDULES = new Set<ScheduleKind>(["constant", "constant_with_warmup", "linear", "cosine"]);

/** @internal Checks the options and fills in the defaults. */
export function resolveOptimizerOptions(options: OptimizerOptions): NativeOptimizerOptions {
  object("options", options);
  const betas = options.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) throw invalidArgument("options.betas", "[beta1, beta2]", betas);
  const schedule = options.schedule ?? { kind: "constant" };
  if (typeof schedule !== "object" || schedule === null || !SCHEDULES.has(schedule.kind)) {
    throw invalidArgument(
      "options.schedule.kind",
      '"constant", "constant_with_warmup", "linear" or "cosine"',
      (schedule as { kind?: unknown } | null)?.kind,
    );
  }
  const warmupSteps = integer("options.schedule.warmupSteps", schedule.warmupSteps ?? 0, 0);
  let totalSteps = 0;
  if (schedule.kind === "linear" || schedule.kind === "cosine") {
    totalSteps = integer("options.schedule.totalSteps", schedule.totalSteps, 1);
  } else if (schedule.totalSteps !== undefined) {
    totalSteps = integer("options.schedule.totalSteps", schedule.totalSteps, 0);
  }
  return {
    learningRate: number("options.learningRate", options.learningRate, { min: 0 }),
    beta1: number("options.betas[0]", betas[0], { min: 0, max: 1, maxOpen: true }),
    beta2: number("options.betas[1]", betas[1], { min: 0, max: 1, maxOpen: true }),
    eps: number("options.eps", options.eps ?? 1e-8, { min: 0 }),
    weightDecay: number("options.weightDecay", options.weightDecay ?? 0, { min: 0 }),
    maxGradNorm: number("options.maxGradNorm", options.maxGradNorm ?? 0, { min: 0 }),
    schedule: schedule.kind,
    warmupSteps,
    totalSteps,
    numCycles: number("options.schedule.numCycles", schedule.numCycles ?? 0.5, { min: 0 }),
    seed: integer("options.seed", options.seed ?? 42, 0),
    ...distributedOptions(options),
  };
}

function distributedOptions(options: OptimizerOptions): Pick<NativeOptimizerOptions, "processGroup" | "checkEvery"> {
  if (options.processGroup === undefined) return {};
  if (!(options.processGroup instanceof ProcessGroup))
    throw invalidArgument("options.processGroup", "a ProcessGroup", options.processGroup);
  return {
    processGroup: options.processGroup.native,
    checkEvery: integer("options.checkEvery", options.checkEvery ?? 100, 0),
  };
}

/**
 * AdamW as `torch.optim.AdamW` defines it, over one model's parameters, with
 * Hugging Face's grouping (no weight decay on biases and LayerNorm
 * parameters), a learning-rate schedule and clipping by global norm. The
 * moments live in native memory; nothing of them crosses into JS.
 *
 * Made by `model.createOptimizer`; used by `model.trainStep`. Its calls run
 * in turn with the model's.
 */
export class Optimizer {
  /** The options it was made with, defaults filled in. */
  readonly options: Readonly<NativeOptimizerOptions>;
  /** The data-parallel group it averages gradients over, if any. */
  readonly processGroup: ProcessGroup | undefined;
  #native: NativeOptimizer | null;
  #run: <T>(work: () => Promise<T>) => Promise<T>;
  #step = 0;

  /** @internal Use `model.createOptimizer`. */
  constructor(
    native: NativeOptimizer,
    options: NativeOptimizerOptions,
    run: <T>(work: () => Promise<T>) => Promise<T>,
    processGroup?: ProcessGroup,
  ) {
    this.#native = native;
    this.processGroup = processGroup;
    const { processGroup: _group, ...plain } = options;
    this.options = Object.freeze(plain);
    this.#run = run;
  }

  /** Optimizer steps taken (the scheduler's position). */
  get step(): number {
    return this.#step;
  }

  /** The learning rate the next step will use. */
  get learningRate(): number {
    return this.options.learningRate * scheduleFactor(this.options, this.#step);
  }

  /**
   * Writes `dir/optimizer.safetensors`: both AdamW moments of every
   * parameter, the step count (the schedule's position) and the random state
   * dropout draws from, so that training resumed from it continues exactly.
   * Creates `dir`; atomic, so a failed save keeps the previous file. With a
   * process group every rank must call it: rank 0 writes every rank's
   * random state into its file, the others write nothing.
   */
  async save(dir: string): Promise<string> {
    nonEmptyString("dir", dir, "a folder path");
    if ((this.processGroup?.rank ?? 0) === 0) await makeDirectory(dir);
    const native = this.#require();
    return this.#run(() => callNative(() => native.save(path.join(dir, OPTIMIZER_FILE))));
  }

  /**
   * Restores what `save` wrote. Every key and shape is checked first: a
   * state that does not fit this model changes nothing. The options stay
   * those this optimizer was made with.
   */
  async load(dir: string): Promise<void> {
    nonEmptyString("dir", dir, "a folder path");
    const file = path.join(dir, OPTIMIZER_FILE);
    const found = await stat(file).catch(() => null);
    if (!found?.isFile()) throw new LtgBertError("LTGBERT_FILE_NOT_FOUND", `${file}: no optimizer state here`);
    const native = this.#require();
    const { step } = await this.#run(() => callNative(() => native.load(file)));
    this.#step = step;
  }

  /** Frees the moments now rather than at garbage collection. Idempotent. */
  dispose(): void {
    this.#native?.dispose();
    this.#native = null;
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.#native === null;
  }

  /** @internal */
  get native(): NativeOptimizer {
    return this.#require();
  }

  /** @internal Records a step the model ran. */
  recordStep(step: number): void {
    this.#step = step;
  }

  #require(): NativeOptimizer {
    if (this.#native === null) throw new LtgBertError("LTGBERT_DISPOSED", "Optimizer: used after dispose()");
    return this.#native;
  }
}

/** The schedule's multiplier of the peak rate at `step` (0-based), as the native step computes it. */
export function scheduleFactor(
  options: Pick<NativeOptimizerOptions, "schedule" | "warmupSteps" | "totalSteps" | "numCycles">,
  step: number,
): number {
  if (options.schedule === "constant") return 1;
  if (step < options.warmupSteps) return step / Math.max(1, options.warmupSteps);
  const afterWarmup = Math.max(1, options.totalSteps - options.warmupSteps);
  if (options.schedule === "linear") return Math.max(0, (options.totalSteps - step) / afterWarmup);
  if (options.schedule === "cosine") {
    const progress = (step - options.warmupSteps) / afterWarmup;
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * options.numCycles * 2 * progress)));
  }
  return 1;
}
