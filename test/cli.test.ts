// The `ltgbert` command line, run as a user runs it: a child process of the
// built dist/cli.js (built here from lib/ first).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LtgBertForSequenceClassification } from "../lib/index.js";
import { TINY } from "./helpers/fixtures.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist", "cli.js");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-cli-"));
const expected = JSON.parse(readFileSync(path.join(TINY, "expected.json"), "utf8"));

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 120_000 });
}

beforeAll(() => {
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    { cwd: root },
  );
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("ltgbert transfer", () => {
  it("turns the seed's masked LM into a 3-label classifier and reports what moved", async () => {
    const out = path.join(work, "seed-cls");
    const result = run("transfer", path.join(TINY, "seed-mlm"), out, "--labels", "neg,neu,pos", "--json");
    expect(result.status, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary.numLabels).toBe(3);
    expect(summary.report.missing).toEqual(["classifier.bias", "classifier.weight"]);
    expect([...summary.report.unexpected].sort()).toEqual([
      "classifier.nonlinearity.1.bias",
      "classifier.nonlinearity.1.weight",
      "classifier.nonlinearity.5.bias",
      "classifier.nonlinearity.5.weight",
    ]);
    // Everything of the encoder moved: the reference's keys outside the MLM head.
    const encoderKeys = expected.seed_mlm_state_dict_keys.filter((k: string) => !k.startsWith("classifier."));
    expect([...summary.report.loaded].sort()).toEqual([...encoderKeys].sort());

    const cls = await LtgBertForSequenceClassification.fromPretrained(out);
    expect(cls.numLabels).toBe(3);
    expect(cls.config.id2label).toEqual({ 0: "neg", 1: "neu", 2: "pos" });
    expect(cls.config.classifier_head).toBe("linear");
    expect(cls.numParameters()).toBe(expected.parameter_counts.seed_cls_3_labels);
    cls.dispose();
  });

  it("prints a readable report without --json", () => {
    const result = run(
      "transfer",
      path.join(TINY, "hub-mlm"),
      path.join(work, "hub-cls"),
      "--num-labels",
      "2",
      "--head",
      "mlp",
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("mlp head, 2 labels");
    expect(result.stdout).toMatch(/new\s+4 \(initialised\): head\.nonlinearity\.1\.bias/);
  });

  it("fails with one line naming what is wrong, and a non-zero exit code", () => {
    const missing = run("transfer", path.join(work, "no-such-model"), path.join(work, "x"), "--num-labels", "2");
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain("no-such-model");
    expect(missing.stderr).toContain("LTGBERT_FILE_NOT_FOUND");

    const badOption = run("transfer", "a", "b", "--num-labels", "zero");
    expect(badOption.status).not.toBe(0);
    expect(badOption.stderr.trim().split("\n")).toHaveLength(1);
    expect(badOption.stderr).toContain("--num-labels");

    const mismatch = run(
      "transfer",
      path.join(TINY, "seed-mlm"),
      path.join(work, "y"),
      "--num-labels",
      "2",
      "--labels",
      "a,b,c",
    );
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toContain("--labels: expected 2 names");
  });

  it("documents itself", () => {
    const help = run("transfer", "--help");
    expect(help.status).toBe(0);
    for (const flag of ["--num-labels", "--head", "--labels", "--seed", "--format", "--json"])
      expect(help.stdout).toContain(flag);
  });
});
