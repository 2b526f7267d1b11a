// The task readers (CoNLL-U, word<TAB>tag, SQuAD, multiple choice, STS-B
// regression): small slices of the real datasets (test/fixtures/tasks, whose
// README gives the facts checked here), hand-written files, the whole shared
// files where ../shared/data is there, and the error each kind of bad row
// gives. Pure TypeScript: nothing here loads the native addon.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LtgBertError } from "../lib/errors.js";
import {
  readConllu,
  readMultipleChoice,
  readRegressionTsv,
  readSquad,
  readWordTagFile,
  type TaggingDataset,
} from "../lib/tasks/readers.js";
import { FIXTURES } from "./helpers/fixtures.js";

const TASKS = path.join(FIXTURES, "tasks");
const SHARED = path.resolve(FIXTURES, "..", "..", "..", "shared", "data");
const shared = (...parts: string[]): string => path.join(SHARED, ...parts);
const work = mkdtempSync(path.join(os.tmpdir(), "ltgbert-task-readers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let fileCount = 0;
/** Writes `text` to a new file in the work folder and returns its path. */
function write(name: string, text: string): string {
  const file = path.join(work, `${fileCount++}-${name}`);
  writeFileSync(file, text);
  return file;
}

/** Asserts an LTGBERT_BAD_DATA error whose message starts with `file:line:` and matches every pattern. */
async function expectBadData(promise: Promise<unknown>, file: string, line: number, ...patterns: RegExp[]) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LtgBertError);
  expect((error as LtgBertError).code).toBe("LTGBERT_BAD_DATA");
  const message = (error as LtgBertError).message;
  expect(message.startsWith(`${file}:${line}: `), message).toBe(true);
  for (const pattern of patterns) expect(message).toMatch(pattern);
}

const tab = (...fields: string[]): string => fields.join("\t");
/** A CoNLL-U word line: ID, FORM, UPOS, XPOS, MISC given; the other columns "_". */
const word = (id: string, form: string, upos: string, xpos = "_", misc = "_"): string =>
  tab(id, form, "_", upos, xpos, "_", "_", "_", "_", misc);

