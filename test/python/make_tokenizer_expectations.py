"""Writes the token ids that Hugging Face's Python `tokenizers` gives for a
few texts, so the Node tests compare against the reference library and not
against themselves.

Usage: python3 make_tokenizer_expectations.py TOKENIZERS_DIR OUT_JSON

TOKENIZERS_DIR holds `ltg-bert-babylm/tokenizer.json` and
`ltg-bert-babylm-10m/tokenizer.json`. For each tokenizer and each case the
output holds the ids from `Tokenizer.encode` (add_special_tokens=True, as
the file's own post-processor defines it), the tokens, each token's
offsets, word id and sequence id, and, for the truncation cases, the ids
with `enable_truncation(max_length, strategy="longest_first")`. Decoding is
recorded with
skip_special_tokens=True. Needs only the `tokenizers` package.
"""

import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer

SINGLES = [
    "Hello world, it's 2024!",
    "The quick brown fox jumps over the lazy dog.",
    "it 's a charming and often affecting journey . ",
    "Naïve café owners—really?",
    "supercalifragilisticexpialidocious",
    "I love 🍕 and 3.14159",
    "a [MASK] in the middle",
    "",
]

PAIRS = [
    ["A man is playing a guitar.", "A person plays music."],
    ["short", "a much longer second sentence that goes on and on"],
    ["", "only the second text"],
]

# (first, second or None, max_length)
TRUNCATED = [
    ["one two three four five six seven eight nine ten", None, 6],
    ["one two three four five six seven eight nine ten", "eleven twelve", 9],
    ["one two three four five six seven eight nine ten", "alpha beta gamma delta epsilon zeta eta theta", 11],
    ["alpha beta gamma delta epsilon zeta eta theta", "one two three four five six seven eight nine ten", 12],
    ["tiny", "one two three four five six seven eight nine ten", 8],
]


def case(tok, first, second):
    enc = tok.encode(first, second) if second is not None else tok.encode(first)
    return {
        "text": first,
        "pair": second,
        "ids": enc.ids,
        "tokens": enc.tokens,
        "type_ids": enc.type_ids,
        # Where each token came from, as Python gives it: offsets in code
        # points of the text of the token's sequence, None for added tokens.
        "offsets": [list(o) for o in enc.offsets],
        "word_ids": enc.word_ids,
        "sequence_ids": enc.sequence_ids,
        "decoded": tok.decode(enc.ids, skip_special_tokens=True),
    }


def main():
    src, out_file = sys.argv[1], sys.argv[2]
    out = {
        "generator": "test/python/make_tokenizer_expectations.py",
        "python_tokenizers_version": tokenizers.__version__,
        "tokenizers": {},
    }
    for name in ["ltg-bert-babylm", "ltg-bert-babylm-10m"]:
        tok = Tokenizer.from_file(os.path.join(src, name, "tokenizer.json"))
        entry = {
            "vocab_size": tok.get_vocab_size(with_added_tokens=True),
            "special": {t: tok.token_to_id(t) for t in ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "[PAR]", "[TAB]"]},
            "singles": [case(tok, s, None) for s in SINGLES],
            "pairs": [case(tok, a, b) for a, b in PAIRS],
            "raw": [tok.encode(s, add_special_tokens=False).ids for s in SINGLES],
        }
        truncated = []
        for first, second, max_length in TRUNCATED:
            tok.enable_truncation(max_length, strategy="longest_first")
            item = case(tok, first, second)
            item["max_length"] = max_length
            truncated.append(item)
            tok.no_truncation()
        entry["truncated"] = truncated
        out["tokenizers"][name] = entry
    with open(out_file, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
