// Readers of the task datasets that are not sequence classification: tagged
// sentences (CoNLL-U, word<TAB>tag), extractive question answering (SQuAD
// JSON v1.1 and v2.0), multiple choice (ARC's JSON lines, a CSV form) and
// sentence-pair regression (STS-B's TSV). Each returns plain records with
// the 1-based line each starts on; anything wrong in a file is an
// LTGBERT_BAD_DATA error whose message starts with `file:line:` and quotes
// the value at fault, as lib/data.ts words it.
import { describe, invalidArgument } from "../errors.js";
import { choicesText, integerIn, nonEmptyString, object, oneOf, optional, boolean, number } from "../validate.js";
import { badData, checkFile, csvRecords, NUMBER, readJsonWithLines, readLines } from "./io.js";

const quote = (value: string): string => JSON.stringify(value);

// ---------------------------------------------------------------------------
// Tagged sentences

/** One sentence: its words and one tag per word. */
export interface TaggedSentence {
  /** The words, in order. For CoNLL-U, the syntactic words (see readConllu). */
  words: string[];
  /** One tag per word; null where the file leaves the word untagged (CoNLL-U's `_`). */
  tags: (string | null)[];
  /** 1-based line of the sentence's first line (a comment line, in CoNLL-U, where it has one). */
  line: number;
  /** CoNLL-U's `# sent_id = …` comment, where there is one. */
  sentId?: string;
  /** CoNLL-U's `# text = …` comment, where there is one. */
  text?: string;
}

/** What the tagging readers give. */
export interface TaggingDataset {
  readonly file: string;
  readonly sentences: TaggedSentence[];
  /** The distinct tags, sorted (JavaScript's default string order): label ids for a token classifier. */
  readonly tagNames: string[];
  /** The number of tagged words. */
  readonly numTagged: number;
}

/** The ten CoNLL-U columns, in order (https://universaldependencies.org/format.html). */
export const CONLLU_COLUMNS = [
  "ID",
  "FORM",
  "LEMMA",
  "UPOS",
  "XPOS",
  "FEATS",
  "HEAD",
  "DEPREL",
  "DEPS",
  "MISC",
] as const;
export type ConlluColumn = (typeof CONLLU_COLUMNS)[number];

export interface ReadConlluOptions {
  /**
   * The column whose values are the tags: a name of CONLLU_COLUMNS (any case)
   * or a 1-based column number, 1–10, as the UD guidelines number them
   * (4 = UPOS). Default "UPOS".
   */
  column?: ConlluColumn | Lowercase<ConlluColumn> | number;
  /**
   * Take the tag from one attribute of the MISC column (`Key=Value` pairs
   * joined by `|`), for example "NER" for `NER=B-PER`. Replaces `column`.
   */
  miscKey?: string;
  /**
   * The tag of a word whose MISC column lacks `miscKey` (for example "O");
   * without it, such a word is an error.
   */
  miscDefault?: string;
}

interface TagPicker {
  describe: string;
  pick(fields: string[], file: string, line: number): string | null;
}

function conlluPicker(options: ReadConlluOptions): TagPicker {
  const o = object<ReadConlluOptions>("options", options);
  if (o.miscKey !== undefined) {
    const key = nonEmptyString("options.miscKey", o.miscKey, "a MISC attribute name");
    if (o.column !== undefined) throw invalidArgument("options.column", "nothing when miscKey is given", o.column);
    const fallback = optional(o.miscDefault, (v) => nonEmptyString("options.miscDefault", v, "a tag"));
    return {
      describe: `MISC attribute ${quote(key)}`,
      pick(fields, file, line) {
        const misc = fields[9];
        if (misc !== "_") {
          for (const pair of misc.split("|")) {
            const eq = pair.indexOf("=");
            if (eq > 0 && pair.slice(0, eq) === key) {
              const value = pair.slice(eq + 1);
              if (value === "")
                throw badData(file, line, `empty value of ${quote(key)} in the MISC column ${describe(misc)}`);
              return value;
            }
          }
        }
        if (fallback !== undefined) return fallback;
        throw badData(
          file,
          line,
          `no ${quote(key)} attribute in the MISC column ${describe(misc)} (give miscDefault to tag such words)`,
        );
      },
    };
  }
  if (o.miscDefault !== undefined)
    throw invalidArgument("options.miscDefault", "nothing without miscKey", o.miscDefault);
  let index: number;
  if (typeof o.column === "number")
    index = integerIn("options.column", o.column, 1, 10, "a column number, 1 to 10") - 1;
  else {
    const names = CONLLU_COLUMNS.map((c) => c as string);
    const name = o.column === undefined ? "UPOS" : typeof o.column === "string" ? o.column.toUpperCase() : o.column;
    index = names.indexOf(oneOf("options.column", name, names, `${choicesText(names)} or a number 1 to 10`));
  }
  return {
    describe: `column ${index + 1} (${CONLLU_COLUMNS[index]})`,
    // CoNLL-U writes "_" for a value that is not given.
    pick: (fields) => (fields[index] === "_" ? null : fields[index]),
  };
}

