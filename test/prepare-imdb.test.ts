// scripts/prepare-imdb.mjs on a small tree laid out like the published
// aclImdb folder: the conversions, the order, de-duplication across groups
// and the held-out split, each checked against what PROVENANCE.md of the
// corpus states (the real run's sha256 sums are in the script and the model
// card; the archive itself is not in the repository).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script, without types
import { convertReview, duplicateKey, prepareImdb } from "../scripts/prepare-imdb.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-imdb-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Writes `reviews` (path under aclImdb/ -> raw bytes or text) into a new aclImdb folder. */
function makeTree(name: string, reviews: Record<string, string | Buffer>): string {
  const dir = path.join(work, name, "aclImdb");
  for (const folder of ["train/pos", "train/neg", "test/pos", "test/neg", "train/unsup"]) {
    mkdirSync(path.join(dir, folder), { recursive: true });
  }
  writeFileSync(path.join(dir, "README"), "Large Movie Review Dataset v1.0\n");
  writeFileSync(path.join(dir, "train", "urls_pos.txt"), "http://example.invalid/\n");
  for (const [file, content] of Object.entries(reviews)) writeFileSync(path.join(dir, file), content);
  return dir;
}

describe("one review's conversion", () => {
  it("maps C1 controls through Windows-1252 and deletes those it lacks", () => {
    // U+0096 is the en dash, U+0085 the ellipsis, U+0091/U+0092 quotes; U+008D has no character.
    const raw = Buffer.from("A film\u0096 short\u0085 and \u0091odd\u0092\u008d.", "utf8");
    expect(convertReview(raw)).toBe("A film\u2013 short\u2026 and \u2018odd\u2019.");
  });

  it("deletes other control characters but keeps tabs", () => {
    expect(convertReview(Buffer.from("a\u0008b\u0010c\u0018d\te\u007f", "utf8"))).toBe("abcd\te");
  });

  it("turns each run of <br /> tags, with the space around it, into one line break", () => {
    const raw = Buffer.from("First.  <br /><br />Second.<BR/><br>  <br  />Third.<br /><br />", "utf8");
    expect(convertReview(raw)).toBe("First.\nSecond.\nThird.");
  });

  it("strips lines and drops empty ones; leaves other markup alone", () => {
    expect(convertReview(Buffer.from("  <i>One</i> &amp; two \n\n   \n three  ", "utf8"))).toBe(
      "<i>One</i> &amp; two\nthree",
    );
  });

  it("refuses bytes that are not UTF-8", () => {
    expect(() => convertReview(Buffer.from([0x41, 0xff, 0x42]))).toThrow();
  });

  it("calls two reviews one when they agree in letters and digits, whatever the case", () => {
    expect(duplicateKey("Great film! 10/10")).toBe(duplicateKey("great FILM... 1010"));
    expect(duplicateKey("Great film! 10/10")).not.toBe(duplicateKey("Great film! 9/10"));
  });
});

