#!/usr/bin/python3
"""Checks that Python reads what native/io wrote.

Usage: /usr/bin/python3 verify_written.py WORK_DIR FIXTURES_DIR

WORK_DIR holds python.bin and python.safetensors from io_check: the tensors
of ltgbert-tiny/seed-mlm/pytorch_model.bin followed by "zoo.*" tensors (one
per dtype, plus a scalar, an empty, a transposed and a sliced tensor) with the
values of make_bad_checkpoints.pattern. torch.load (also weights_only=True)
must give an OrderedDict/dict equal to them; the safetensors file is parsed by
hand (no `safetensors` package needed) and must give the same. Prints nothing
on success; exits 1 with one line per failure.
"""

import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_bad_checkpoints import pattern  # noqa: E402

ST_DTYPES = {
    "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
ZOO = {
    "zoo.Float": pattern(torch.float32, (2, 3)),
    "zoo.Half": pattern(torch.float16, (2, 3)),
    "zoo.BFloat16": pattern(torch.bfloat16, (2, 3)),
    "zoo.Double": pattern(torch.float64, (2, 3)),
    "zoo.Long": pattern(torch.int64, (2, 3)),
    "zoo.Int": pattern(torch.int32, (2, 3)),
    "zoo.Short": pattern(torch.int16, (2, 3)),
    "zoo.Char": pattern(torch.int8, (2, 3)),
    "zoo.Byte": pattern(torch.uint8, (2, 3)),
    "zoo.Bool": pattern(torch.bool, (2, 3)),
    "zoo.scalar": pattern(torch.float32, ()),
    "zoo.empty": pattern(torch.float32, (0, 4)),
    "zoo.transposed": pattern(torch.float32, (3, 4)).t(),
    "zoo.sliced": pattern(torch.int64, (5, 4))[1:4],
}

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    check(n % 8 == 0, f"{path}: header length {n} not a multiple of 8")
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    meta = header.pop("__metadata__", None)
    check(meta == {"format": "pt", "source": "io_check"}, f"{path}: __metadata__ is {meta}")
    out = {}
    end = 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, stop = e["data_offsets"]
        check(begin == end, f"{path}: {name} not contiguous after the previous tensor")
        end = stop
        dtype = ST_DTYPES[e["dtype"]]
        chunk = bytearray(data[begin:stop])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(chunk, dtype=torch.int16).view(torch.bfloat16) if chunk else \
                torch.empty(0, dtype=dtype)
        else:
            t = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(e["shape"])
    check(end == len(data), f"{path}: data section has {len(data) - end} bytes after the last tensor")
    return out


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


def compare(got, want, what, ordered=True):
    if ordered:
        check(list(got) == list(want), f"{what}: keys or order differ")
    else:
        check(set(got) == set(want), f"{what}: keys differ")
    for name, t in want.items():
        if name in got:
            check(same(got[name], t), f"{what}: {name} differs")


def main():
    work, fixtures = sys.argv[1], sys.argv[2]
    want = torch.load(os.path.join(fixtures, "ltgbert-tiny/seed-mlm/pytorch_model.bin"))
    want.update(ZOO)

    loaded = torch.load(os.path.join(work, "python.bin"))
    check(isinstance(loaded, dict), f"python.bin: torch.load gave {type(loaded)}")
    compare(loaded, want, "python.bin via torch.load")
    safe = torch.load(os.path.join(work, "python.bin"), weights_only=True)
    compare(safe, want, "python.bin via torch.load(weights_only=True)")
    compare(read_safetensors(os.path.join(work, "python.safetensors")), want,
            "python.safetensors", ordered=True)

    if failures:
        print("\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