function finishTagging(file: string, sentences: TaggedSentence[]): TaggingDataset {
  if (sentences.length === 0) throw badData(file, null, "no sentences");
  const names = new Set<string>();
  let numTagged = 0;
  for (const s of sentences) {
    for (const tag of s.tags) {
      if (tag !== null) {
        names.add(tag);
        numTagged++;
      }
    }
  }
  return { file, sentences, tagNames: [...names].sort(), numTagged };
}

/**
 * Reads a CoNLL-U file (https://universaldependencies.org/format.html) into
 * tagged sentences. Sentences end at a blank line; comment lines (`#`) are
 * skipped, except that `# sent_id = …` and `# text = …` are kept. Every
 * other line must have 10 tab-separated fields.
 *
 * The words are the syntactic words, the lines whose ID is an integer, and
 * those IDs must run 1, 2, 3, … in each sentence. A multiword-token line
 * (ID `3-4`, the surface token `didn't` over the words `did` and `n't`) and
 * an empty node (ID `8.1`, a word of the enhanced graph only) are checked
 * and skipped, as the UD tagging task and the `.upos.tsv` files leave them out.
 *
 * @example
 * const ewt = await readConllu("en_ewt-ud-dev.conllu"); // UPOS
 * ewt.sentences[0]; // { words: ["From", "the", …], tags: ["ADP", "DET", …], line: 1, sentId: "…", text: "…" }
 * await readConllu("ner.conllu", { miscKey: "NER", miscDefault: "O" }); // BIO tags from MISC
 */
export async function readConllu(file: string, options: ReadConlluOptions = {}): Promise<TaggingDataset> {
  nonEmptyString("file", file, "a file path");
  const picker = conlluPicker(options);
  await checkFile(file);
  const sentences: TaggedSentence[] = [];
  let current: TaggedSentence | null = null;
  let nextId = 1;
  const end = (): void => {
    if (current !== null && current.words.length === 0)
      throw badData(file, current.line, "a sentence with no word lines (only comments)");
    if (current !== null) sentences.push(current);
    current = null;
    nextId = 1;
  };
  for await (const { line, text } of readLines(file)) {
    if (text.trim() === "") {
      end();
      continue;
    }
    current ??= { words: [], tags: [], line };
    if (text.startsWith("#")) {
      const meta = /^#\s*(sent_id|text)\s*=\s?(.*)$/.exec(text);
      if (meta !== null && current.words.length === 0) {
        if (meta[1] === "sent_id") current.sentId = meta[2].trim();
        else current.text = meta[2];
      }
      continue;
    }
    const fields = text.split("\t");
    if (fields.length !== 10)
      throw badData(file, line, `expected 10 tab-separated fields, got ${fields.length}: ${describe(text)}`);
    const id = fields[0];
    const range = /^(\d+)-(\d+)$/.exec(id);
    if (range !== null) {
      // A multiword token spans words nextId…; its own word lines follow it.
      const [from, to] = [Number(range[1]), Number(range[2])];
      if (from !== nextId || to <= from)
        throw badData(file, line, `multiword token ID ${quote(id)}: expected ${nextId}-N with N > ${nextId}`);
      continue;
    }
    const empty = /^(\d+)\.([1-9]\d*)$/.exec(id);
    if (empty !== null) {
      // An empty node k.m comes after word k (0.m before the first word).
      if (Number(empty[1]) !== nextId - 1)
        throw badData(file, line, `empty node ID ${quote(id)}: expected ${nextId - 1}.N after word ${nextId - 1}`);
      continue;
    }
    if (!/^[1-9]\d*$/.test(id) || Number(id) !== nextId) {
      throw badData(
        file,
        line,
        `word ID ${quote(id)}: expected ${nextId} (IDs run 1, 2, 3, … in each sentence; a blank line ends one)`,
      );
    }
    if (fields[1] === "") throw badData(file, line, `empty FORM: ${describe(text)}`);
    const tag = picker.pick(fields, file, line);
    if (tag === "") throw badData(file, line, `empty ${picker.describe}: ${describe(text)}`);
    current.words.push(fields[1]);
    current.tags.push(tag);
    nextId++;
  }
  end();
  return finishTagging(file, sentences);
}

