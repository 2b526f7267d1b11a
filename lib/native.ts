// The typed facade over the raw addon. Nothing else imports the addon.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fromNative, LtgBertError } from "./errors.js";

export type IdArray = Int32Array | BigInt64Array;

export interface NativeLoadReport {
  loaded: string[];
  missing: string[];
  unexpected: string[];
  mismatched: { key: string; expected: number[]; actual: number[] }[];
  /** A wrapper's prefix ("module.", ...) on the source's keys, when removing it would match more of them. */
  detectedPrefix?: string;
}

export interface NativeLoadResult {
  classifierHead: "linear" | "mlp" | "auto";
  report: NativeLoadReport | null;
}

export interface NativeForwardInputs {
  inputIds: IdArray;
  attentionMask: IdArray;
  /** [B, T], or [B, C, T] for multiple choice. */
  shape: number[];
  /** Labels as the task takes them; [B, 2] start and end positions for question answering. */
  labels?: IdArray | Float32Array;
  labelsShape?: number[];
  hidden: boolean;
  /** Every layer's outputs (hiddenStates and layerOutputs in the result). */
  hiddenStates?: boolean;
  /** Every layer's attention probabilities. */
  attentions?: boolean;
  /** Arrays the outputs are written into; each is then left out of the result. */
  logitsInto?: Float32Array;
  hiddenInto?: Float32Array;
}

export interface NativeTensor {
  data: Float32Array;
  shape: number[];
}

export interface NativeForwardResult {
  /** Absent for the bare encoder and for question answering (start and end logits instead). */
  logits?: Float32Array;
  logitsShape?: number[];
  startLogits?: Float32Array;
  endLogits?: Float32Array;
  /** The shape of startLogits and endLogits, [B, T]. */
  positionShape?: number[];
  lastHiddenState?: Float32Array;
  hiddenShape?: number[];
  loss?: number;
  hiddenStates?: NativeTensor[];
  layerOutputs?: NativeTensor[];
  attentions?: NativeTensor[];
}

export interface NativeTensorEntry {
  key: string;
  shape: number[];
  dtype: string;
}

export interface NativeTensorData {
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
  shape: number[];
  dtype: string;
}

/** Named tensors in native memory: a model's own (shared) or a file's. */
export interface NativeStateDict {
  entries(): NativeTensorEntry[];
  readTensor(key: string): Promise<NativeTensorData>;
  source(): string;
}

export interface NativeModel {
  load(
    configJson: string,
    options: { checkpoint?: string; seed?: number; strict?: boolean; device?: string; stripPrefix?: string },
  ): Promise<NativeLoadResult>;
  forward(inputs: NativeForwardInputs): Promise<NativeForwardResult>;
  numParameters(): number;
  stateDict(): NativeStateDict;
  loadStateDict(source: NativeStateDict, options: { strict: boolean; stripPrefix?: string }): Promise<NativeLoadReport>;
  /** Writes dir/model.safetensors or dir/pytorch_model.bin (dir must exist); resolves to the file's path. */
  save(dir: string, options: { format: "safetensors" | "pytorch" }): Promise<string>;
  dispose(): void;
}

export interface NativeBatch {
  inputIds: IdArray;
  attentionMask: IdArray;
  /** [B, T], or [B, C, T] for multiple choice. */
  shape: number[];
  labels?: IdArray | Float32Array;
  labelsShape?: number[];
}

export interface NativeOptimizerOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  maxGradNorm: number;
  schedule: string;
  warmupSteps: number;
  totalSteps: number;
  numCycles: number;
  seed: number;
  /** Data parallelism: the group whose ranks average their gradients. */
  processGroup?: NativeProcessGroup;
  /** Compare the ranks' weights every this many steps (0: never). */
  checkEvery?: number;
}