describe("readConllu", () => {
  it("reads the EWT slice: syntactic words, range lines and empty nodes left out", async () => {
    const ds = await readConllu(path.join(TASKS, "ewt-dev-slice.conllu"));
    expect(ds.sentences).toHaveLength(9);
    // The source README's first sentence.
    expect(ds.sentences[0].words).toEqual(["From", "the", "AP", "comes", "this", "story", ":"]);
    expect(ds.sentences[0].tags).toEqual(["ADP", "DET", "PROPN", "VERB", "DET", "NOUN", "PUNCT"]);
    expect(ds.sentences[0].line).toBe(1);
    expect(ds.sentences[0].text).toBe("From the AP comes this story :");
    expect(ds.sentences[0].sentId).toBe("weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713-0001");
    // Word lines with integer IDs, counted with grep: 151 + 33.
    expect(ds.sentences.slice(0, 8).reduce((n, s) => n + s.words.length, 0)).toBe(151);
    expect(ds.sentences[8].words).toHaveLength(33);
    expect(ds.numTagged).toBe(184);
    // "29-30 didn't" gives the words "did" and "n't", not the surface token.
    const s7 = ds.sentences[6];
    expect(s7.words.slice(28, 30)).toEqual(["did", "n't"]);
    expect(s7.tags.slice(28, 30)).toEqual(["AUX", "PART"]);
    expect(s7.words).not.toContain("didn't");
    expect(ds.sentences[7].words.slice(0, 2)).toEqual(["Today", "'s"]);
    // The empty node "8.1 write" is not a word: word 9 ("about") follows word 8 ("like").
    expect(ds.sentences[8].words.slice(7, 9)).toEqual(["like", "about"]);
    expect(ds.sentences[8].line).toBe(183); // its "# sent_id" line, source line 1592
  });

  it("agrees with the .upos.tsv file derived from the same sentences", async () => {
    const conllu = await readConllu(path.join(TASKS, "ewt-dev-slice.conllu"));
    const tsv = await readWordTagFile(path.join(TASKS, "ewt-dev-slice.upos.tsv"));
    expect(tsv.sentences).toHaveLength(8);
    expect(tsv.numTagged).toBe(151);
    tsv.sentences.forEach((s, i) => {
      expect(s.words).toEqual(conllu.sentences[i].words);
      expect(s.tags).toEqual(conllu.sentences[i].tags);
    });
  });

  it("reads XPOS, a column by number, and BIO tags from a MISC attribute", async () => {
    const file = write(
      "ner.conllu",
      [
        "# sent_id = s1",
        "# text = Anna's Oslo trip",
        word("1-2", "Anna's", "_", "_", "_"),
        word("1", "Anna", "PROPN", "NNP", "NER=B-PER|SpaceAfter=No"),
        word("2", "'s", "PART", "POS", "_"),
        word("3", "Oslo", "PROPN", "NNP", "NER=B-LOC"),
        word("3.1", "go", "VERB", "VB", "_"),
        word("4", "trip", "NOUN", "_", "NER=O"),
        "",
        "",
        word("1", "Hi", "INTJ", "UH", "_"),
      ].join("\n"), // no blank line at the end
    );
    const upos = await readConllu(file);
    expect(upos.sentences.map((s) => s.words)).toEqual([["Anna", "'s", "Oslo", "trip"], ["Hi"]]);
    expect(upos.sentences.map((s) => s.line)).toEqual([1, 11]);
    expect(upos.tagNames).toEqual(["INTJ", "NOUN", "PART", "PROPN"]);
    const xpos = await readConllu(file, { column: "xpos" });
    expect(xpos.sentences[0].tags).toEqual(["NNP", "POS", "NNP", null]); // "_" is no tag
    expect(xpos.numTagged).toBe(4);
    expect((await readConllu(file, { column: 5 })).sentences).toEqual(xpos.sentences);
    const ner = await readConllu(file, { miscKey: "NER", miscDefault: "O" });
    expect(ner.sentences.map((s) => s.tags)).toEqual([["B-PER", "O", "B-LOC", "O"], ["O"]]);
    await expectBadData(readConllu(file, { miscKey: "NER" }), file, 5, /no "NER" attribute/, /"_"/);
  });

  it("reads CRLF line endings and a byte-order mark", async () => {
    const file = write("crlf.conllu", `\uFEFF# c\r\n${word("1", "a", "DET")}\r\n${word("2", "b", "NOUN")}\r\n\r\n`);
    const ds = await readConllu(file);
    expect(ds.sentences).toEqual([{ words: ["a", "b"], tags: ["DET", "NOUN"], line: 1 }]);
  });

  it("bad rows: wrong field count, IDs out of order, comments only", async () => {
    const nine = write(
      "nine.conllu",
      [word("1", "a", "DET"), tab("2", "b", "_", "NOUN", "_", "_", "_", "_", "_")].join("\n"),
    );
    await expectBadData(readConllu(nine), nine, 2, /expected 10 tab-separated fields, got 9/, /"2\\tb\\t_\\tNOUN/);
    const spaces = write("spaces.conllu", "1 a _ DET _ _ _ _ _ _\n");
    await expectBadData(readConllu(spaces), spaces, 1, /got 1/);
    const skipped = write("skip.conllu", [word("1", "a", "DET"), word("3", "c", "NOUN")].join("\n"));
    await expectBadData(readConllu(skipped), skipped, 2, /word ID "3": expected 2/);
    const noBlank = write("noblank.conllu", ["# s1", word("1", "a", "DET"), "# s2", word("1", "b", "DET")].join("\n"));
    await expectBadData(readConllu(noBlank), noBlank, 4, /word ID "1": expected 2/);
    const range = write("range.conllu", [word("1", "a", "DET"), word("3-4", "cd", "_")].join("\n"));
    await expectBadData(readConllu(range), range, 2, /multiword token ID "3-4": expected 2-N/);
    const empty = write("emptynode.conllu", [word("1", "a", "DET"), word("5.1", "x", "X")].join("\n"));
    await expectBadData(readConllu(empty), empty, 2, /empty node ID "5.1"/);
    const comments = write("comments.conllu", `${word("1", "a", "DET")}\n\n# only a comment\n\n`);
    await expectBadData(readConllu(comments), comments, 3, /no word lines/);
    const noForm = write("noform.conllu", word("1", "", "DET"));
    await expectBadData(readConllu(noForm), noForm, 1, /empty FORM/);
  });

  it("bad calls", async () => {
    const file = path.join(TASKS, "ewt-dev-slice.conllu");
    await expect(readConllu(file, { column: 11 })).rejects.toMatchObject({ code: "LTGBERT_INVALID_ARGUMENT" });
    await expect(readConllu(file, { column: "POS" as "UPOS" })).rejects.toThrow(/options.column: expected "ID", /);
    await expect(readConllu(file, { miscKey: "NER", column: "UPOS" })).rejects.toMatchObject({
      code: "LTGBERT_INVALID_ARGUMENT",
    });
    await expect(readConllu(path.join(work, "missing.conllu"))).rejects.toMatchObject({
      code: "LTGBERT_FILE_NOT_FOUND",
    });
  });

  function tagCounts(ds: TaggingDataset): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of ds.sentences) for (const t of s.tags) if (t !== null) counts[t] = (counts[t] ?? 0) + 1;
    return counts;
  }

  it.skipIf(!existsSync(shared("ud-ewt")))(
    "reads the whole EWT dev split: 2,001 sentences, 25,147 words, 17 tags, as .conllu and .upos.tsv (needs ../shared/data)",
    async () => {
      const conllu = await readConllu(shared("ud-ewt", "en_ewt-ud-dev.conllu"));
      const tsv = await readWordTagFile(shared("ud-ewt", "en_ewt-ud-dev.upos.tsv"));
      for (const ds of [conllu, tsv]) {
        expect(ds.sentences).toHaveLength(2001);
        expect(ds.numTagged).toBe(25147);
        expect(ds.tagNames).toEqual(
          "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split(" "),
        );
        expect(Math.max(...ds.sentences.map((s) => s.words.length))).toBe(75);
      }
      expect(tsv.sentences.map((s) => s.words)).toEqual(conllu.sentences.map((s) => s.words));
      expect(tagCounts(tsv)).toEqual(tagCounts(conllu));
    },
  );
});

