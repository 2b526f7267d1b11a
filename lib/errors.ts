/** Stable codes of every error the package throws. */
export type LtgBertErrorCode =
  | "LTGBERT_FILE_NOT_FOUND"
  | "LTGBERT_BAD_CHECKPOINT"
  | "LTGBERT_BAD_CONFIG"
  | "LTGBERT_BAD_DATA"
  | "LTGBERT_SHAPE_MISMATCH"
  | "LTGBERT_MISSING_KEYS"
  | "LTGBERT_INVALID_ARGUMENT"
  | "LTGBERT_DISPOSED"
  | "LTGBERT_DEVICE_UNAVAILABLE"
  | "LTGBERT_IO"
  | "LTGBERT_BUSY"
  | "LTGBERT_OUT_OF_MEMORY"
  | "LTGBERT_DISTRIBUTED"
  | "LTGBERT_ADDON_LOAD"
  | "LTGBERT_INTERNAL";

const KNOWN_CODES = new Set<string>([
  "LTGBERT_FILE_NOT_FOUND",
  "LTGBERT_BAD_CHECKPOINT",
  "LTGBERT_BAD_CONFIG",
  "LTGBERT_BAD_DATA",
  "LTGBERT_SHAPE_MISMATCH",
  "LTGBERT_MISSING_KEYS",
  "LTGBERT_INVALID_ARGUMENT",
  "LTGBERT_DISPOSED",
  "LTGBERT_DEVICE_UNAVAILABLE",
  "LTGBERT_IO",
  "LTGBERT_BUSY",
  "LTGBERT_OUT_OF_MEMORY",
  "LTGBERT_DISTRIBUTED",
  "LTGBERT_ADDON_LOAD",
  "LTGBERT_INTERNAL",
]);

/**
 * The one error class of the package. `code` is stable across versions; the
 * message starts with the file or key at fault and gives expected and actual
 * values.
 *
 * @example
 * try { await LtgBertForMaskedLM.fromPretrained("missing/") }
 * catch (e) { if (e instanceof LtgBertError && e.code === "LTGBERT_FILE_NOT_FOUND") … }
 */
export class LtgBertError extends Error {
  readonly code: LtgBertErrorCode;

  constructor(code: LtgBertErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LtgBertError";
    this.code = code;
  }
}

/** A short, readable rendering of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value))
    return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<unknown>).length}`;
  if (typeof value === "object") return `an object (${Object.keys(value).slice(0, 5).join(", ") || "no keys"})`;
  return String(value);
}

/** `name: expected X, got Y` as an LTGBERT_INVALID_ARGUMENT error. */
export function invalidArgument(name: string, expected: string, actual: unknown): LtgBertError {
  return new LtgBertError("LTGBERT_INVALID_ARGUMENT", `${name}: expected ${expected}, got ${describe(actual)}`);
}

/**
 * Turns an error from the addon (a plain Error with a `code`) into an
 * LtgBertError whose stack is the caller's, captured before the native call.
 */
export function fromNative(error: unknown, callerStack: Error): LtgBertError {
  if (error instanceof LtgBertError) return error;
  const raw = error as { code?: unknown; message?: unknown } | undefined;
  const code =
    typeof raw?.code === "string" && KNOWN_CODES.has(raw.code) ? (raw.code as LtgBertErrorCode) : "LTGBERT_INTERNAL";
  const message = typeof raw?.message === "string" ? raw.message : String(error);
  const wrapped = new LtgBertError(code, message, { cause: error });
  if (callerStack.stack)
    wrapped.stack = `LtgBertError: ${message}\n${callerStack.stack.split("\n").slice(1).join("\n")}`;
  return wrapped;
}
