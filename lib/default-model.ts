// Where the masked LM shipped in the package lives.
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The package root: lib/ and dist/ both sit one level below it. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The masked LM shipped in the package (`<package root>/models/default`): what the CLI calls `default`. */
export const DEFAULT_MODEL_DIR = path.join(PACKAGE_ROOT, "models", "default");
