"""The Python side of bench/serve.mjs: an HTTP server from the standard library
(http.server's ThreadingHTTPServer, a thread per connection) that answers
POST /v1/classify ({"texts": [...]}) the way `ltgbert serve` does, running the
PyTorch reference model (ltg_bert.py) once per request: no batching across
requests. GET /healthz answers 200.

Debian's python3 has torch but not Hugging Face's `tokenizers`, so the BabyLM
tokenizer is re-implemented below from what its tokenizer.json declares
(ByteLevel pre-tokenizer with a prefix space and GPT-2's split pattern,
single digits, WordPiece with an empty continuation prefix, [CLS] ... [SEP]).
Python's `re` has no \\p{L}/\\p{N}; the classes below are their nearest
equivalents, exact for the SST-2 sentences the bench sends (`--check-ids`
compares with the ids Node's tokenizer gives).

    python3 serve_baseline.py --model DIR [--port 0] [--threads 1]
    python3 serve_baseline.py --model DIR --check-ids FILE   # FILE: JSON lines {"text", "ids"}

Prints one line, `listening on http://127.0.0.1:PORT`, once it listens.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

sys.dont_write_bytecode = True
import common  # noqa: E402, F401 (puts reference/, the reference model's folder, on sys.path)
from ltg_bert import LtgBertForSequenceClassification, from_pretrained  # noqa: E402


def byte_alphabet() -> dict:
    """GPT-2's byte-to-character table: printable bytes stand for themselves,
    the rest are moved to code points from 256 up."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


# GPT-2's split: contractions, letters, numbers, other symbols, each with an
# optional leading space; then runs of whitespace. \p{L} -> [^\W\d_],
# \p{N} -> \d, "neither" -> [^\s\w]|_.
SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


class BabyLmTokenizer:
    def __init__(self, directory: str):
        with open(os.path.join(directory, "tokenizer.json"), encoding="utf-8") as f:
            spec = json.load(f)
        model = spec["model"]
        if model["type"] != "WordPiece" or model.get("continuing_subword_prefix", "##") != "":
            raise SystemExit("serve_baseline.py: only the BabyLM WordPiece tokenizer (empty prefix) is implemented")
        self.vocab = model["vocab"]
        self.max_chars = model.get("max_input_chars_per_word", 100)
        self.unk = self.vocab[model["unk_token"]]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]
        self.pad = self.vocab["[PAD]"]
        self.bytes = byte_alphabet()

    def words(self, text: str):
        if not text.startswith(" "):
            text = " " + text
        for piece in SPLIT.findall(text):
            mapped = "".join(self.bytes[b] for b in piece.encode("utf-8"))
            # Digits pre-tokenizer, individual digits: every digit is a word of its own.
            yield from (w for w in re.split(r"(\d)", mapped) if w)

    def wordpiece(self, word: str):
        if len(word) > self.max_chars:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start and word[start:end] not in self.vocab:
                end -= 1
            if end == start:
                return [self.unk]
            ids.append(self.vocab[word[start:end]])
            start = end
        return ids

    def encode(self, text: str, max_length: int):
        ids = [i for w in self.words(text) for i in self.wordpiece(w)]
        return [self.cls] + ids[: max_length - 2] + [self.sep]


class Classifier:
    def __init__(self, directory: str):
        self.model = from_pretrained(directory, cls=LtgBertForSequenceClassification)
        self.tokenizer = BabyLmTokenizer(directory)
        config = self.model.config
        names = config.extra.get("id2label") or {}
        self.labels = [names.get(str(i), f"LABEL_{i}") for i in range(config.num_labels)]
        self.max_length = config.max_position_embeddings

    @torch.inference_mode()
    def predict(self, texts):
        rows = [self.tokenizer.encode(t, self.max_length) for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.tokenizer.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        probs = torch.softmax(self.model(ids, mask)["logits"].double(), dim=-1)
        out = []
        for p in probs.tolist():
            best = max(range(len(p)), key=p.__getitem__)
            out.append({"label": self.labels[best], "labelId": best, "score": p[best], "scores": p})
        return out


def make_handler(classifier: Classifier):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the load generator expects

        def log_message(self, *args):
            pass

        def reply(self, status: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/healthz":
                self.reply(200, {"status": "ok"})
            else:
                self.reply(404, {"error": {"code": "not_found", "message": self.path}})

        def do_POST(self):
            if self.path != "/v1/classify":
                self.reply(404, {"error": {"code": "not_found", "message": self.path}})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                texts = body["texts"]
                if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
                    raise ValueError("texts: expected a non-empty list of strings")
            except (ValueError, KeyError, TypeError) as error:
                self.reply(400, {"error": {"code": "invalid_request", "message": str(error)}})
                return
            self.reply(200, {"predictions": classifier.predict(texts)})

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--check-ids")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.check_ids:
        tokenizer = BabyLmTokenizer(args.model)
        with open(os.path.join(args.model, "config.json")) as f:
            max_length = json.load(f).get("max_position_embeddings", 512)
        total = same = 0
        first_difference = None
        with open(args.check_ids, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                total += 1
                ids = tokenizer.encode(row["text"], max_length)
                if ids == row["ids"]:
                    same += 1
                elif first_difference is None:
                    first_difference = {"text": row["text"], "node": row["ids"], "python": ids}
        print(json.dumps({"texts": total, "same_ids": same, "first_difference": first_difference}))
        return

    classifier = Classifier(args.model)
    classifier.predict(["warm up"])
    server = ThreadingHTTPServer((args.host, args.port), make_handler(classifier))
    server.daemon_threads = True
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
