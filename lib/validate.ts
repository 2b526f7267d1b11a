// The option checks of the whole package. Each helper tests one value and
// throws LTGBERT_INVALID_ARGUMENT as `name: expected X, got Y` (see
// invalidArgument), or returns the value, typed. The predicates underneath
// (isInteger, isNumber) also back the CLI's option parsers and the checks
// that throw another kind of error, so every "is this a count, a rate, a
// fraction" question has one answer.
import { invalidArgument } from "./errors.js";

/** Bounds of a number: inclusive unless `minOpen`/`maxOpen`. */
export interface NumberRange {
  min?: number;
  max?: number;
  minOpen?: boolean;
  maxOpen?: boolean;
}

/** A safe integer (a JavaScript number, no fraction, below 2^53) in [min, max]. */
export function isInteger(value: unknown, min = -Infinity, max = Infinity): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max;
}

/** A finite number within `range`. */
export function isNumber(value: unknown, range: NumberRange = {}): value is number {
  const { min = -Infinity, max = Infinity, minOpen = false, maxOpen = false } = range;
  return (
    typeof value === "number" &&
    Number.isFinite(value) &&
    (minOpen ? value > min : value >= min) &&
    (maxOpen ? value < max : value <= max)
  );
}

/** `a number >= 0`, `a number in [0, 1)`, `a number in (0, 1]`: what `range` asks for. */
export function numberText(range: NumberRange): string {
  const { min = -Infinity, max = Infinity, minOpen = false, maxOpen = false } = range;
  if (max === Infinity) return `a number ${minOpen ? ">" : ">="} ${min}`;
  return `a number in ${minOpen ? "(" : "["}${min}, ${max}${maxOpen ? ")" : "]"}`;
}

/** An integer >= `min`; `expected` words the requirement in the error. */
export function integer(name: string, value: unknown, min: number, expected = `an integer >= ${min}`): number {
  if (!isInteger(value, min)) throw invalidArgument(name, expected, value);
  return value;
}

/** An integer in [min, max]; `expected` words the requirement in the error. */
export function integerIn(name: string, value: unknown, min: number, max: number, expected: string): number {
  if (!isInteger(value, min, max)) throw invalidArgument(name, expected, value);
  return value;
}

/** How a maxLength option is worded in its errors: a limit of tokens per sequence. */
export const MAX_LENGTH_EXPECTED = "a positive integer (the model's max_position_embeddings)";

/** How a TCP port option is worded in its errors (0: any free port). */
export const PORT_EXPECTED = "a port number from 0 to 65535";

/** An integer >= 1. */
export function positiveInteger(name: string, value: unknown, expected = "a positive integer"): number {
  return integer(name, value, 1, expected);
}

/** An integer >= 0. */
export function nonNegativeInteger(name: string, value: unknown, expected = "a non-negative integer"): number {
  return integer(name, value, 0, expected);
}

/** A finite number within `range` (default: any finite number). */
export function number(name: string, value: unknown, range: NumberRange = {}, expected = numberText(range)): number {
  if (!isNumber(value, range)) throw invalidArgument(name, expected, value);
  return value;
}

/** true or false. */
export function boolean(name: string, value: unknown, expected = "a boolean"): boolean {
  if (typeof value !== "boolean") throw invalidArgument(name, expected, value);
  return value;
}

/** `"a", "b" or "c"` (`lastSeparator` ", ": `"a", "b", "c"`): the choices as the errors list them. */
export function choicesText(choices: readonly string[], lastSeparator = " or "): string {
  const quoted = choices.map((choice) => JSON.stringify(choice));
  if (quoted.length < 2) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")}${lastSeparator}${quoted[quoted.length - 1]}`;
}

/** One of `choices`. */
export function oneOf<T extends string>(
  name: string,
  value: unknown,
  choices: readonly T[],
  expected = choicesText(choices),
): T {
  if (!(choices as readonly unknown[]).includes(value)) throw invalidArgument(name, expected, value);
  return value as T;
}

/** A non-null object (an options bag). */
export function object<T extends object>(name: string, value: unknown, expected = "an object"): T {
  if (typeof value !== "object" || value === null) throw invalidArgument(name, expected, value);
  return value as T;
}

/** A string. */
export function string(name: string, value: unknown, expected = "a string"): string {
  if (typeof value !== "string") throw invalidArgument(name, expected, value);
  return value;
}

/** A string of at least one character. */
export function nonEmptyString(name: string, value: unknown, expected = "a non-empty string"): string {
  if (typeof value !== "string" || value.length === 0) throw invalidArgument(name, expected, value);
  return value;
}

/** Text files: one path or a non-empty array of them, as an array (the one given, not a copy). */
export function textFiles(name: string, value: unknown): string[] {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((f) => typeof f !== "string" || f === ""))
    throw invalidArgument(name, "a text file path or a non-empty array of them", value);
  return list as string[];
}

/** `check(value)` unless the value is undefined (an option left out). */
export function optional<T>(value: unknown, check: (value: unknown) => T): T | undefined {
  return value === undefined ? undefined : check(value);
}