/**
 * Reads a file of `word<TAB>tag` lines, one word per line, with a blank line
 * after each sentence (as the `.upos.tsv` files and CoNLL-2003-style files
 * with two columns are written). No header, no comments, no quoting: every
 * non-blank line must have exactly two non-empty tab-separated fields.
 *
 * @example
 * const dev = await readWordTagFile("en_ewt-ud-dev.upos.tsv");
 * dev.sentences[0].words; // ["From", "the", "AP", …]
 */
export async function readWordTagFile(file: string): Promise<TaggingDataset> {
  nonEmptyString("file", file, "a file path");
  await checkFile(file);
  const sentences: TaggedSentence[] = [];
  let current: TaggedSentence | null = null;
  for await (const { line, text } of readLines(file)) {
    if (text.trim() === "") {
      if (current !== null) sentences.push(current);
      current = null;
      continue;
    }
    const fields = text.split("\t");
    if (fields.length !== 2)
      throw badData(file, line, `expected 2 tab-separated fields (word, tag), got ${fields.length}: ${describe(text)}`);
    const [word, tag] = fields;
    if (word === "" || tag === "")
      throw badData(file, line, `empty ${word === "" ? "word" : "tag"}: ${describe(text)}`);
    current ??= { words: [], tags: [], line };
    current.words.push(word);
    current.tags.push(tag);
  }
  if (current !== null) sentences.push(current);
  return finishTagging(file, sentences);
}

// ---------------------------------------------------------------------------
// SQuAD

export interface SquadAnswer {
  text: string;
  /**
   * Where the answer starts in `context`, as a JavaScript (UTF-16) string
   * index: `context.slice(answerStart, answerStart + text.length) === text`.
   * The file's `answer_start` counts code points (Python's string indices);
   * the reader converts, so the two differ where the context has characters
   * outside the Basic Multilingual Plane before the answer.
   */
  answerStart: number;
}

/** One question of a SQuAD file, with its paragraph. */
export interface SquadExample {
  id: string;
  /** The article's title ("" where it has none). */
  title: string;
  context: string;
  question: string;
  /** The gold answers, in file order (duplicates kept, as SQuAD's dev files repeat them). Empty when impossible. */
  answers: SquadAnswer[];
  /** SQuAD 2.0's `is_impossible` (false where the field is absent, as in v1.1). */
  isImpossible: boolean;
  /** 1-based line where the question's object starts. */
  line: number;
}

export interface SquadDataset {
  readonly file: string;
  /** The file's `version` ("1.1", "v2.0", …), or null where it has none. */
  readonly version: string | null;
  readonly examples: SquadExample[];
}

/** UTF-16 index of each code-point index of `text`, or null when the two are the same (no astral characters). */
function codePointToUtf16(text: string): Int32Array | null {
  if (!/[\uD800-\uDFFF]/.test(text)) return null;
  const map: number[] = [];
  let i = 0;
  for (const ch of text) {
    map.push(i);
    i += ch.length;
  }
  map.push(i); // one past the end
  return Int32Array.from(map);
}

/**
 * Reads a SQuAD JSON file, v1.1 or v2.0 (`{"data": [{"title", "paragraphs":
 * [{"context", "qas": [{"id", "question", "answers": [{"text",
 * "answer_start"}], "is_impossible"?}]}]}]}`), one example per question.
 *
 * Every answer is checked: its text must be the context's text at
 * `answer_start`. `answer_start` counts code points, as Python indexes
 * strings; JavaScript strings index UTF-16 units, so the offset is converted
 * (see SquadAnswer.answerStart). SQuAD 2.0's `plausible_answers` are
 * ignored; an impossible question must have no answers, and any other at
 * least one. Question ids must be unique in the file, since predictions are
 * matched to questions by id.
 *
 * @example
 * const dev = await readSquad("xquad.en.json");
 * dev.examples[0]; // { id, title: "Super_Bowl_50", context, question, answers: [{ text: "308", answerStart: 34 }], isImpossible: false, line }
 */
