// Process-wide settings and facts: threads, the libtorch in use.
import os from "node:os";
import { invalidArgument } from "./errors.js";
import {
  addon,
  callNative,
  type CpuCacheStats,
  type NativeSettings,
  type NativeTensorEntry,
  type OneDnnStatus,
  type PackedWeightStats,
} from "./native.js";

export type { CpuCacheStats, NativeSettings, OneDnnStatus, PackedWeightStats };

/**
 * The most intra-op threads `setNumThreads` takes: as many cores as a large
 * server has. Far more threads than cores only wait on each other (on two
 * cores a tiny forward takes 4 s at 256 threads and 17 s at 1024), and tens
 * of thousands could wedge the compute thread for good.
 */
export const MAX_THREADS = 256;

/**
 * Sets the number of threads libtorch uses inside one operation (matrix
 * multiplies and the like): an integer from 1 to `MAX_THREADS` (256). The
 * package starts with every available core; libtorch's own default is often 1.
 */
export function setNumThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)
    throw invalidArgument("threads", `an integer from 1 to ${MAX_THREADS}`, threads);
  addon.setNumThreads(threads);
}

/** The number of intra-op threads in use. */
export function getNumThreads(): number {
  return addon.getNumThreads();
}

/** Which libtorch the addon runs on and which devices it sees. */
export function systemInfo(): {
  libtorchVersion: string;
  builtWithCuda: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  threads: number;
  /**
   * The oneDNN version the CPU linear layers and attention products run on
   * ("3.4.1"), or "" when they run on libtorch's own ops (a build without
   * libdnnl-dev, or LTGBERT_DISABLE_ONEDNN=1).
   */
  oneDnn: string;
  /** Why oneDNN is in use or not (the build's decision, or LTGBERT_DISABLE_ONEDNN). */
  oneDnnStatus: OneDnnStatus;
  /** What the CPU tensor cache holds and has done (see `LTGBERT_CPU_CACHE_MB` in docs/configuration.md). */
  cpuCache: CpuCacheStats;
  /** Inference's reordered copies of weights (one more copy of each weight it has used). */
  packedWeights: PackedWeightStats;
  /** The LTGBERT_* environment variables as the addon read them when it was loaded. */
  settings: NativeSettings;
} {
  const info = addon.systemInfo();
  return {
    libtorchVersion: info.libtorchVersion,
    builtWithCuda: info.builtWithCuda,
    cudaAvailable: info.cudaAvailable,
    cudaDeviceCount: info.cudaDeviceCount,
    threads: addon.getNumThreads(),
    oneDnn: info.oneDnn,
    oneDnnStatus: info.oneDnnStatus,
    cpuCache: { ...info.cpuCache },
    packedWeights: { ...info.packedWeights },
    settings: { ...info.settings },
  };
}

/** Lists a checkpoint's tensors (key, shape, dtype) without loading a model. */
export async function readCheckpointInfo(file: string): Promise<NativeTensorEntry[]> {
  if (typeof file !== "string" || file.length === 0) throw invalidArgument("file", "a checkpoint path", file);
  return callNative(() => addon.readCheckpointInfo(file));
}

addon.setNumThreads(Math.max(1, os.availableParallelism()));
