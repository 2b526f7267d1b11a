"""Writes model directories for the package to read: Python writes, Node reads.

Usage: python3 write_model.py FIXTURE_DIR OUT_DIR

Takes FIXTURE_DIR/model.safetensors (a hub-style masked LM, tied decoder
weight left out) and FIXTURE_DIR/config.json, perturbs every tensor
deterministically (torch.Generator seeded, keys in sorted order) and writes

  OUT_DIR/safetensors/  config.json + model.safetensors, by the hand-written
                        writer below (as save_pretrained lays it out: keys
                        sorted, tied weight left out, __metadata__ format pt);
  OUT_DIR/pytorch/      config.json + pytorch_model.bin, torch.save of an
                        OrderedDict as torch.save(model.state_dict()) gives it:
                        the tied decoder weight under both of its names,
                        sharing one storage;
  OUT_DIR/expected.bin + expected.json: every state-dict key's float32 values,
                        raw little-endian, with [{key, shape, offset, nbytes}],
                        so the check does not go through either format.

Prints nothing on success.
"""

import collections
import json
import os
import shutil
import struct
import sys

import torch

TIED = {"classifier.nonlinearity.5.weight": "embedding.word_embedding.weight"}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", f"{name}: {e['dtype']}"
        begin, stop = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[begin:stop]), dtype=torch.float32).reshape(e["shape"])
    return out


def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        blob = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    fixture, out = sys.argv[1], sys.argv[2]
    source = read_safetensors(os.path.join(fixture, "model.safetensors"))
    generator = torch.Generator().manual_seed(20240611)
    perturbed = {}
    for name in sorted(source):
        t = source[name]
        perturbed[name] = t + 0.05 * torch.randn(t.shape, generator=generator, dtype=torch.float32)

    st_dir = os.path.join(out, "safetensors")
    pt_dir = os.path.join(out, "pytorch")
    for d in (st_dir, pt_dir):
        os.makedirs(d, exist_ok=True)
        shutil.copyfile(os.path.join(fixture, "config.json"), os.path.join(d, "config.json"))
    write_safetensors(os.path.join(st_dir, "model.safetensors"), perturbed)

    state = collections.OrderedDict(perturbed)
    for alias, key in TIED.items():
        state[alias] = state[key]  # one storage under two names, as a tied module's state_dict() has it
    torch.save(state, os.path.join(pt_dir, "pytorch_model.bin"))

    entries = []
    blobs = []
    offset = 0
    for name in sorted(state):
        blob = state[name].contiguous().numpy().tobytes()
        entries.append({"key": name, "shape": list(state[name].shape), "offset": offset, "nbytes": len(blob)})
        blobs.append(blob)
        offset += len(blob)
    with open(os.path.join(out, "expected.bin"), "wb") as f:
        for blob in blobs:
            f.write(blob)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"torch_version": torch.__version__, "tensors": entries}, f)


if __name__ == "__main__":
    main()