export async function readSquad(file: string): Promise<SquadDataset> {
  nonEmptyString("file", file, "a file path");
  const { value: root, lineOf } = await readJsonWithLines(file);
  const line = (node: unknown, fallback: number | null): number | null =>
    typeof node === "object" && node !== null ? (lineOf(node) ?? fallback) : fallback;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const field = (node: Record<string, unknown>, key: string, at: number | null, where: string): unknown => {
    if (!(key in node))
      throw badData(
        file,
        at,
        `${where}: no ${quote(key)} field; its fields: ${Object.keys(node).map(quote).join(", ")}`,
      );
    return node[key];
  };
  const list = (v: unknown, at: number | null, what: string): unknown[] => {
    if (!Array.isArray(v)) throw badData(file, at, `${what}: expected an array, got ${describe(v)}`);
    return v;
  };
  const text = (v: unknown, at: number | null, what: string): string => {
    if (typeof v !== "string") throw badData(file, at, `${what}: expected a string, got ${describe(v)}`);
    return v;
  };

  if (!isObject(root)) throw badData(file, 1, `expected a JSON object with a "data" array, got ${describe(root)}`);
  const version = root.version === undefined ? null : String(root.version);
  const examples: SquadExample[] = [];
  const seen = new Map<string, number | null>();
  const articles = list(field(root, "data", 1, "the top level"), line(root.data, 1), '"data"');
  articles.forEach((article, a) => {
    const aLine = line(article, 1);
    if (!isObject(article)) throw badData(file, aLine, `data[${a}]: expected an object, got ${describe(article)}`);
    const title = article.title === undefined ? "" : text(article.title, aLine, `data[${a}].title`);
    const paragraphs = list(field(article, "paragraphs", aLine, `data[${a}]`), aLine, `data[${a}].paragraphs`);
    paragraphs.forEach((paragraph, p) => {
      const where = `data[${a}].paragraphs[${p}]`;
      const pLine = line(paragraph, aLine);
      if (!isObject(paragraph)) throw badData(file, pLine, `${where}: expected an object, got ${describe(paragraph)}`);
      const context = text(field(paragraph, "context", pLine, where), pLine, `${where}.context`);
      const toUtf16 = codePointToUtf16(context);
      const numCodePoints = toUtf16 === null ? context.length : toUtf16.length - 1;
      const qas = list(field(paragraph, "qas", pLine, where), pLine, `${where}.qas`);
      for (const qa of qas) {
        const qLine = line(qa, pLine);
        if (!isObject(qa)) throw badData(file, qLine, `${where}.qas: expected question objects, got ${describe(qa)}`);
        const rawId = field(qa, "id", qLine, `a question of ${where}`);
        if (typeof rawId !== "string" && typeof rawId !== "number")
          throw badData(file, qLine, `question id: expected a string, got ${describe(rawId)}`);
        const id = String(rawId);
        const named = `question ${quote(id)}`;
        if (seen.has(id)) throw badData(file, qLine, `${named}: the id is used twice (first on line ${seen.get(id)})`);
        seen.set(id, qLine);
        const question = text(field(qa, "question", qLine, named), qLine, `${named}: "question"`);
        const impossible = qa.is_impossible ?? false;
        if (typeof impossible !== "boolean")
          throw badData(file, qLine, `${named}: "is_impossible": expected true or false, got ${describe(impossible)}`);
        const rawAnswers = list(field(qa, "answers", qLine, named), qLine, `${named}: "answers"`);
        if (impossible && rawAnswers.length > 0)
          throw badData(file, qLine, `${named}: is_impossible is true but it has ${rawAnswers.length} answers`);
        if (!impossible && rawAnswers.length === 0)
          throw badData(file, qLine, `${named}: no answers (and is_impossible is not true)`);
        const answers = rawAnswers.map((answer, k): SquadAnswer => {
          const at = line(answer, qLine);
          const what = `${named}, answer ${k}`;
          if (!isObject(answer)) throw badData(file, at, `${what}: expected an object, got ${describe(answer)}`);
          const answerText = text(field(answer, "text", at, what), at, `${what}: "text"`);
          const start = field(answer, "answer_start", at, what);
          if (typeof start !== "number" || !Number.isSafeInteger(start) || start < 0 || start > numCodePoints)
            throw badData(
              file,
              at,
              `${what}: "answer_start": expected a character offset in [0, ${numCodePoints}] (the context's length), got ${describe(start)}`,
            );
          // answer_start counts code points (Python); JavaScript indexes UTF-16 units.
          const answerStart = toUtf16 === null ? start : toUtf16[start];
          const found = context.slice(answerStart, answerStart + answerText.length);
          if (found !== answerText)
            throw badData(
              file,
              at,
              `${what}: the text ${describe(answerText)} is not the context's text at answer_start ${start}, which is ${describe(found)}`,
            );
          return { text: answerText, answerStart };
        });
        examples.push({
          id,
          title,
          context,
          question,
          answers,
          isImpossible: impossible,
          line: qLine ?? 1,
        });
      }
    });
  });
  if (examples.length === 0) throw badData(file, null, "no questions");
  return { file, version, examples };
}

