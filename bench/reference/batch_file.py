"""Read the batches file that bench/epoch.mjs and bench/pretrain.mjs write
(bench/common.mjs `writeBatchFile`), all integers little-endian:

    bytes 0-7     the ASCII magic "LTGBATCH"
    bytes 8-11    uint32 H: the length of the JSON header in bytes
    bytes 12-...  the JSON header, UTF-8, padded with spaces so that 12 + H
                  is a multiple of 4
    then int32 arrays back to back; the header's "format" says which.
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
