#!/usr/bin/env node
// Turns the Large Movie Review Dataset v1.0 (Maas et al. 2011), as its
// authors publish it (aclImdb_v1.tar.gz, unpacked), into the pretraining text
// of the default model: imdb-reviews.train.txt, imdb-unsup.train.txt,
// imdb-reviews.valid.txt and the manifest imdb.sources.tsv.gz.
//
//   node scripts/prepare-imdb.mjs path/to/aclImdb out-dir
//
// The steps (models/default/README.md says why the model uses this text):
//   1. The 100,000 reviews {train,test}/{pos,neg}/<id>_<rating>.txt and
//      train/unsup/<id>_0.txt, in two groups, labelled and unlabelled, each
//      ordered by the sha256 of its path ("aclImdb/train/pos/0_9.txt"): a
//      fixed order that interleaves labels and splits.
//   2. Each review: strict UTF-8; the C1 controls U+0080-U+009F (Windows-1252
//      punctuation mis-decoded as Latin-1) become the Windows-1252 character
//      of the same byte, or go where that byte has none; other controls but
//      tab go; every run of <br /> tags with the space around it becomes one
//      line break; lines are stripped and empty ones dropped.
//   3. A review equal to an earlier one once lower-cased and reduced to a-z
//      and 0-9 is dropped (its source joins the kept one's in the manifest);
//      the labelled group comes first.
//   4. Within each group, document i (0-based, after step 3) is held out
//      when i % 50 == 49.
//   5. Documents joined by one empty line, with a final line break; the
//      manifest maps each document to its source files (path, git blob id,
//      sha256).
// Labels and ratings are only in the manifest's paths, never in the text.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const OUTPUT_FILES = ["imdb-reviews.train.txt", "imdb-unsup.train.txt", "imdb-reviews.valid.txt"];

// What scripts/prepare-imdb.mjs gives for the published archive (sha256 of
// aclImdb_v1.tar.gz: c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe).
export const EXPECTED_SHA256 = {
  "imdb-reviews.train.txt": "2671869685a066ad12efac14b155938e0ba3ce64d43ff6f32c0356a78fdbe3dc",
  "imdb-unsup.train.txt": "78412f5922abec59f812c0d6aaf5a5c4dbfbff6d57e417b0c2dffcaa522c09c4",
  "imdb-reviews.valid.txt": "372ae2232dd754ad35bded13e21ab82a00a4190fb033212f3769745c8daf5d88",
};

const FOLDERS = ["train/pos", "train/neg", "test/pos", "test/neg", "train/unsup"];
const REVIEW_NAME = /^\d+_\d+\.txt$/;
const HELD_OUT_EVERY = 50;

// Windows-1252 at bytes 0x80-0x9F; "" where the code page has no character.
const CP1252_C1 = [
  "\u20ac", "", "\u201a", "\u0192", "\u201e", "\u2026", "\u2020", "\u2021",
  "\u02c6", "\u2030", "\u0160", "\u2039", "\u0152", "", "\u017d", "",
  "", "\u2018", "\u2019", "\u201c", "\u201d", "\u2022", "\u2013", "\u2014",
  "\u02dc", "\u2122", "\u0161", "\u203a", "\u0153", "", "\u017e", "\u0178",
]; // prettier-ignore

// White space as Unicode defines it, without U+FEFF (JavaScript's \s has
// it, Unicode's White_Space does not). The C0/C1 members are gone by the
// time it is used.
const SPACE = "[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const BREAKS = new RegExp(`(?:${SPACE}*<br${SPACE}*/?>${SPACE}*)+`, "gi");
const EDGE_SPACE = new RegExp(`^${SPACE}+|${SPACE}+$`, "g");
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Step 2: one review's bytes to its text (throws on invalid UTF-8). */
export function convertReview(bytes) {
  return utf8
    .decode(bytes)
    .replace(/[\u0080-\u009f]/g, (c) => CP1252_C1[c.charCodeAt(0) - 0x80])
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "")
    .replace(BREAKS, "\n")
    .split("\n")
    .map((line) => line.replace(EDGE_SPACE, ""))
    .filter((line) => line !== "")
    .join("\n");
}