describe("readWordTagFile", () => {
  it("reads sentences split by blank lines", async () => {
    const file = write("wt.tsv", "The\tDET\ncat\tNOUN\n\n\nRuns\tVERB\n");
    const ds = await readWordTagFile(file);
    expect(ds.sentences).toEqual([
      { words: ["The", "cat"], tags: ["DET", "NOUN"], line: 1 },
      { words: ["Runs"], tags: ["VERB"], line: 5 },
    ]);
    expect(ds.tagNames).toEqual(["DET", "NOUN", "VERB"]);
  });

  it("bad rows: wrong field count, empty tag, no sentences", async () => {
    const three = write("three.tsv", "a\tDET\nb\tNOUN\tx\n");
    await expectBadData(
      readWordTagFile(three),
      three,
      2,
      /expected 2 tab-separated fields \(word, tag\), got 3/,
      /"b\\tNOUN\\tx"/,
    );
    const one = write("one.tsv", "a\tDET\n\nb NOUN\n");
    await expectBadData(readWordTagFile(one), one, 3, /got 1: "b NOUN"/);
    const noTag = write("notag.tsv", "a\t\n");
    await expectBadData(readWordTagFile(noTag), noTag, 1, /empty tag/);
    const blank = write("blank.tsv", "\n\n");
    await expect(readWordTagFile(blank)).rejects.toThrow(/no sentences/);
  });
});

