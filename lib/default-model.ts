// Where the masked LM shipped in the package lives.
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The package root: lib/ and dist/ both sit one level below it. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The masked LM shipped in the package (`<package root>/models/default`): what the CLI calls `default`. */
export const DEFAULT_MODEL_DIR = path.join(PACKAGE_ROOT, "models", "default");

/**
 * For the message of a directory that was not found: the CLI's word for the
 * shipped model is not a path in the API, so say where the model is.
 */
export function defaultModelHint(dir: string): string {
  return dir === "default" ? ` (the model shipped with the package is DEFAULT_MODEL_DIR, ${DEFAULT_MODEL_DIR})` : "";
}
