// What the training commands (`finetune`, `pretrain`) share about stopping:
// Ctrl-C (SIGINT) or SIGTERM ends the run after the step in flight with a
// checkpoint, a second signal quits at once, and the exit code is the
// signal's; a fresh run refuses an output directory that holds an earlier
// run's checkpoints.
import { readdir } from "node:fs/promises";
import type { TrainInterrupted } from "../train/trainer.js";
import { CliExit, printJson, usageError, type CliIo } from "./common.js";

export type StopSignal = "SIGINT" | "SIGTERM";

/** Exit codes of a run stopped by a signal: 128 + its number, as shells report it. */
export const SIGNAL_EXIT: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

/** A fresh run must not mix its checkpoints with an earlier run's. */
export async function checkOutput(out: string, resume: boolean): Promise<void> {
  const entries = await readdir(out).catch(() => null);
  if (entries === null || resume) return;
  const checkpoints = entries.filter((name) => /^checkpoint-\d+$/.test(name));
  if (checkpoints.length > 0) {
    throw usageError(
      `--out: ${out} holds checkpoints of an earlier run (${checkpoints.sort().join(", ")}); add --resume to continue it, or choose another --out`,
    );
  }
}

/**
 * Turns SIGINT and SIGTERM into an abort of `signal` while `listen()`
 * holds them; the Trainer then stops after its step in flight and writes a
 * checkpoint. A second signal exits at once.
 */
export class TrainingStop {
  readonly #controller = new AbortController();
  readonly #io: CliIo;
  #by: StopSignal | null = null;
  readonly #onInt = (): void => this.#stop("SIGINT");
  readonly #onTerm = (): void => this.#stop("SIGTERM");

  constructor(io: CliIo) {
    this.#io = io;
  }

  /** What the Trainer's `signal` option takes. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The signal that stopped the run (SIGINT when it was aborted otherwise). */
  get by(): StopSignal {
    return this.#by ?? "SIGINT";
  }

  listen(): void {
    process.on("SIGINT", this.#onInt);
    process.on("SIGTERM", this.#onTerm);
  }

  release(): void {
    process.off("SIGINT", this.#onInt);
    process.off("SIGTERM", this.#onTerm);
  }

  #stop(signal: StopSignal): void {
    if (this.#by !== null) {
      this.#io.stderr.write(`\nltgbert: ${signal} again: quitting without a checkpoint for the step in flight\n`);
      process.exit(SIGNAL_EXIT[signal]);
    }
    this.#by = signal;
    this.#controller.abort();
    if (this.#io.stderr.isTTY)
      this.#io.stderr.write(`\nstopping after this step and writing a checkpoint (${signal} again quits)\n`);
  }

  /**
   * How the command ends after an interrupted run: the signal's exit code,
   * where the checkpoint is. With `json` (the command's --json fields so
   * far), its JSON line is printed first, saying where the run stopped.
   */
  exit(result: TrainInterrupted, out: string, json: Record<string, unknown> | null = null): CliExit {
    const signal = this.by;
    if (json !== null) {
      printJson(this.#io, {
        ...json,
        interrupted: true,
        signal,
        steps: result.globalStep,
        epochs: result.epochs,
        checkpoint: result.checkpoint,
      });
    }
    const message =
      result.checkpoint === null
        ? `interrupted by ${signal} before the first step; nothing was written to ${out}`
        : `interrupted by ${signal} at step ${result.globalStep}; checkpoint written to ${result.checkpoint}; run the same command with --resume to continue`;
    return new CliExit(SIGNAL_EXIT[signal], message);
  }
}
