// Sentence embeddings from an encoder's last hidden state: the arithmetic
// of `embed`, apart from the option checks and the batching in model.ts.
import { LtgBertError } from "./errors.js";
import type { IdArray } from "./native.js";

/** How `embed` turns a text's token vectors into one vector. */
export type Pooling = "mean" | "cls";

/** torch.nn.functional.normalize's default floor on the norm, so a zero vector stays zero. */
const NORM_EPS = 1e-12;

/**
 * Pools hidden states [B, T, D] into row `rows[b]` of `into` ([N, D]) for
 * each b: the mean over positions whose mask is 1 (sums in float64), or the
 * first position's vector; L2-normalised when `normalize`.
 */
export function poolHiddenStates(
  hidden: Float32Array,
  shape: readonly number[],
  mask: IdArray,
  pooling: Pooling,
  normalize: boolean,
  into: Float32Array,
  rows: ArrayLike<number>,
): void {
  const [B, T, D] = shape;
  if (shape.length !== 3 || hidden.length !== B * T * D || mask.length !== B * T || rows.length !== B) {
    throw new LtgBertError(
      "LTGBERT_INTERNAL",
      `embed: hidden states [${shape.join(", ")}] do not fit a mask of ${mask.length} values and ${rows.length} rows`,
    );
  }
  const sum = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    const base = b * T * D;
    if (pooling === "cls") {
      for (let d = 0; d < D; d++) sum[d] = hidden[base + d];
    } else {
      sum.fill(0);
      let count = 0;
      for (let t = 0; t < T; t++) {
        if (Number(mask[b * T + t]) === 0) continue;
        count++;
        const at = base + t * D;
        for (let d = 0; d < D; d++) sum[d] += hidden[at + d];
      }
      if (count === 0) {
        throw new LtgBertError(
          "LTGBERT_INVALID_ARGUMENT",
          `attentionMask[${rows[b]}]: no position is 1, so mean pooling has nothing to average`,
        );
      }
      for (let d = 0; d < D; d++) sum[d] /= count;
    }
    let scale = 1;
    if (normalize) {
      let squares = 0;
      for (let d = 0; d < D; d++) squares += sum[d] * sum[d];
      scale = 1 / Math.max(Math.sqrt(squares), NORM_EPS);
    }
    const out = rows[b] * D;
    for (let d = 0; d < D; d++) into[out + d] = sum[d] * scale;
  }
}
