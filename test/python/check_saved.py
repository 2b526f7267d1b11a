"""Reads what the package's savePretrained wrote, as Python users would.

Usage: python3 check_saved.py SPEC_JSON

SPEC_JSON is a JSON object:
  "safetensors_dir", "pytorch_dir": the two saved directories;
  "references": checkpoint files (safetensors or torch.save) whose tensors the
      saved ones must equal bitwise; a key is looked up in each in turn;
  "tied": {alias: key}, for an alias no reference holds under its own name;
  "expected_keys_pytorch", "expected_keys_safetensors": the key lists the
      two files must hold (the order is checked for the archive, whose dict
      keeps it; safetensors' header is an unordered JSON object).

pytorch_model.bin goes through torch.load, and also torch.load(...,
weights_only=True) when this torch has it; model.safetensors through a plain
header parse (json + struct; no `safetensors` package needed). Prints one
JSON object that the test asserts on; exits 0 whatever it found.
"""

import inspect
import json
import os
import struct
import sys

import torch

ST_DTYPES = {
    "F32": torch.float32,
    "F16": torch.float16,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "U8": torch.uint8,
}


def read_safetensors(path):
    """Returns (tensors in data order, metadata, problems)."""
    problems = []
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    meta = header.pop("__metadata__", None)
    out = {}
    end = 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, stop = e["data_offsets"]
        if begin != end:
            problems.append(f"{name}: starts at {begin}, not right after the previous tensor ({end})")
        end = stop
        chunk = bytearray(data[begin:stop])
        dtype = ST_DTYPES[e["dtype"]]
        t = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(e["shape"])
    if end != len(data):
        problems.append(f"{len(data) - end} bytes after the last tensor")
    return out, meta, problems


def read_any(path):
    if path.endswith(".safetensors"):
        return read_safetensors(path)[0]
    return torch.load(path, map_location="cpu")


def compare(saved, references, tied):
    """Names of tensors that differ from the reference (dtype, shape or any bit)."""
    mismatched = []
    unreferenced = []
    for key, t in saved.items():
        ref = None
        for r in references:
            if key in r:
                ref = r[key]
                break
            if key in tied and tied[key] in r:
                ref = r[tied[key]]
                break
        if ref is None:
            unreferenced.append(key)
            continue
        if t.dtype != torch.float32 or ref.dtype != torch.float32 or t.shape != ref.shape:
            mismatched.append(f"{key}: {t.dtype} {list(t.shape)} vs {ref.dtype} {list(ref.shape)}")
        elif not torch.equal(t.view(torch.int32), ref.contiguous().view(torch.int32)):
            mismatched.append(f"{key}: values differ")
    return mismatched, unreferenced


def summary(tensors, spec_keys, references, tied, ordered):
    keys = list(tensors)
    mismatched, unreferenced = compare(tensors, references, tied)
    out = {
        "keys": keys,
        "key_set_equal": set(keys) == set(spec_keys) and len(keys) == len(spec_keys),
        "mismatched": mismatched,
        "unreferenced": unreferenced,
        "count": len(keys),
    }
    if ordered:
        out["order_equal"] = keys == list(spec_keys)
    return out


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    references = [read_any(p) for p in spec["references"]]
    tied = spec.get("tied", {})
    result = {"torch_version": torch.__version__}

    bin_path = os.path.join(spec["pytorch_dir"], "pytorch_model.bin")
    loaded = torch.load(bin_path, map_location="cpu")
    result["pytorch"] = summary(loaded, spec["expected_keys_pytorch"], references, tied, ordered=True)
    result["pytorch"]["type"] = type(loaded).__name__
    if "weights_only" in inspect.signature(torch.load).parameters:
        safe = torch.load(bin_path, map_location="cpu", weights_only=True)
        result["pytorch_weights_only"] = summary(safe, spec["expected_keys_pytorch"], references, tied, ordered=True)
    else:
        result["pytorch_weights_only"] = None

    st_path = os.path.join(spec["safetensors_dir"], "model.safetensors")
    tensors, meta, problems = read_safetensors(st_path)
    result["safetensors"] = summary(tensors, spec["expected_keys_safetensors"], references, tied, ordered=False)
    result["safetensors"]["metadata"] = meta
    result["safetensors"]["problems"] = problems
    result["safetensors"]["dtypes"] = sorted({str(t.dtype) for t in tensors.values()})

    print(json.dumps(result))


if __name__ == "__main__":
    main()