// ---------------------------------------------------------------------------
// Multiple choice

/** One multiple-choice question. */
export interface MultipleChoiceExample {
  id: string;
  /** The question (ARC's `question.stem`). */
  question: string;
  /** The options' texts, in file order. */
  choices: string[];
  /** The options' keys as the file writes them ("A"…"E" or "1"…"5"), in the same order. */
  choiceLabels: string[];
  /** The answer key as the file writes it: one of choiceLabels. */
  answerKey: string;
  /** The index of the answer in `choices`: the class a multiple-choice head is trained on. */
  label: number;
  /** 1-based line where the question starts. */
  line: number;
}

export interface MultipleChoiceDataset {
  readonly file: string;
  readonly examples: MultipleChoiceExample[];
  /** The largest number of options of any question. */
  readonly maxChoices: number;
}

export interface ReadMultipleChoiceOptions {
  /** Default: from the extension (.jsonl, .ndjson, .json: JSON lines; .csv: CSV). */
  format?: "jsonl" | "csv";
  /** Fewest options a question may have (default 3, at least 2). */
  minChoices?: number;
  /** Most options a question may have (default 5, at most 5). */
  maxChoices?: number;
}

const LETTER_KEYS = ["A", "B", "C", "D", "E"];
const DIGIT_KEYS = ["1", "2", "3", "4", "5"];

/** Checks one question's keys and answer; returns the answer's index. */
function checkChoices(
  file: string,
  line: number,
  id: string,
  labels: string[],
  answerKey: string,
  min: number,
  max: number,
): number {
  const named = `question ${quote(id)}`;
  if (labels.length < min || labels.length > max)
    throw badData(
      file,
      line,
      `${named}: ${labels.length} choices, expected ${min === max ? min : `${min} to ${max}`} (keys ${labels.map(quote).join(", ") || "none"})`,
    );
  const keys = LETTER_KEYS.includes(labels[0]) ? LETTER_KEYS : DIGIT_KEYS;
  for (const label of labels) {
    if (!keys.includes(label))
      throw badData(
        file,
        line,
        `${named}: choice key ${describe(label)}: expected one of ${choicesText(LETTER_KEYS)} or one of ${choicesText(DIGIT_KEYS)}, not mixed`,
      );
  }
  const dup = labels.find((label, i) => labels.indexOf(label) !== i);
  if (dup !== undefined) throw badData(file, line, `${named}: the choice key ${quote(dup)} appears twice`);
  const index = labels.indexOf(answerKey);
  if (index < 0)
    throw badData(
      file,
      line,
      `${named}: unknown answer key ${describe(answerKey)}; its choice keys: ${labels.map(quote).join(", ")}`,
    );
  return index;
}

function checkMcOptions(options: ReadMultipleChoiceOptions): { min: number; max: number } {
  const o = object<ReadMultipleChoiceOptions>("options", options);
  if (o.format !== undefined) oneOf("options.format", o.format, ["jsonl", "csv"]);
  const max = integerIn("options.maxChoices", o.maxChoices ?? 5, 2, 5, "an integer from 2 to 5");
  const min = integerIn("options.minChoices", o.minChoices ?? Math.min(3, max), 2, max, `an integer from 2 to ${max}`);
  return { min, max };
}

