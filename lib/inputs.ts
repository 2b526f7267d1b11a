// Turns the inputs users pass (nested arrays or typed arrays with a shape)
// into the flat typed arrays the addon takes.
import { invalidArgument, LtgBertError } from "./errors.js";
import type { IdArray } from "./native.js";

/** A dense row-major tensor: `data.length` equals the product of `shape`. */
export interface TensorData<T extends ArrayLike<number | bigint> = Float32Array> {
  data: T;
  shape: number[];
}

/** Token ids or an attention mask: `number[][]`, or a typed array with shape [B, T]. */
export type IdMatrix = number[][] | { data: Int32Array | BigInt64Array; shape: [number, number] | number[] };

/** Labels: `number[]` (classification, regression), `number[][]` (masked LM, multi-label), or a typed array with a shape. */
export type LabelInput =
  | number[]
  | number[][]
  | Int32Array
  | BigInt64Array
  | Float32Array
  | { data: Int32Array | BigInt64Array | Float32Array; shape: number[] };

function checkShape(name: string, shape: unknown, rank: number | null, length: number): number[] {
  if (
    !Array.isArray(shape) ||
    (rank !== null && shape.length !== rank) ||
    shape.some((s) => !Number.isInteger(s) || s < 0)
  ) {
    throw invalidArgument(
      `${name}.shape`,
      rank === 2 ? "[B, T] of non-negative integers" : "an array of non-negative integers",
      shape,
    );
  }
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  if (size !== length) {
    throw new LtgBertError(
      "LTGBERT_INVALID_ARGUMENT",
      `${name}.data: expected ${size} values for shape [${shape.join(", ")}], got ${length} values`,
    );
  }
  return shape as number[];
}

function flattenRows(name: string, rows: unknown[], integer: boolean): { values: number[]; shape: number[] } {
  const width = Array.isArray(rows[0]) ? (rows[0] as unknown[]).length : -1;
  const values: number[] = [];
  rows.forEach((row, i) => {
    if (!Array.isArray(row)) throw invalidArgument(`${name}[${i}]`, "an array", row);
    if (row.length !== width)
      throw invalidArgument(`${name}[${i}]`, `length ${width} like row 0 (pad rows to one length)`, row);
    row.forEach((v, j) => {
      if (typeof v !== "number" || (integer ? !Number.isInteger(v) : !Number.isFinite(v))) {
        throw invalidArgument(`${name}[${i}][${j}]`, integer ? "an integer" : "a finite number", v);
      }
      values.push(v);
    });
  });
  return { values, shape: [rows.length, width] };
}

/** Converts ids or a mask to a flat Int32Array/BigInt64Array with shape [B, T]. */
export function toIdMatrix(name: string, value: unknown): { data: IdArray; shape: [number, number] } {
  if (Array.isArray(value)) {
    if (value.length === 0) throw invalidArgument(name, "a non-empty batch", value);
    const { values, shape } = flattenRows(name, value, true);
    if (values.some((v) => v < -2147483648 || v > 2147483647)) throw invalidArgument(name, "32-bit integers", value);
    return { data: Int32Array.from(values), shape: shape as [number, number] };
  }
  if (typeof value === "object" && value !== null && "data" in value) {
    const { data, shape } = value as { data: unknown; shape: unknown };
    if (!(data instanceof Int32Array) && !(data instanceof BigInt64Array)) {
      throw invalidArgument(`${name}.data`, "an Int32Array or BigInt64Array", data);
    }
    return { data, shape: checkShape(name, shape, 2, data.length) as [number, number] };
  }
  throw invalidArgument(name, "number[][] or { data: Int32Array | BigInt64Array, shape: [B, T] }", value);
}

/** Token ids or a mask of multiple choice: `number[][][]` or a typed array with shape [B, C, T]. */
export type IdTensor3 = number[][][] | { data: Int32Array | BigInt64Array; shape: [number, number, number] | number[] };