describe("readSquad", () => {
  it("reads the XQuAD slice: 30 questions, answers at their offsets", async () => {
    const ds = await readSquad(path.join(TASKS, "xquad-en-slice.json"));
    expect(ds.version).toBe("1.1");
    expect(ds.examples).toHaveLength(30);
    const first = ds.examples[0];
    expect(first).toMatchObject({
      id: "56beb4343aeaaa14008c925b",
      title: "Super_Bowl_50",
      question: "How many points did the Panthers defense surrender?",
      answers: [{ text: "308", answerStart: 34 }],
      isImpossible: false,
      line: 8, // the "{" of the question object
    });
    expect(first.context.startsWith("The Panthers defense gave up just 308 points")).toBe(true);
    expect(first.context).toContain("6\u00bd sacks"); // "\u00bd" in the JSON
    const q = ds.examples.find((e) => e.id === "56beb7953aeaaa14008c92ab")!;
    expect(q.question).toBe("Who lost to the Broncos in the divisional round?");
    expect(q.answers).toEqual([{ text: "Pittsburgh Steelers", answerStart: 25 }]);
    expect(new Set(ds.examples.map((e) => e.context)).size).toBe(2);
  });

  it("converts answer_start from code points to UTF-16 indices", async () => {
    // "😀" (U+1F600) is one code point and two UTF-16 units: Python's
    // answer_start for "smile" is 2, JavaScript's index is 3.
    const context = "😀 smile, 𝐱 then x";
    const file = write(
      "astral.json",
      JSON.stringify({
        data: [
          {
            title: "T",
            paragraphs: [
              {
                context,
                qas: [
                  {
                    id: "a",
                    question: "q?",
                    answers: [
                      { text: "smile", answer_start: 2 },
                      { text: "x", answer_start: 16 },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const ds = await readSquad(file);
    expect(ds.examples[0].answers).toEqual([
      { text: "smile", answerStart: 3 },
      { text: "x", answerStart: 18 },
    ]);
    for (const a of ds.examples[0].answers)
      expect(context.slice(a.answerStart, a.answerStart + a.text.length)).toBe(a.text);
  });

  it("reads SQuAD 2.0: is_impossible, plausible_answers ignored", async () => {
    const file = write(
      "v2.json",
      JSON.stringify({
        version: "v2.0",
        data: [
          {
            title: "Normans",
            paragraphs: [
              {
                context: "The Normans were in Normandy.",
                qas: [
                  {
                    id: "p",
                    question: "Where?",
                    answers: [{ text: "Normandy", answer_start: 20 }],
                    is_impossible: false,
                  },
                  {
                    id: "i",
                    question: "When?",
                    answers: [],
                    plausible_answers: [{ text: "The", answer_start: 99 }],
                    is_impossible: true,
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const ds = await readSquad(file);
    expect(ds.version).toBe("v2.0");
    expect(ds.examples.map((e) => [e.id, e.isImpossible, e.answers])).toEqual([
      ["p", false, [{ text: "Normandy", answerStart: 20 }]],
      ["i", true, []],
    ]);
  });

  /** A pretty-printed SQuAD file with one question; `qa` replaces its fields. */
  function squadFile(name: string, qa: Record<string, unknown>, context = "Oslo is in Norway."): string {
    const question = { id: "q1", question: "Where?", answers: [{ text: "Norway", answer_start: 11 }], ...qa };
    return write(name, JSON.stringify({ data: [{ title: "t", paragraphs: [{ context, qas: [question] }] }] }, null, 2));
  }

  it("bad data: an answer not at its offset, named by id and line", async () => {
    const file = squadFile("mismatch.json", { answers: [{ text: "Norway", answer_start: 10 }] });
    // Line 13 is the answer object's "{" in JSON.stringify's 2-space layout.
    expect(readFileSync(file, "utf8").split("\n")[12].trim()).toBe("{");
    await expectBadData(
      readSquad(file),
      file,
      13,
      /question "q1", answer 0/,
      /"Norway"/,
      /answer_start 10/,
      /" Norwa"/,
    );
    // A code-point offset read as a UTF-16 index would be one off here.
    const astral = squadFile(
      "astral-bad.json",
      { answers: [{ text: "Norway", answer_start: 14 }] },
      "😀 Oslo is in Norway.",
    );
    await expectBadData(readSquad(astral), astral, 13, /answer_start 14/);
  });

  it("bad data: offsets out of range, duplicate ids, answers of an impossible question, no answers", async () => {
    const far = squadFile("far.json", { answers: [{ text: "Norway", answer_start: 40 }] });
    await expectBadData(readSquad(far), far, 13, /expected a character offset in \[0, 18\]/, /got 40/);
    const neg = squadFile("neg.json", { answers: [{ text: "Norway", answer_start: -1 }] });
    await expectBadData(readSquad(neg), neg, 13, /got -1/);
    const impossible = squadFile("impossible.json", { is_impossible: true });
    await expectBadData(readSquad(impossible), impossible, 9, /is_impossible is true but it has 1 answers/);
    const none = squadFile("none.json", { answers: [] });
    await expectBadData(readSquad(none), none, 9, /no answers/);
    const noQuestion = squadFile("noq.json", { question: undefined });
    await expectBadData(readSquad(noQuestion), noQuestion, 9, /no "question" field/);
    const twice = write(
      "twice.json",
      JSON.stringify(
        {
          data: [
            {
              paragraphs: [
                {
                  context: "ab",
                  qas: [
                    { id: "x", question: "?", answers: [{ text: "a", answer_start: 0 }] },
                    { id: "x", question: "?", answers: [{ text: "b", answer_start: 1 }] },
                  ],
                },
              ],
            },
          ],
        },
        null,
        1,
      ),
    );
    await expectBadData(readSquad(twice), twice, 18, /question "x": the id is used twice \(first on line 8\)/);
  });

  it("bad data: JSON syntax errors name their line", async () => {
    const file = write("syntax.json", '{\n  "data": [\n    {"paragraphs": [}]\n  ]\n}\n');
    await expectBadData(readSquad(file), file, 3, /not valid JSON/);
    const open = write("open.json", '{"data": [');
    await expectBadData(readSquad(open), open, 1, /the end of the file/);
    const badEscape = write("escape.json", '{"data": [],\n "x": "\\q"}');
    await expectBadData(readSquad(badEscape), badEscape, 2, /bad escape/);
  });

  it.skipIf(!existsSync(shared("qa")))(
    "reads XQuAD and SQuAD-shifts whole: the counts of their README (needs ../shared/data)",
    async () => {
      const xquad = await readSquad(shared("qa", "xquad.en.json"));
      expect(xquad.examples).toHaveLength(1190);
      expect(new Set(xquad.examples.map((e) => e.title)).size).toBe(48);
      expect(new Set(xquad.examples.map((e) => e.context)).size).toBe(240);
      expect(xquad.examples.every((e) => e.answers.length === 1)).toBe(true);
      const shifts = await readSquad(shared("qa", "squadshifts-new_wiki_v1.0.json"));
      expect(shifts.version).toBe("1.0");
      expect(shifts.examples).toHaveLength(7938);
      expect(shifts.examples.reduce((n, e) => n + e.answers.length, 0)).toBe(22794);
      const byCount: Record<number, number> = {};
      for (const e of shifts.examples) byCount[e.answers.length] = (byCount[e.answers.length] ?? 0) + 1;
      expect(byCount).toEqual({ 1: 89, 2: 989, 3: 6715, 4: 143, 5: 2 });
      expect(shifts.examples.every((e) => e.line === 1)).toBe(true); // one line, minified
    },
  );
});

describe("readMultipleChoice", () => {
  it("reads the ARC slice: letter and digit keys, 3 to 5 options", async () => {
    const ds = await readMultipleChoice(path.join(TASKS, "arc-easy-dev-slice.jsonl"));
    expect(ds.examples).toHaveLength(21);
    expect(ds.maxChoices).toBe(5);
    expect(ds.examples[0]).toEqual({
      id: "MCAS_2000_4_6",
      question: "Which technology was developed most recently?",
      choices: ["cellular telephone", "television", "refrigerator", "airplane"],
      choiceLabels: ["A", "B", "C", "D"],
      answerKey: "A",
      label: 0,
      line: 1,
    });
    expect(ds.examples[8]).toMatchObject({
      id: "NYSEDREGENTS_2014_8_10",
      choiceLabels: ["1", "2", "3", "4"],
      answerKey: "1",
      label: 0,
      line: 9,
    });
    expect(ds.examples[17]).toMatchObject({ id: "TIMSS_1995_8_J5", answerKey: "B", label: 1, line: 18 });
    expect(ds.examples[17].choices[1]).toBe("Ultraviolet");
    expect(ds.examples[17].choiceLabels).toEqual(["A", "B", "C", "D", "E"]);
    expect(ds.examples[20]).toMatchObject({ id: "WASL_2005_5_11", choiceLabels: ["A", "B", "C"], label: 1, line: 21 });
  });

  it("reads the CSV form, and agrees with the JSON lines it was written from", async () => {
    const arc = await readMultipleChoice(path.join(TASKS, "arc-easy-dev-slice.jsonl"));
    // Written here, by the test, from the JSONL lines themselves (not from the reader).
    const csvCell = (s: string): string => `"${s.replace(/"/g, '""')}"`;
    const lines = readFileSync(path.join(TASKS, "arc-easy-dev-slice.jsonl"), "utf8").trim().split("\n");
    const letters = lines.map((l) => JSON.parse(l)).filter((q) => q.question.choices[0].label === "A");
    const rows = letters.map((q) => {
      const cells = ["A", "B", "C", "D", "E"].map(
        (k) => q.question.choices.find((c: { label: string }) => c.label === k)?.text ?? "",
      );
      return [q.id, q.question.stem, ...cells, q.answerKey].map(csvCell).join(",");
    });
    const file = write("arc.csv", ["id,question,A,B,C,D,E,answerKey", ...rows].join("\r\n") + "\r\n");
    const ds = await readMultipleChoice(file);
    const expected = arc.examples.filter((e) => e.choiceLabels[0] === "A");
    expect(ds.examples.map(({ line: _, ...e }) => e)).toEqual(expected.map(({ line: _, ...e }) => e));
    expect(ds.examples.map((e) => e.line)).toEqual(expected.map((_, i) => i + 2));
  });

  it("CSV: quoted fields, digit keys, the line number as id when there is no id column", async () => {
    const file = write(
      "digits.csv",
      'question,1,2,3,4,answerKey\n"Which, of these?","one ""1""",two,"th\nree",,3\nNext?,a,b,c,d,4\n',
    );
    const ds = await readMultipleChoice(file);
    expect(ds.examples).toEqual([
      {
        id: "2",
        question: "Which, of these?",
        choices: ['one "1"', "two", "th\nree"],
        choiceLabels: ["1", "2", "3"],
        answerKey: "3",
        label: 2,
        line: 2,
      },
      {
        id: "4",
        question: "Next?",
        choices: ["a", "b", "c", "d"],
        choiceLabels: ["1", "2", "3", "4"],
        answerKey: "4",
        label: 3,
        line: 4,
      },
    ]);
  });

  it("bad rows: unknown answer key, too few choices, mixed or repeated keys", async () => {
    const q = (id: string, labels: string[], answerKey: string): string =>
      JSON.stringify({
        id,
        question: { stem: "S?", choices: labels.map((label) => ({ text: `t${label}`, label })) },
        answerKey,
      });
    const unknown = write(
      "unknown.jsonl",
      [q("ok", ["A", "B", "C"], "A"), q("bad", ["A", "B", "C", "D"], "E")].join("\n"),
    );
    await expectBadData(
      readMultipleChoice(unknown),
      unknown,
      2,
      /question "bad": unknown answer key "E"/,
      /"A", "B", "C", "D"/,
    );
    const few = write("few.jsonl", `\n${q("two", ["A", "B"], "A")}\n`);
    await expectBadData(readMultipleChoice(few), few, 2, /question "two": 2 choices, expected 3 to 5/);
    expect((await readMultipleChoice(few, { minChoices: 2 })).examples[0].label).toBe(0);
    const six = write("six.jsonl", q("six", ["A", "B", "C", "D", "E", "F"], "A"));
    await expectBadData(readMultipleChoice(six), six, 1, /6 choices/);
    const mixed = write("mixed.jsonl", q("mixed", ["A", "2", "C"], "A"));
    await expectBadData(readMultipleChoice(mixed), mixed, 1, /choice key "2"/, /not mixed/);
    const repeated = write("repeated.jsonl", q("rep", ["A", "B", "B"], "A"));
    await expectBadData(readMultipleChoice(repeated), repeated, 1, /the choice key "B" appears twice/);
    const twice = write("twice.jsonl", [q("x", ["A", "B", "C"], "A"), q("x", ["A", "B", "C"], "B")].join("\n"));
    await expectBadData(readMultipleChoice(twice), twice, 2, /"x" is used twice \(first on line 1\)/);
    const notJson = write("notjson.jsonl", `${q("x", ["A", "B", "C"], "A")}\n{"id": `);
    await expectBadData(readMultipleChoice(notJson), notJson, 2, /not valid JSON/);
    const csvFew = write("few.csv", "id,question,A,B,C,D,answerKey\nq1,Why?,x,y,,,A\n");
    await expectBadData(readMultipleChoice(csvFew), csvFew, 2, /question "q1": 2 choices, expected 3 to 5/);
    const csvKey = write("key.csv", "id,question,A,B,C,answerKey\nq1,Why?,x,y,z,D\n");
    await expectBadData(readMultipleChoice(csvKey), csvKey, 2, /unknown answer key "D"/);
    const csvGap = write("gap.csv", "id,question,A,B,C,D,answerKey\nq1,Why?,x,,z,w,A\n");
    await expectBadData(readMultipleChoice(csvGap), csvGap, 2, /option "C" follows the empty option "B"/);
    const csvCols = write("cols.csv", "id,question,A,B,C,answer\nq1,Why?,x,y,z,A\n");
    await expectBadData(readMultipleChoice(csvCols), csvCols, 1, /no "answerKey" column/);
    const csvFields = write("fields.csv", "id,question,A,B,C,answerKey\nq1,Why?,x,y,z\n");
    await expectBadData(readMultipleChoice(csvFields), csvFields, 2, /malformed CSV/);
  });

  it.skipIf(!existsSync(shared("mc")))(
    "reads ARC-Easy dev whole: 570 questions, the answer keys and option counts of its README (needs ../shared/data)",
    async () => {
      const ds = await readMultipleChoice(shared("mc", "ARC-Easy-Dev.jsonl"));
      expect(ds.examples).toHaveLength(570);
      const keys: Record<string, number> = {};
      const sizes: Record<number, number> = {};
      for (const e of ds.examples) {
        keys[e.answerKey] = (keys[e.answerKey] ?? 0) + 1;
        sizes[e.choices.length] = (sizes[e.choices.length] ?? 0) + 1;
      }
      expect(keys).toEqual({ A: 152, B: 145, C: 137, D: 115, 1: 6, 2: 7, 3: 5, 4: 3 });
      expect(sizes).toEqual({ 3: 1, 4: 567, 5: 2 });
      expect(ds.examples.filter((e) => e.choiceLabels[0] === "1")).toHaveLength(21);
    },
  );
});

describe("readRegressionTsv", () => {
  it("reads the STS-B slice: sentence pairs and float scores", async () => {
    const ds = await readRegressionTsv(path.join(TASKS, "stsb-dev-slice.tsv"));
    expect(ds.problemType).toBe("regression");
    expect(ds.numLabels).toBe(1);
    expect(ds.columns).toEqual({ sentence1: "sentence1", sentence2: "sentence2", score: "score" });
    expect(ds.examples).toHaveLength(25);
    expect(ds.examples[0]).toEqual({
      sentence1: "A cat standing on tree branches.",
      sentence2: "A black and white cat is high up on tree branches.",
      score: 3.6,
      line: 2,
    });
    expect(ds.examples[1].score).toBe(0);
    expect(ds.examples[17].sentence2).toBe('a woman is standing by a pillar where "u2" is written.');
    expect(ds.examples[17].score).toBe(4.2);
    expect(ds.examples[20]).toMatchObject({ score: 0.2, line: 22 }); // "0.200000"
  });

  it("splits on tabs only: unbalanced quotes are text", async () => {
    const file = write(
      "quotes.tsv",
      ["sentence1\tsentence2\tscore", '"I had mainly been" is fine.\tIt is.\t2.5', 'He said "no.\tShe "did\t4'].join(
        "\n",
      ),
    );
    const ds = await readRegressionTsv(file);
    expect(ds.examples.map((e) => [e.sentence1, e.sentence2, e.score])).toEqual([
      ['"I had mainly been" is fine.', "It is.", 2.5],
      ['He said "no.', 'She "did', 4],
    ]);
  });

  it("other column names and ranges", async () => {
    const file = write("label.tsv", "a\tb\tlabel\n x \ty\t-1\n");
    const ds = await readRegressionTsv(file, {
      sentence1Column: "a",
      sentence2Column: "b",
      scoreRange: { min: -1, max: 1 },
    });
    expect(ds.examples).toEqual([{ sentence1: "x", sentence2: "y", score: -1, line: 2 }]);
    const untrimmed = await readRegressionTsv(file, {
      sentence1Column: "a",
      sentence2Column: "b",
      scoreRange: { min: -1, max: 1 },
      trim: false,
    });
    expect(untrimmed.examples[0].sentence1).toBe(" x ");
  });

  it("bad rows: a non-numeric score, out of range, wrong field count, missing column", async () => {
    const head = "index\tsentence1\tsentence2\tscore";
    const nan = write("nan.tsv", [head, "0\ta\tb\t1.5", "1\ta\tb\tfive"].join("\n"));
    await expectBadData(readRegressionTsv(nan), nan, 3, /"score": expected a number, got "five"/);
    const empty = write("emptyscore.tsv", [head, "0\ta\tb\t"].join("\n"));
    await expectBadData(readRegressionTsv(empty), empty, 2, /expected a number, got ""/);
    const high = write("high.tsv", [head, "0\ta\tb\t5.2"].join("\n"));
    await expectBadData(readRegressionTsv(high), high, 2, /"5.2" is outside \[0, 5\]/);
    const fields = write("fields.tsv", [head, "0\ta\tb\t1", "1\ta b\t2"].join("\n"));
    await expectBadData(
      readRegressionTsv(fields),
      fields,
      3,
      /expected 4 tab-separated fields \(as the header\), got 3/,
    );
    const missing = write("missing.tsv", "index\ttext\tscore\n0\ta\t1\n");
    await expectBadData(
      readRegressionTsv(missing),
      missing,
      1,
      /no sentence1 column "sentence1"/,
      /"index", "text", "score"/,
    );
    const noText = write("notext.tsv", [head, "0\t \tb\t1"].join("\n"));
    await expectBadData(readRegressionTsv(noText), noText, 2, /empty "sentence1"/);
  });

  it.skipIf(!existsSync(shared("stsb")))(
    "reads STS-B dev and train whole: row counts, quotes and mean score of the README (needs ../shared/data)",
    async () => {
      const dev = await readRegressionTsv(shared("stsb", "dev.tsv"));
      expect(dev.examples).toHaveLength(1500);
      const mean = dev.examples.reduce((s, e) => s + e.score, 0) / dev.examples.length;
      expect(Math.abs(mean - 2.36)).toBeLessThan(0.005);
      // Line 700 of dev.tsv (`sed -n 700p`): the second sentence opens a quote it does not close.
      const row = dev.examples.find((e) => e.line === 700)!;
      expect(row.sentence1).toBe("The assertion is false, at least as you've restated it here.");
      expect(row.sentence2).toBe('"I had mainly been" is fine, in the context you\'re using it.');
      expect(row.score).toBe(0.6);
      const quoted = (ds: typeof dev): number =>
        ds.examples.filter((e) => e.sentence1.startsWith('"') || e.sentence2.startsWith('"')).length;
      expect(quoted(dev)).toBe(42);
      const train = await readRegressionTsv(shared("stsb", "train.tsv"));
      expect(train.examples).toHaveLength(5749);
      expect(quoted(train)).toBe(124);
    },
  );
});