/**
 * Reads multiple-choice questions, in one of two layouts.
 *
 * JSON lines, ARC's layout, one question per line:
 * `{"id": "…", "question": {"stem": "…", "choices": [{"text": "…", "label": "A"}, …]}, "answerKey": "A"}`.
 *
 * CSV (RFC 4180, a header line): a `question` column, one column per option
 * named by its key (`A`, `B`, `C`, `D`, `E`, or `1` to `5`, in that order),
 * an `answerKey` column, and optionally an `id` column (without it, the id
 * is the line number). An empty option cell means the question has fewer
 * options, so 3-, 4- and 5-option questions share a file; options must not
 * skip a key (A, B, D).
 *
 * Keys are A–E or 1–5 (not mixed), each once; the answer key must be one of
 * the question's keys; a question has minChoices to maxChoices options
 * (default 3 to 5). The keys are kept as written, and `label` is the answer's
 * position among the options.
 *
 * @example
 * const dev = await readMultipleChoice("ARC-Easy-Dev.jsonl");
 * dev.examples[0]; // { id: "MCAS_2000_4_6", question: "Which technology…", choices: [4 texts], choiceLabels: ["A", "B", "C", "D"], answerKey: "A", label: 0, line: 1 }
 */
export async function readMultipleChoice(
  file: string,
  options: ReadMultipleChoiceOptions = {},
): Promise<MultipleChoiceDataset> {
  nonEmptyString("file", file, "a file path");
  const { min, max } = checkMcOptions(options);
  const extension = /\.[^./\\]*$/.exec(file)?.[0].toLowerCase() ?? "";
  const format =
    options.format ?? ({ ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv" } as const)[extension];
  if (format === undefined)
    throw invalidArgument(
      "options.format",
      `"jsonl" or "csv" (the extension ${JSON.stringify(extension)} does not say)`,
      options.format,
    );
  await checkFile(file);
  const examples = format === "csv" ? await mcCsv(file, min, max) : await mcJsonl(file, min, max);
  if (examples.length === 0) throw badData(file, null, "no questions");
  return { file, examples, maxChoices: Math.max(...examples.map((e) => e.choices.length)) };
}

async function mcJsonl(file: string, min: number, max: number): Promise<MultipleChoiceExample[]> {
  const examples: MultipleChoiceExample[] = [];
  const seen = new Map<string, number>();
  for await (const { line, text } of readLines(file)) {
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw badData(file, line, `not valid JSON: ${(error as Error).message}: ${describe(text)}`, error);
    }
    const isObject = (v: unknown): v is Record<string, unknown> =>
      typeof v === "object" && v !== null && !Array.isArray(v);
    if (!isObject(value)) throw badData(file, line, `expected a JSON object per line, got ${describe(value)}`);
    const { id: rawId, question, answerKey } = value;
    if (typeof rawId !== "string" && typeof rawId !== "number")
      throw badData(file, line, `"id": expected a string, got ${describe(rawId)}`);
    const id = String(rawId);
    if (seen.has(id))
      throw badData(file, line, `question id ${quote(id)} is used twice (first on line ${seen.get(id)})`);
    seen.set(id, line);
    const named = `question ${quote(id)}`;
    if (!isObject(question))
      throw badData(file, line, `${named}: "question": expected an object {stem, choices}, got ${describe(question)}`);
    if (typeof question.stem !== "string" || question.stem.trim() === "")
      throw badData(
        file,
        line,
        `${named}: "question.stem": expected a non-empty string, got ${describe(question.stem)}`,
      );
    if (!Array.isArray(question.choices))
      throw badData(file, line, `${named}: "question.choices": expected an array, got ${describe(question.choices)}`);
    const choices: string[] = [];
    const labels: string[] = [];
    question.choices.forEach((choice: unknown, k: number) => {
      if (!isObject(choice) || typeof choice.text !== "string" || typeof choice.label !== "string")
        throw badData(
          file,
          line,
          `${named}: choice ${k}: expected {"text": string, "label": string}, got ${describe(choice)}`,
        );
      if (choice.text.trim() === "") throw badData(file, line, `${named}: choice ${quote(choice.label)} has no text`);
      choices.push(choice.text);
      labels.push(choice.label);
    });
    if (typeof answerKey !== "string")
      throw badData(file, line, `${named}: "answerKey": expected a string, got ${describe(answerKey)}`);
    const label = checkChoices(file, line, id, labels, answerKey, min, max);
    examples.push({ id, question: question.stem, choices, choiceLabels: labels, answerKey, label, line });
  }
  return examples;
}

async function mcCsv(file: string, min: number, max: number): Promise<MultipleChoiceExample[]> {
  const examples: MultipleChoiceExample[] = [];
  const seen = new Map<string, number>();
  let header: string[] | null = null;
  let keyColumns: { key: string; index: number }[] = [];
  let at = { id: -1, question: -1, answerKey: -1 };
  for await (const { line, record } of csvRecords(file)) {
    if (header === null) {
      header = record.map((c) => c.trim());
      const h = header;
      const index = (name: string): number => h.indexOf(name);
      at = { id: index("id"), question: index("question"), answerKey: index("answerKey") };
      const columns = h.map((c) => quote(c)).join(", ");
      for (const name of ["question", "answerKey"] as const) {
        if (at[name] < 0) throw badData(file, line, `no ${quote(name)} column in the header; its columns: ${columns}`);
      }
      const keys = LETTER_KEYS.includes(h.find((c) => LETTER_KEYS.includes(c)) ?? "") ? LETTER_KEYS : DIGIT_KEYS;
      keyColumns = keys.filter((k) => h.includes(k)).map((key) => ({ key, index: index(key) }));
      if (keyColumns.length === 0)
        throw badData(file, line, `no option columns ("A"… or "1"…) in the header; its columns: ${columns}`);
      for (const name of h) {
        if (h.indexOf(name) !== h.lastIndexOf(name))
          throw badData(file, line, `column ${quote(name)} appears more than once in the header`);
      }
      continue;
    }
    const id = at.id >= 0 ? record[at.id].trim() : String(line);
    if (id === "") throw badData(file, line, `empty "id"`);
    if (seen.has(id))
      throw badData(file, line, `question id ${quote(id)} is used twice (first on line ${seen.get(id)})`);
    seen.set(id, line);
    const question = record[at.question];
    if (question.trim() === "") throw badData(file, line, `question ${quote(id)}: empty "question"`);
    const choices: string[] = [];
    const labels: string[] = [];
    let gap: string | null = null;
    for (const { key, index } of keyColumns) {
      const value = record[index];
      if (value.trim() === "") {
        gap ??= key;
        continue;
      }
      if (gap !== null)
        throw badData(file, line, `question ${quote(id)}: option ${quote(key)} follows the empty option ${quote(gap)}`);
      choices.push(value);
      labels.push(key);
    }
    const answerKey = record[at.answerKey].trim();
    const label = checkChoices(file, line, id, labels, answerKey, min, max);
    examples.push({ id, question, choices, choiceLabels: labels, answerKey, label, line });
  }
  if (header === null) throw badData(file, null, "empty file (expected a header line, then rows)");
  return examples;
}

// ---------------------------------------------------------------------------
// Regression

/** One sentence pair with its score. */
export interface RegressionExample {
  sentence1: string;
  sentence2: string;
  score: number;
  /** 1-based line of the row. */
  line: number;
}

export interface RegressionDataset {
  readonly file: string;
  readonly examples: RegressionExample[];
  /** What config.json's `problem_type` says for a model trained on this data. */
  readonly problemType: "regression";
  /** One output: the score. */
  readonly numLabels: 1;
  /** The columns read. */
  readonly columns: { sentence1: string; sentence2: string; score: string | null };
}

export interface ReadRegressionOptions {
  /** Default "sentence1". */
  sentence1Column?: string;
  /** Default "sentence2". */
  sentence2Column?: string;
  /**
   * Default "score" (GLUE's STS-B header), or else "label". null: the file
   * has no scores (GLUE's test files), and every example's score is NaN.
   */
  scoreColumn?: string | null;
  /** Scores outside [min, max] are errors. Default { min: 0, max: 5 }, STS-B's scale. */
  scoreRange?: { min: number; max: number };
  /** Take whitespace off both ends of each sentence (default true). */
  trim?: boolean;
}

/**
 * Reads sentence pairs with a real-valued score from a TSV file with a
 * header line, as GLUE writes STS-B (`index genre filename year old_index
 * source1 source2 sentence1 sentence2 score`). Lines are split on tabs only,
 * with no quote handling: STS-B's sentences hold unbalanced `"`, which CSV
 * quoting would read as fields running over lines. Every row must have as
 * many fields as the header, and a score that is a number in `scoreRange`.
 *
 * @example
 * const dev = await readRegressionTsv("stsb/dev.tsv");
 * dev.examples[0]; // { sentence1: "A man with a hard hat is dancing.", sentence2: "A man wearing a hard hat is dancing.", score: 5, line: 2 }
 */
export async function readRegressionTsv(file: string, options: ReadRegressionOptions = {}): Promise<RegressionDataset> {
  nonEmptyString("file", file, "a file path");
  const o = object<ReadRegressionOptions>("options", options);
  for (const key of ["sentence1Column", "sentence2Column"] as const)
    if (o[key] !== undefined) nonEmptyString(`options.${key}`, o[key], "a column name");
  if (o.scoreColumn !== undefined && o.scoreColumn !== null)
    nonEmptyString("options.scoreColumn", o.scoreColumn, "a column name, or null for a file without scores");
  const scored = o.scoreColumn !== null;
  const range =
    o.scoreRange === undefined
      ? { min: 0, max: 5 }
      : object<{ min: number; max: number }>("options.scoreRange", o.scoreRange);
  number("options.scoreRange.min", range.min);
  number("options.scoreRange.max", range.max, { min: range.min });
  const trim = o.trim === undefined ? true : boolean("options.trim", o.trim);
  await checkFile(file);

  const examples: RegressionExample[] = [];
  let header: string[] | null = null;
  let columns: RegressionDataset["columns"] = { sentence1: "", sentence2: "", score: "" };
  let at = { sentence1: -1, sentence2: -1, score: -1 };
  for await (const { line, text } of readLines(file)) {
    if (text === "") continue;
    const fields = text.split("\t");
    if (header === null) {
      header = fields;
      const h = header;
      columns = {
        sentence1: o.sentence1Column ?? "sentence1",
        sentence2: o.sentence2Column ?? "sentence2",
        score: !scored ? null : (o.scoreColumn ?? (h.includes("score") || !h.includes("label") ? "score" : "label")),
      };
      for (const [name, column] of Object.entries(columns)) {
        if (column === null) continue;
        const i = h.indexOf(column);
        if (i < 0)
          throw badData(
            file,
            line,
            `no ${name} column ${quote(column)} in the header; its columns: ${h.map(quote).join(", ")}`,
          );
        if (i !== h.lastIndexOf(column))
          throw badData(file, line, `column ${quote(column)} appears more than once in the header`);
        at[name as keyof typeof at] = i;
      }
      continue;
    }
    if (fields.length !== header.length)
      throw badData(
        file,
        line,
        `expected ${header.length} tab-separated fields (as the header), got ${fields.length}: ${describe(text)}`,
      );
    const sentence = (key: "sentence1" | "sentence2"): string => {
      const raw = fields[at[key]];
      if (raw.trim() === "") throw badData(file, line, `empty ${quote(columns[key])}: ${describe(raw)}`);
      return trim ? raw.trim() : raw;
    };
    if (!scored) {
      examples.push({ sentence1: sentence("sentence1"), sentence2: sentence("sentence2"), score: NaN, line });
      continue;
    }
    const scoreName = quote(columns.score ?? "");
    const rawScore = fields[at.score].trim();
    const score = Number(rawScore);
    if (!NUMBER.test(rawScore) || !Number.isFinite(score))
      throw badData(file, line, `${scoreName}: expected a number, got ${describe(fields[at.score])}`);
    if (score < range.min || score > range.max)
      throw badData(
        file,
        line,
        `${scoreName}: ${describe(fields[at.score])} is outside [${range.min}, ${range.max}] (scoreRange)`,
      );
    examples.push({ sentence1: sentence("sentence1"), sentence2: sentence("sentence2"), score, line });
  }
  if (header === null)
    throw badData(file, null, "empty file (expected a header line with the column names, then rows)");
  if (examples.length === 0) throw badData(file, null, "no examples");
  return { file, examples, problemType: "regression", numLabels: 1, columns };
}
