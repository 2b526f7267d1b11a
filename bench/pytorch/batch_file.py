"""The batches file: how bench/epoch.mjs, bench/pretrain.mjs and
bench/embed.mjs hand their batches to epoch_bench.py, pretrain_bench.py and
embed_bench.py. This docstring is the one
description of the format; the writers (bench/common.mjs `writeBatchFile`,
the container; `writeEpochFile` in epoch.mjs, `writePretrainFile` in
pretrain.mjs and `writeEmbedFile` in embed.mjs, the arrays) and the readers
(`read_batch_file` below, the container; `read_batches` in epoch_bench.py,
`read_mlm_batches` in pretrain_bench.py and `read_embed_batches` in
embed_bench.py, the arrays) follow it: change them together.

The container, all integers little-endian:

    bytes 0-7     the ASCII magic "LTGBATCH"
    bytes 8-11    uint32 H: the length of the JSON header in bytes
    bytes 12-...  the JSON header, UTF-8, padded with spaces so that 12 + H
                  is a multiple of 4
    then int32 arrays back to back; the header's "format" (and "version",
    1 for both formats below) says which.

In every format the header's "shapes" lists [B_i, T_i] for every batch i
(T_i: the batch's own length, its longest row: dynamic padding), and the
arrays hold batch after batch, each batch row-major.

"ltgbert-batches" (epoch.mjs: sequence classification), the header
    {"format": "ltgbert-batches", "version": 1, "shapes": [[B_0, T_0], ...],
     "num_labels": 2, "warmup_steps": W, "total_steps": N,
     and where the batches came from: "data", "rows", "batch_size", "seed",
     "epoch", "max_length", "cut", "full_epoch_batches"}
then three arrays:
    input_ids       sum of B_i * T_i values
    attention_mask  sum of B_i * T_i values (1 = token, 0 = padding)
    labels          sum of B_i values

"ltgbert-mlm-batches" (pretrain.mjs: masked-LM pretraining), the header
    {"format": "ltgbert-mlm-batches", "version": 1, "shapes": [[B_0, T_0], ...],
     "warmup": W (untimed first steps), the optimizer: "learning_rate",
     "betas", "eps", "weight_decay", "max_grad_norm", "warmup_steps",
     "total_steps", and where the batches came from: "data", "tokenizer",
     "batch_size", "sequence_length", "seed", "mask_probability"}
then three arrays:
    input_ids       sum of B_i * T_i values, after masking
    attention_mask  sum of B_i * T_i values (1 = token, 0 = padding)
    labels          sum of B_i * T_i values: the original id where a token
                    was chosen for the loss, -100 elsewhere

"ltgbert-embed-batches" (embed.mjs: sentence embeddings), the header
    {"format": "ltgbert-embed-batches", "version": 1, "shapes": [[B_0, T_0], ...],
     and where the batches came from: "data", "tokenizer", "sentences",
     "batch_size"; rows are the sentences longest first, as `embed` orders them}
then two arrays:
    input_ids       sum of B_i * T_i values
    attention_mask  sum of B_i * T_i values (1 = token, 0 = padding)
"""

from __future__ import annotations

import json
import struct
import sys

MAGIC = b"LTGBATCH"
PREAMBLE = len(MAGIC) + 4  # the magic and the header's length


def read_batch_file(path: str, torch, fmt: str, version: int = 1):
    """The header and the int32 body as one flat tensor (a view of the file's bytes).

    Exits with a message naming the file when it is not a batches file of
    format `fmt` and `version`.
    """
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if raw[: len(MAGIC)] != MAGIC:
        sys.exit(f"{path}: not a batches file (no {MAGIC.decode()} magic)")
    (header_len,) = struct.unpack_from("<I", raw, len(MAGIC))
    header = json.loads(raw[PREAMBLE : PREAMBLE + header_len].decode("utf-8"))
    if header.get("format") != fmt or header.get("version") != version:
        sys.exit(f"{path}: unknown format {header.get('format')!r} version {header.get('version')!r}")
    if sys.byteorder != "little":
        sys.exit("this reader assumes a little-endian machine, as the file is")
    if (len(raw) - PREAMBLE - header_len) % 4:
        sys.exit(f"{path}: the body is not whole int32 values")
    body = torch.frombuffer(raw, dtype=torch.int32, offset=PREAMBLE + header_len)
    return header, body