/** Converts [B, C, T] ids or a mask to a flat Int32Array/BigInt64Array. */
export function toIdTensor3(name: string, value: unknown): { data: IdArray; shape: [number, number, number] } {
  if (Array.isArray(value)) {
    if (value.length === 0) throw invalidArgument(name, "a non-empty batch", value);
    const choices = Array.isArray(value[0]) ? (value[0] as unknown[]).length : -1;
    const parts: IdArray[] = [];
    let width = -1;
    value.forEach((row, i) => {
      if (!Array.isArray(row) || row.length === 0)
        throw invalidArgument(`${name}[${i}]`, "a non-empty array of choices", row);
      if (row.length !== choices)
        throw invalidArgument(
          `${name}[${i}]`,
          `${choices} choices like row 0 (every row has the same choices count)`,
          row,
        );
      const matrix = toIdMatrix(`${name}[${i}]`, row);
      if (width === -1) width = matrix.shape[1];
      if (matrix.shape[1] !== width)
        throw invalidArgument(`${name}[${i}]`, `choices of length ${width} like row 0 (pad them to one length)`, row);
      parts.push(matrix.data);
    });
    const data = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      data.set(part as Int32Array, offset);
      offset += part.length;
    }
    return { data, shape: [value.length, choices, width] };
  }
  if (typeof value === "object" && value !== null && "data" in value) {
    const { data, shape } = value as { data: unknown; shape: unknown };
    if (!(data instanceof Int32Array) && !(data instanceof BigInt64Array)) {
      throw invalidArgument(`${name}.data`, "an Int32Array or BigInt64Array", data);
    }
    return { data, shape: checkShape(name, shape, 3, data.length) as [number, number, number] };
  }
  throw invalidArgument(name, "number[][][] or { data: Int32Array | BigInt64Array, shape: [B, C, T] }", value);
}

/** Start or end positions of question answering: `number[]` or a 1-D integer typed array. */
export type PositionInput = number[] | Int32Array | BigInt64Array;

/** Converts start or end positions to an Int32Array/BigInt64Array of length `batch`. */
export function toPositions(name: string, value: unknown, batch: number): IdArray {
  let out: IdArray;
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647)
        throw invalidArgument(`${name}[${i}]`, "a 32-bit integer", v);
    });
    out = Int32Array.from(value as number[]);
  } else if (value instanceof Int32Array || value instanceof BigInt64Array) {
    out = value;
  } else {
    throw invalidArgument(name, "number[], an Int32Array or a BigInt64Array", value);
  }
  if (out.length !== batch) {
    throw new LtgBertError(
      "LTGBERT_INVALID_ARGUMENT",
      `${name}: expected ${batch} positions (one per row of inputIds), got ${out.length}`,
    );
  }
  return out;
}

/** A mask of ones with the given shape (every position is a token). */
export function onesLike(shape: readonly number[]): Int32Array {
  return new Int32Array(shape.reduce((a, b) => a * b, 1)).fill(1);
}

/** Converts labels; integer labels become Int32Array, others Float32Array. */
export function toLabels(value: unknown, integer: boolean): { data: IdArray | Float32Array; shape: number[] } {
  const name = "labels";
  if (Array.isArray(value)) {
    if (value.length === 0) throw invalidArgument(name, "a non-empty array", value);
    if (Array.isArray(value[0])) {
      const { values, shape } = flattenRows(name, value, integer);
      return { data: integer ? Int32Array.from(values) : Float32Array.from(values), shape };
    }
    value.forEach((v, i) => {
      if (typeof v !== "number" || (integer ? !Number.isInteger(v) : !Number.isFinite(v))) {
        throw invalidArgument(`${name}[${i}]`, integer ? "an integer" : "a finite number", v);
      }
    });
    return {
      data: integer ? Int32Array.from(value as number[]) : Float32Array.from(value as number[]),
      shape: [value.length],
    };
  }
  // Class ids cannot be floats: a Float32Array there is the caller's mistake
  // (regression labels for a classifier), said as such.
  const classIds = "class ids: an Int32Array or BigInt64Array (a Float32Array holds regression or multi-label targets)";
  if (value instanceof Int32Array || value instanceof BigInt64Array || value instanceof Float32Array) {
    if (value.length === 0) throw invalidArgument(name, "a non-empty array", value);
    if (integer && value instanceof Float32Array) throw invalidArgument(name, classIds, value);
    return { data: value, shape: [value.length] };
  }
  if (typeof value === "object" && value !== null && "data" in value) {
    const { data, shape } = value as { data: unknown; shape: unknown };
    if (!(data instanceof Int32Array) && !(data instanceof BigInt64Array) && !(data instanceof Float32Array)) {
      throw invalidArgument(`${name}.data`, "an Int32Array, BigInt64Array or Float32Array", data);
    }
    if (integer && data instanceof Float32Array) throw invalidArgument(`${name}.data`, classIds, data);
    return { data, shape: checkShape(name, shape, null, data.length) };
  }
  throw invalidArgument(name, "number[], number[][], a 1-D typed array or { data, shape }", value);
}