/** One rank's membership of a data-parallel group (c10d, Gloo). */
export interface NativeProcessGroup {
  join(options: {
    masterAddr: string;
    masterPort: number;
    rank: number;
    worldSize: number;
    timeoutMs: number;
    interfaces: string;
  }): Promise<{ rank: number; worldSize: number }>;
  allReduceSum(values: Float64Array): Promise<Float64Array>;
  allGather(values: Float64Array): Promise<Float64Array[]>;
  barrier(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface NativeStepResult {
  loss: number;
  gradNorm: number;
  learningRate: number;
  step: number;
  communicationSeconds: number;
}

/** AdamW over one model's parameters; its calls run under that model's lock. */
export interface NativeOptimizer {
  trainStep(batches: NativeBatch[]): Promise<NativeStepResult>;
  /** Writes the moments, step count and dropout random state to `file` (safetensors). */
  save(file: string): Promise<string>;
  load(file: string): Promise<{ step: number }>;
  dispose(): void;
}

export interface NativeSystemInfo {
  libtorchVersion: string;
  builtWithCuda: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  parallelInfo: string;
  oneDnn: string;
  oneDnnStatus: OneDnnStatus;
  config: string;
  cpuCache: CpuCacheStats;
  packedWeights: PackedWeightStats;
  settings: NativeSettings;
}

/** The values config.json's optional keys take when absent (native/model/config.h). */
export interface NativeConfigDefaults {
  max_position_embeddings: number;
  position_bucket_size: number;
  layer_norm_eps: number;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  position_qk_split: "per_head" | "global";
  /** A classifier's only: lib/config.ts does not put them into a masked LM's config. */
  num_labels: number;
  problem_type: "single_label_classification" | "multi_label_classification" | "regression";
}

/**
 * The LTGBERT_* environment variables as the addon read them, once, when it
 * was loaded (native/common/settings.h); a later change has no effect.
 */
export interface NativeSettings {
  /** `LTGBERT_DISABLE_ONEDNN` (default false): libtorch's own ops throughout, also in training. */
  disableOneDnn: boolean;
  /** `LTGBERT_PACK_WEIGHTS` (default true): inference keeps weights reordered for oneDNN. */
  packWeights: boolean;
  /** `LTGBERT_CPU_CACHE_MB`: the CPU tensor cache's bound in MiB; null (unset) is 1024 growing to the peak in use. */
  cpuCacheMb: number | null;
  /** `LTGBERT_PROFILE_TRACE` (default ""): where to write a Chrome trace of one call. */
  profileTrace: string;
  /** `LTGBERT_PROFILE_CALL` (default 3): which forward or training step the trace records. */
  profileCall: number;
}

/**
 * Why the addon runs on oneDNN or not: "used"; decided by the build:
 * "not-found", "config-failed" (its CMake config failed, e.g. OpenCL's headers
 * missing), "build-failed", "run-failed" (a small program on it did not
 * build or run), "turned-off" (LTGBERT_WITH_ONEDNN=0), "libtorch-bundles-its-own";
 * or "disabled-at-runtime" (LTGBERT_DISABLE_ONEDNN=1).
 */
export type OneDnnStatus =
  | "used"
  | "not-found"
  | "config-failed"
  | "build-failed"
  | "run-failed"
  | "turned-off"
  | "libtorch-bundles-its-own"
  | "disabled-at-runtime";

/** Weights that inference keeps reordered into oneDNN's preferred layout (`LTGBERT_PACK_WEIGHTS`). */
export interface PackedWeightStats {
  /** Weights (or row ranges of one) kept, of models not yet disposed. */
  tensors: number;
  bytes: number;
}

/** The CPU tensor cache's levels and counters, for blocks of 256 KiB and more. */
export interface CpuCacheStats {
  /** Bytes in freed blocks kept for reuse. */
  cachedBytes: number;
  /** Bytes in blocks in use (tensors alive, in native code or held by JS). */
  liveBytes: number;
  peakLiveBytes: number;
  /** Blocks taken from the system since the process started: their pages fault in fresh. */
  freshBlocks: number;
  freshBytes: number;
  /** Blocks handed out again from the cache. */
  reusedBlocks: number;
  reusedBytes: number;
}

interface Addon {
  Model: new () => NativeModel;
  Optimizer: new (model: NativeModel, options: NativeOptimizerOptions) => NativeOptimizer;
  ProcessGroup: { new (): NativeProcessGroup; readonly available: boolean };
  setNumThreads(threads: number): void;
  getNumThreads(): number;
  systemInfo(): NativeSystemInfo;
  configDefaults(): NativeConfigDefaults;
  readCheckpointInfo(path: string): Promise<NativeTensorEntry[]>;
  readStateDict(path: string): Promise<NativeStateDict>;
  cooccurrenceEmbeddings(
    ids: Int32Array,
    offsets: BigInt64Array,
    options: { reference: NativeStateDict; key: string; keep: Int32Array; minCount: number; seed: number },
  ): Promise<{ stateDict: NativeStateDict; documents: number; pairs: number }>;
}

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function loadAddon(): Addon {
  const require = createRequire(import.meta.url);
  try {
    const load = require("node-gyp-build") as (dir: string) => unknown;
    return load(packageRoot) as Addon;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new LtgBertError(
      "LTGBERT_ADDON_LOAD",
      `ltgbert: the native addon could not be loaded from ${packageRoot}: ${reason}
Likely causes:
  - it was never built: run \`npm rebuild ltgbert\` (needs libtorch: apt-get install libtorch-dev, or LIBTORCH=/path/to/libtorch);
    npm skips a dependency's install script unless the project allows it: \`npm install-scripts approve ltgbert\`
  - libtorch moved or was removed since the build (libtorch*.so not found): reinstall it or rebuild
  - it was built for another Node ABI or platform: rebuild with this Node`,
      { cause: error },
    );
  }
}

export const addon: Addon = loadAddon();

/**
 * Runs a native call and maps its failure (sync or async) to LtgBertError,
 * keeping the caller's stack.
 */
export async function callNative<T>(call: () => Promise<T> | T): Promise<T> {
  const callerStack = new Error();
  try {
    return await call();
  } catch (error) {
    throw fromNative(error, callerStack);
  }
}

/** The synchronous form of callNative. */
export function callNativeSync<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fromNative(error, new Error());
  }
}