/** Step 3's key: two reviews with the same key are one. */
export function duplicateKey(text) {
  return text.toLowerCase().replace(/[^a-z0-9]/g, "");
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");
const gitBlobId = (bytes) => createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");

/** Step 1: the review files under `root` (the aclImdb folder), by group, in order. */
function listReviews(root) {
  const groups = { labelled: [], unlabelled: [] };
  for (const folder of FOLDERS) {
    let names;
    try {
      names = readdirSync(path.join(root, folder));
    } catch (error) {
      throw new Error(`${path.join(root, folder)}: cannot list it (${error.code}): is ${root} the aclImdb folder?`);
    }
    for (const name of names) {
      if (!REVIEW_NAME.test(name)) continue;
      const source = `aclImdb/${folder}/${name}`;
      groups[folder === "train/unsup" ? "unlabelled" : "labelled"].push({ source, order: sha256(source) });
    }
  }
  for (const list of Object.values(groups)) list.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
  return groups;
}

/**
 * Steps 1-5 on the aclImdb folder `root`: returns each output file's text
 * and the manifest's text (uncompressed).
 */
export function prepareImdb(root) {
  const groups = listReviews(root);
  const seen = new Map(); // duplicate key -> the kept document
  const kept = { labelled: [], unlabelled: [] };
  for (const group of ["labelled", "unlabelled"]) {
    for (const { source } of groups[group]) {
      const file = path.join(root, source.slice("aclImdb/".length));
      const bytes = readFileSync(file);
      let text;
      try {
        text = convertReview(bytes);
      } catch (error) {
        throw new Error(`${file}: not valid UTF-8 (${error.message})`);
      }
      const entry = `${source.slice("aclImdb/".length)}:${gitBlobId(bytes)}:${sha256(bytes)}`;
      const key = duplicateKey(text);
      const earlier = seen.get(key);
      if (earlier) {
        earlier.sources.push(entry);
        continue;
      }
      const document = { text, sources: [entry] };
      seen.set(key, document);
      kept[group].push(document);
    }
  }
  const documents = { "imdb-reviews.train.txt": [], "imdb-unsup.train.txt": [], "imdb-reviews.valid.txt": [] };
  for (const [group, train] of [
    ["labelled", "imdb-reviews.train.txt"],
    ["unlabelled", "imdb-unsup.train.txt"],
  ]) {
    kept[group].forEach((document, i) => {
      documents[i % HELD_OUT_EVERY === HELD_OUT_EVERY - 1 ? "imdb-reviews.valid.txt" : train].push(document);
    });
  }
  const files = {};
  const rows = ["file\tdoc\tsources (path under aclImdb/:git blob:sha256; several when duplicates were merged)"];
  for (const name of OUTPUT_FILES) {
    files[name] = documents[name].map((d) => d.text).join("\n\n") + "\n";
    documents[name].forEach((d, i) => rows.push(`${name}\t${i + 1}\t${d.sources.join(";")}`));
  }
  return {
    files,
    manifest: rows.join("\n") + "\n",
    counts: { labelled: kept.labelled.length, unlabelled: kept.unlabelled.length },
  };
}

function main(argv) {
  const [root, out] = argv;
  if (!root || !out || argv.includes("--help")) {
    process.stdout.write("usage: node scripts/prepare-imdb.mjs path/to/aclImdb out-dir\n");
    return argv.includes("--help") ? 0 : 2;
  }
  const { files, manifest, counts } = prepareImdb(root);
  mkdirSync(out, { recursive: true });
  let matched = true;
  for (const [name, text] of Object.entries(files)) {
    const bytes = Buffer.from(text, "utf8");
    writeFileSync(path.join(out, name), bytes);
    const sum = sha256(bytes);
    const same = sum === EXPECTED_SHA256[name];
    matched &&= same;
    process.stdout.write(`${name}: ${bytes.length} bytes, sha256 ${sum}${same ? " (as published)" : ""}\n`);
  }
  writeFileSync(path.join(out, "imdb.sources.tsv.gz"), gzipSync(manifest, { level: 9 }));
  process.stdout.write(
    `${counts.labelled} labelled and ${counts.unlabelled} unlabelled documents after de-duplication\n` +
      (matched
        ? "every file matches the published sums\n"
        : "the files differ from what the published archive gives: is this aclImdb_v1 as published?\n"),
  );
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
