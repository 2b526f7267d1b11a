// `ltgbert evaluate` and `ltgbert predict` for a tagger (a directory whose
// config.json names LtgBertForTokenClassification): word accuracy (and BIO
// entity figures) on tagged sentences, and one JSON object of words and
// labels per sentence.
import { writeFile } from "node:fs/promises";
import { printJson, usageError, type CliIo } from "./common.js";
import { conlluOptionsOf, taggingMetricsLine } from "./finetune-tagging.js";
import { runtime } from "./runtime.js";
import { readLines } from "./texts.js";

export async function evaluateTagger(
  dir: string,
  file: string,
  options: {
    batchSize: number;
    maxLength?: number;
    tokenizer?: string;
    device: string;
    json?: boolean;
    tagColumn?: string;
  },
  io: CliIo,
): Promise<void> {
  const { loadTagger, readTaggingFile, Trainer } = await runtime();
  const dataset = await readTaggingFile(file, conlluOptionsOf(options));
  const model = await loadTagger(dir, options);
  try {
    // The Trainer's evaluation checks the tags against the model's labels; it writes nothing.
    const trainer = new Trainer(model, {
      trainData: dataset,
      outputDir: dir,
      evalBatchSize: options.batchSize,
      maxLength: options.maxLength,
      progress: false,
    });
    const m = await trainer.evaluate(dataset);
    if (options.json) {
      printJson(io, {
        model: dir,
        data: file,
        task: "token-classification",
        examples: m.samples,
        words: m.words,
        metrics: m,
      });
      return;
    }
    io.stdout.write(`${dir} on ${file} (${m.samples} sentences, ${m.words} tagged words)\n`);
    io.stdout.write(`  ${taggingMetricsLine(m)}\n`);
  } finally {
    model.dispose();
  }
}

/** The sentences to tag: a CoNLL-U or word/tag file's words, else one text per line, split into words. */
async function sentencesOf(
  args: string[],
  file: string | undefined,
  options: { tagColumn?: string },
  io: CliIo,
): Promise<(string | string[])[]> {
  const { readTaggingFile } = await runtime();
  const out: (string | string[])[] = [...args];
  if (file !== undefined) {
    if (/\.(conllu?|tsv)$/i.test(file)) {
      const dataset = await readTaggingFile(file, conlluOptionsOf(options));
      out.push(...dataset.sentences.map((s) => s.words));
    } else {
      const { readFile } = await import("node:fs/promises");
      const text = await readFile(file, "utf8");
      out.push(...text.split(/\r?\n/).filter((l) => l.trim() !== ""));
    }
  }
  if (args.length === 0 && file === undefined) {
    if (io.stdin.isTTY) io.stderr.write("reading sentences from stdin, one per line (end with Ctrl-D)\n");
    out.push(...(await readLines(io.stdin)));
  }
  return out;
}

export async function predictTagger(
  dir: string,
  args: string[],
  options: {
    file?: string;
    output?: string;
    batchSize: number;
    tokenizer?: string;
    device: string;
    json?: boolean;
    tagColumn?: string;
  },
  io: CliIo,
): Promise<void> {
  const { loadTagger } = await runtime();
  const sentences = await sentencesOf(args, options.file, options, io);
  if (sentences.length === 0)
    throw usageError("no sentences: give them as arguments, in a file with --file, or one per line on stdin");
  const model = await loadTagger(dir, options);
  try {
    const tagged = await model.tag(sentences, { batchSize: options.batchSize });
    const lines = tagged.map((t) => JSON.stringify({ words: t.words, labels: t.labels }));
    if (options.output !== undefined) {
      await writeFile(options.output, lines.length === 0 ? "" : `${lines.join("\n")}\n`);
      if (!options.json) io.stderr.write(`wrote ${tagged.length} sentences to ${options.output}\n`);
    }
    if (options.json) {
      printJson(io, {
        model: dir,
        task: "token-classification",
        ...(options.output === undefined ? {} : { output: options.output }),
        predictions: tagged,
      });
      return;
    }
    if (options.output !== undefined) return;
    // One line per sentence: word/LABEL pairs (the probability with each, tab-separated, is in --json).
    for (const t of tagged) io.stdout.write(`${t.words.map((w, i) => `${w}/${t.labels[i]}`).join(" ")}\n`);
  } finally {
    model.dispose();
  }
}