describe("the whole tree", () => {
  // 60 distinct unlabelled reviews (enough for one held-out document at
  // i % 50 == 49), 8 labelled ones, and duplicates within and across groups.
  const reviews: Record<string, string> = {
    "train/pos/0_9.txt": "Loved it.<br /><br />Would watch again.",
    "train/pos/1_8.txt": "A fine film about a dog.",
    "train/neg/2_1.txt": "Dull and long.",
    "train/neg/3_2.txt": "The worst acting\u0097ever.",
    "test/pos/4_10.txt": "Brilliant score.",
    "test/pos/5_7.txt": "a FINE film, about a dog!", // duplicate of train/pos/1_8 (letters and digits)
    "test/neg/6_3.txt": "Boring plot.",
    "test/neg/7_4.txt": "Too loud.",
  };
  for (let i = 0; i < 60; ++i) reviews[`train/unsup/${100 + i}_0.txt`] = `Unlabelled review number ${i}.`;
  reviews["train/unsup/200_0.txt"] = "Dull, and long!"; // repeats a labelled review: dropped
  reviews["train/unsup/201_0.txt"] = "Unlabelled review number 7"; // repeats an unlabelled one
  const ordered = (group: string[]) => group.sort((a, b) => (sha256(`aclImdb/${a}`) < sha256(`aclImdb/${b}`) ? -1 : 1));

  const dir = makeTree("small", reviews);
  const { files, manifest, counts } = prepareImdb(dir) as {
    files: Record<string, string>;
    manifest: string;
    counts: { labelled: number; unlabelled: number };
  };

  it("keeps the first of each duplicate, the labelled group first", () => {
    expect(counts).toEqual({ labelled: 7, unlabelled: 60 });
    const all = Object.values(files).join("\n\n");
    expect(all).not.toContain("Dull, and long!");
    expect(all.match(/Unlabelled review number 7\b/g)).toHaveLength(1);
    const labelled = ordered(Object.keys(reviews).filter((f) => !f.includes("unsup")));
    const fineFirst = labelled.indexOf("train/pos/1_8.txt") < labelled.indexOf("test/pos/5_7.txt");
    expect(all).toContain(fineFirst ? "A fine film about a dog." : "a FINE film, about a dog!");
    expect(all).not.toContain(fineFirst ? "a FINE film, about a dog!" : "A fine film about a dog.");
  });

  it("orders each group by the sha256 of its paths and holds out document 49 of 50", () => {
    // 200_0 repeats a labelled review; of 107_0 and 201_0 (the same text) the later one goes.
    const later = ordered(["train/unsup/107_0.txt", "train/unsup/201_0.txt"])[1];
    const kept = ordered(Object.keys(reviews).filter((f) => f.includes("unsup"))).filter(
      (f) => f !== "train/unsup/200_0.txt" && f !== later,
    );
    expect(kept).toHaveLength(60);
    const heldOut = kept[49];
    const train = kept.filter((_, i) => i !== 49);
    expect(files["imdb-unsup.train.txt"]).toBe(train.map((f) => reviews[f]).join("\n\n") + "\n");
    expect(files["imdb-reviews.valid.txt"]).toBe(reviews[heldOut] + "\n"); // 7 labelled: none held out
  });

  it("writes documents one empty line apart, with the labels only in the manifest", () => {
    const text = files["imdb-reviews.train.txt"];
    expect(text.endsWith("\n") && !text.endsWith("\n\n")).toBe(true);
    expect(text).toContain("Loved it.\nWould watch again.");
    expect(text).toContain("The worst acting\u2014ever.");
    expect(text.split("\n\n")).toHaveLength(7);
    expect(text).not.toMatch(/pos|neg|_\d+\.txt/);
    const rows = manifest.trimEnd().split("\n");
    expect(rows).toHaveLength(1 + 7 + 60); // the header, then one row a document
    const merged = rows.find((r) => r.includes("train/neg/2_1.txt"))!;
    expect(merged).toMatch(
      /^imdb-reviews\.train\.txt\t\d+\ttrain\/neg\/2_1\.txt:[0-9a-f]{40}:[0-9a-f]{64};train\/unsup\/200_0\.txt:/,
    );
    // The git blob id of a file is sha1("blob <size>\0" + bytes), as `git hash-object` gives it.
    const blob = createHash("sha1").update(`blob ${Buffer.byteLength(reviews["train/neg/2_1.txt"])}\0`);
    expect(merged).toContain(`:${blob.update(reviews["train/neg/2_1.txt"]).digest("hex")}:`);
  });

  it("runs as a command: the files, the manifest, and whether they match the published sums", () => {
    const out = path.join(work, "out");
    const printed = execFileSync(process.execPath, [path.join(root, "scripts", "prepare-imdb.mjs"), dir, out], {
      encoding: "utf8",
    });
    expect(printed).toMatch(/7 labelled and 60 unlabelled documents/);
    expect(printed).toMatch(/differ from what the published archive gives/);
    for (const name of Object.keys(files)) expect(readFileSync(path.join(out, name), "utf8")).toBe(files[name]);
    expect(gunzipSync(readFileSync(path.join(out, "imdb.sources.tsv.gz"))).toString("utf8")).toBe(manifest);
  });

  it("names the folder it cannot read", () => {
    expect(() => prepareImdb(path.join(work, "nowhere"))).toThrow(/nowhere\/train\/pos: cannot list it/);
  });
});
