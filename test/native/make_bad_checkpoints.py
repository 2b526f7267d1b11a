#!/usr/bin/python3
"""Writes checkpoints that the native reader must accept or refuse.

Usage: /usr/bin/python3 make_bad_checkpoints.py OUT_DIR

Needs torch (Debian's /usr/bin/python3 has 1.13). Writes OUT_DIR/valid/...,
OUT_DIR/bad/..., OUT_DIR/dirs/... and OUT_DIR/manifest.json, which lists every
case: the file, the reader to use ("safetensors", "index", "torch" or
"checkpoint"), and either the error expected ("code", "prefix" the message
starts with, "message" substrings it contains) or the tensors expected
("tensors": name, dtype, shape, values, in order; "shares": pairs of names
whose tensors must share a storage). "marker" is a file that exists only if a
malicious pickle got to run its payload. Prints nothing on success.

Safetensors files are written by hand (the format is 8 bytes of header
length, a JSON header, raw data) so that broken ones can be made too and the
`safetensors` package is not needed.
"""

import collections
import io
import json
import os
import struct
import sys
import warnings
import zipfile

import torch
import torch.jit._pickle

BAD = "LTGBERT_BAD_CHECKPOINT"
NOT_FOUND = "LTGBERT_FILE_NOT_FOUND"

ST_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
DTYPE_NAMES = {
    torch.float32: "float32",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.float64: "float64",
    torch.int64: "int64",
    torch.int32: "int32",
    torch.int16: "int16",
    torch.int8: "int8",
    torch.uint8: "uint8",
    torch.bool: "bool",
}


def pattern(dtype, shape):
    """Small exact values of every sign, the same in any dtype."""
    n = 1
    for d in shape:
        n *= d
    base = torch.arange(n, dtype=torch.float64)
    if dtype == torch.bool:
        values = base % 2 == 1
    elif dtype == torch.uint8:
        values = base % 256
    elif dtype.is_floating_point:
        values = (base - 3) * 0.5
    else:
        values = base - 3
    return values.to(dtype).reshape(shape)


def raw_bytes(tensor):
    flat = tensor.detach().contiguous().reshape(-1)
    if flat.dtype == torch.bfloat16:  # numpy has no bfloat16; same bits as int16
        flat = flat.view(torch.int16)
    return flat.numpy().tobytes()


def values_of(tensor):
    flat = tensor.detach().reshape(-1)
    if flat.dtype == torch.bool:
        return [bool(v) for v in flat.tolist()]
    return [float(v) for v in flat.to(torch.float64).tolist()]


def expect(tensors, shares=()):
    return {
        "tensors": [
            {"name": name, "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
             "values": values_of(t)}
            for name, t in tensors.items()
        ],
        "shares": [list(pair) for pair in shares],
    }


class Writer:
    def __init__(self, out):
        self.out = os.path.abspath(out)
        self.cases = []

    def path(self, rel):
        full = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return full

    def write(self, rel, data):
        with open(self.path(rel), "wb") as f:
            f.write(data)

    def ok(self, rel, read, tensors, shares=()):
        case = {"file": rel, "read": read}
        case.update(expect(tensors, shares))
        self.cases.append(case)

    def bad(self, rel, read, code, *message, prefix=None):
        self.cases.append(
            {
                "file": rel,
                "read": read,
                "code": code,
                "prefix": rel if prefix is None else prefix,
                "message": list(message),
            }
        )


def safetensors_bytes(tensors, metadata=None, misalign=0, header=None):
    """tensors: name → tensor. header: a dict or raw bytes replacing the real
    header. misalign: pad so the data starts this many bytes past a multiple
    of 8."""
    data = b""
    entries = {}
    if metadata is not None:
        entries["__metadata__"] = metadata
    for name, t in tensors.items():
        b = raw_bytes(t)
        entries[name] = {
            "dtype": ST_DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [len(data), len(data) + len(b)],
        }
        data += b
    if header is None:
        header = entries
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    pad = (8 - (8 + len(text)) % 8) % 8 + misalign
    text += b" " * pad
    return struct.pack("<Q", len(text)) + text + data


def zip_records(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(info.filename, z.read(info.filename)) for info in z.infolist()]


def rezip(records):
    """A zip that PyTorchStreamReader reads: stored, one top folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            z.writestr(name, data)
    return buffer.getvalue()


def torch_save_bytes(obj, **kwargs):
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def replace_record(data, suffix, new_bytes):
    records = zip_records(data)
    out = []
    for name, content in records:
        if name.endswith(suffix):
            if new_bytes is None:
                continue
            content = new_bytes
        out.append((name, content))
    return rezip(out)


class Tied(torch.nn.Module):
    """An MLM-like module: a tied decoder weight, an int64 buffer, LayerNorms
    (whose state dict carries _metadata)."""

    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(5, 3)
        self.norm = torch.nn.LayerNorm(3)
        self.decoder = torch.nn.Linear(3, 5)
        self.decoder.weight = self.embedding.weight
        self.register_buffer("position_indices", pattern(torch.int64, (2, 2)))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(pattern(p.dtype, tuple(p.shape)))


class RebuildView:
    """Pickles as _rebuild_tensor_v2 over `storage` with any offset/size/stride,
    valid or not."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride)

    def __reduce_ex__(self, protocol):
        storage, offset, size, stride = self.args
        return (
            torch._utils._rebuild_tensor_v2,
            (storage, offset, size, stride, False, collections.OrderedDict()),
        )


class TypeTagged:
    """What libtorch's C++ torch::pickle_save writes around a dict."""

    def __init__(self, value, tag):
        self.value, self.tag = value, tag

    def __reduce__(self):
        return (torch.jit._pickle.restore_type_tag, (self.value, self.tag))


class RunsCommand:
    """What a malicious checkpoint does: unpickling calls os.system."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class RunsEval:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


def all_dtypes():
    tensors = collections.OrderedDict()
    for dtype, name in ST_DTYPES.items():
        tensors[name.lower()] = pattern(dtype, (2, 3))
    tensors["scalar"] = pattern(torch.float32, ())
    tensors["empty"] = pattern(torch.float32, (0, 4))
    return tensors


def write_safetensors_cases(w):
    tensors = all_dtypes()
    w.write("valid/all_dtypes.safetensors", safetensors_bytes(tensors, {"format": "pt"}))
    w.ok("valid/all_dtypes.safetensors", "safetensors", tensors)

    for dtype, name in [(torch.float16, "f16"), (torch.bfloat16, "bf16")]:
        t = {"weight": pattern(dtype, (4, 3)), "bias": pattern(dtype, (3,))}
        w.write(f"valid/{name}.safetensors", safetensors_bytes(t))
        w.ok(f"valid/{name}.safetensors", "safetensors", t)

    # Data 2 bytes past an 8-byte boundary: every wide dtype is misaligned.
    t = collections.OrderedDict(
        [
            ("f32", pattern(torch.float32, (3, 2))),
            ("f64", pattern(torch.float64, (5,))),
            ("i64", pattern(torch.int64, (2, 2))),
            ("u8", pattern(torch.uint8, (3,))),
            ("f16", pattern(torch.float16, (3,))),
        ]
    )
    w.write("valid/misaligned.safetensors", safetensors_bytes(t, misalign=2))
    w.ok("valid/misaligned.safetensors", "safetensors", t)

    # Hugging Face's sharded layout.
    shard1 = collections.OrderedDict([("a.weight", pattern(torch.float32, (2, 2))),
                                      ("a.bias", pattern(torch.float32, (2,)))])
    shard2 = collections.OrderedDict([("b.weight", pattern(torch.float16, (3, 2)))])
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    index = {"metadata": {"total_size": 0}, "weight_map": {}}
    for shard, name in zip([shard1, shard2], names):
        w.write(f"valid/sharded/{name}", safetensors_bytes(shard, {"format": "pt"}))
        index["weight_map"].update({k: name for k in shard})
    w.write("valid/sharded/model.safetensors.index.json", json.dumps(index).encode())
    w.ok("valid/sharded/model.safetensors.index.json", "index", {**shard1, **shard2})

    # Broken files.
    good = safetensors_bytes({"weight": pattern(torch.float32, (10, 10))})
    w.write("bad/short.safetensors", good[:4])
    w.bad("bad/short.safetensors", "safetensors", BAD, "truncated: 4 bytes")
    w.write("bad/empty.safetensors", b"")
    w.bad("bad/empty.safetensors", "safetensors", BAD, "truncated: 0 bytes")
    w.write("bad/truncated.safetensors", good[: len(good) - 150])
    w.bad("bad/truncated.safetensors", "safetensors", BAD,
          "weight: data_offsets [0, 400] end outside the data section (250 bytes)")
    w.write("bad/header_too_long.safetensors", struct.pack("<Q", 1000000) + b'{"a": 1}')
    w.bad("bad/header_too_long.safetensors", "safetensors", BAD,
          "header length 1000000 larger than the file (16 bytes)")
    w.write("bad/invalid_json.safetensors", safetensors_bytes({}, header=b'{"weight": {"dtype": '))
    w.bad("bad/invalid_json.safetensors", "safetensors", BAD, "invalid JSON header")
    w.write("bad/header_not_object.safetensors", safetensors_bytes({}, header=[1, 2]))
    w.bad("bad/header_not_object.safetensors", "safetensors", BAD,
          "the header should be a JSON object")

    # A message quoting this must not recurse a million levels deep.
    w.write("bad/deep_header.safetensors", safetensors_bytes({}, header=b"[" * 1000000 + b"]" * 1000000))
    w.bad("bad/deep_header.safetensors", "safetensors", BAD,
          "the header should be a JSON object, got a large or deeply nested JSON array")

    entry = {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    data = raw_bytes(pattern(torch.float32, (2, 3)))

    def with_entry(rel, name, value, message, data=data):
        header = json.dumps({name: value}).encode()
        header += b" " * ((8 - len(header) % 8) % 8)
        w.write(rel, struct.pack("<Q", len(header)) + header + data)
        w.bad(rel, "safetensors", BAD, message)

    for field in ["dtype", "shape", "data_offsets"]:
        value = {k: v for k, v in entry.items() if k != field}
        with_entry(f"bad/missing_{field}.safetensors", "w", value, f'w: missing "{field}"')
    with_entry("bad/entry_not_object.safetensors", "w", [1, 2], "w: expected an object")
    name = "transformer.layers.0.mlp.mlp.1.weight"
    with_entry("bad/offsets_outside.safetensors", name,
               {"dtype": "F32", "shape": [10, 10], "data_offsets": [0, 999]},
               f"{name}: data_offsets [0, 999] end outside the data section (600 bytes)",
               data=bytes(600))
    with_entry("bad/offsets_mismatch.safetensors", "w",
               {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]},
               "w: data_offsets [0, 20] hold 20 bytes, but shape [2, 3] of F32 needs 6 x 4 bytes")
    with_entry("bad/offsets_reversed.safetensors", "w",
               {"dtype": "F32", "shape": [2, 3], "data_offsets": [24, 0]},
               "w: data_offsets [24, 0] end before they begin")
    with_entry("bad/offsets_negative.safetensors", "w",
               {"dtype": "F32", "shape": [2, 3], "data_offsets": [-8, 16]},
               "w: data_offsets should be two non-negative integers")
    with_entry("bad/shape_negative.safetensors", "w",
               {"dtype": "F32", "shape": [-2, 3], "data_offsets": [0, 24]},
               "w: shape should be a list")
    with_entry("bad/shape_not_list.safetensors", "w",
               {"dtype": "F32", "shape": "2x3", "data_offsets": [0, 24]},
               "w: shape should be a list")
    with_entry("bad/shape_overflow.safetensors", "w",
               {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 24]},
               "w: shape [1099511627776,1099511627776] overflows 64 bits")
    with_entry("bad/dtype_not_string.safetensors", "w",
               {"dtype": 7, "shape": [2, 3], "data_offsets": [0, 24]},
               "w: dtype should be a string")
    for dtype in ["F8_E4M3", "C64"]:
        with_entry(f"bad/dtype_{dtype.lower()}.safetensors", "w",
                   {"dtype": dtype, "shape": [2, 3], "data_offsets": [0, 24]},
                   f'w: unsupported dtype "{dtype}" (supported: F32, F16, BF16')

    # Broken indexes.
    def index_case(folder, weight_map, shards, code, *message, prefix=None, raw=None):
        for name, tensors in shards.items():
            w.write(f"bad/{folder}/{name}", safetensors_bytes(tensors))
        rel = f"bad/{folder}/model.safetensors.index.json"
        w.write(rel, raw if raw is not None else json.dumps({"weight_map": weight_map}).encode())
        w.bad(rel, "index", code, *message, prefix=prefix)

    one = {"a.weight": pattern(torch.float32, (2, 2))}
    index_case("index_missing_key", {"a.weight": "s1.safetensors", "b.weight": "s1.safetensors"},
               {"s1.safetensors": one}, BAD,
               "b.weight: weight_map puts it in s1.safetensors, which does not hold it")
    index_case("index_missing_shard", {"a.weight": "s1.safetensors", "b.weight": "s2.safetensors"},
               {"s1.safetensors": one}, NOT_FOUND, "s2.safetensors: no such file",
               prefix="bad/index_missing_shard/s2.safetensors")
    index_case("index_unlisted", {"a.weight": "s1.safetensors"},
               {"s1.safetensors": {**one, "extra": pattern(torch.float32, (1,))}}, BAD,
               "extra: not listed for this shard", prefix="bad/index_unlisted/s1.safetensors")
    index_case("index_escape", {"a.weight": "../../valid/f16.safetensors"}, {}, BAD,
               "names the shard '../../valid/f16.safetensors', which is not a file name inside")
    index_case("index_absolute", {"a.weight": "/etc/passwd"}, {}, BAD,
               "names the shard '/etc/passwd'")
    index_case("index_no_weight_map", None, {}, BAD, 'a "weight_map" object',
               raw=b'{"metadata": {}}')
    index_case("index_invalid_json", None, {}, BAD, "invalid JSON index", raw=b"{")


def write_torch_cases(w, marker):
    module = Tied()
    state = module.state_dict()
    assert hasattr(state, "_metadata")
    w.write("valid/state_dict.bin", torch_save_bytes(state))
    w.ok("valid/state_dict.bin", "torch", state,
         shares=[("embedding.weight", "decoder.weight")])

    w.write("valid/protocol4.bin", torch_save_bytes(state, pickle_protocol=4))
    w.ok("valid/protocol4.bin", "torch", state, shares=[("embedding.weight", "decoder.weight")])

    params = module.state_dict(keep_vars=True)  # nn.Parameter → _rebuild_parameter
    w.write("valid/parameters.bin", torch_save_bytes(params))
    w.ok("valid/parameters.bin", "torch", params)

    tensors = all_dtypes()
    w.write("valid/all_dtypes.bin", torch_save_bytes(tensors))
    w.ok("valid/all_dtypes.bin", "torch", tensors)

    base = pattern(torch.float32, (4, 3))
    views = collections.OrderedDict(
        [("w", base), ("w_again", base), ("w_t", base.t()), ("row1", base[1]),
         ("tail", base.reshape(-1)[5:]), ("column", base[:, 2])]
    )
    w.write("valid/shared_storage.bin", torch_save_bytes(views))
    w.ok("valid/shared_storage.bin", "torch", views,
         shares=[("w", "w_again"), ("w", "w_t"), ("w", "row1"), ("w", "tail"), ("w", "column")])

    mixed = {"weight": pattern(torch.float32, (2,)), "step": 3, "name": "x", "lr": 0.5,
             "flags": [True, None]}
    w.write("valid/mixed_values.bin", torch_save_bytes(mixed))
    w.ok("valid/mixed_values.bin", "torch", {"weight": mixed["weight"]})

    tagged = {"w": base, "w_t": base.t()}
    w.write("valid/pickle_save_style.bin",
            torch_save_bytes(TypeTagged(tagged, "Dict[str, Tensor]")))
    w.ok("valid/pickle_save_style.bin", "torch", tagged, shares=[("w", "w_t")])

    w.write("valid/empty_state_dict.bin", torch_save_bytes(collections.OrderedDict()))
    w.ok("valid/empty_state_dict.bin", "torch", {})

    # Code execution attempts: refused at the global, before anything runs.
    evil = {"weight": torch.zeros(2), "evil": RunsCommand(f"touch {marker}")}
    w.write("bad/os_system.bin", torch_save_bytes(evil))
    w.bad("bad/os_system.bin", "torch", BAD,
          "bad/os_system.bin: data.pkl refers to the global 'posix.system', "
          "which a checkpoint may not use")
    w.write("bad/os_system_protocol4.bin", torch_save_bytes(evil, pickle_protocol=4))
    w.bad("bad/os_system_protocol4.bin", "torch", BAD, "refers to the global 'posix.system'")
    evil = {"evil": RunsEval(f"__import__('os').system('touch {marker}')")}
    w.write("bad/builtins_eval.bin", torch_save_bytes(evil))
    w.bad("bad/builtins_eval.bin", "torch", BAD, "refers to the global '__builtin__.eval'")

    # Not a state dict.
    checkpoint = {"model": state, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]},
                  "epoch": 3}
    w.write("bad/nested.bin", torch_save_bytes(checkpoint))
    w.bad("bad/nested.bin", "torch", BAD, "the top level is not a state dict of tensors",
          "'model' (dict), 'optimizer' (dict), 'epoch' (int)",
          "'model' holds a state dict of 6 tensors")
    w.write("bad/list_top.bin", torch_save_bytes([torch.zeros(2), torch.ones(2)]))
    w.bad("bad/list_top.bin", "torch", BAD, "data.pkl holds a list, expected a state dict")
    w.write("bad/int_keys.bin", torch_save_bytes({0: torch.zeros(2)}))
    w.bad("bad/int_keys.bin", "torch", BAD, "a key of the state dict is an int")

    # Broken archives.
    good = torch_save_bytes(collections.OrderedDict(
        [("weight", pattern(torch.float32, (10,))), ("bias", pattern(torch.float32, (3,)))]))
    w.write("bad/truncated.bin", good[: len(good) // 2])
    w.bad("bad/truncated.bin", "torch", BAD, "not a zip archive (no end-of-directory record)")
    records = zip_records(good)
    pkl = next(data for name, data in records if name.endswith("/data.pkl"))
    w.write("bad/truncated_pickle.bin", replace_record(good, "/data.pkl", pkl[: len(pkl) // 2]))
    w.bad("bad/truncated_pickle.bin", "torch", BAD, "data.pkl: truncated")
    w.write("bad/no_stop.bin", replace_record(good, "/data.pkl", pkl[:-1]))
    w.bad("bad/no_stop.bin", "torch", BAD, "data.pkl: truncated", "without a STOP opcode")
    w.write("bad/unknown_opcode.bin", replace_record(good, "/data.pkl", b"\x80\x02\xff"))
    w.bad("bad/unknown_opcode.bin", "torch", BAD,
          "data.pkl: unknown or unsupported opcode 0xff at offset 2")
    w.write("bad/stack_underflow.bin", replace_record(good, "/data.pkl", b"\x80\x02s."))
    w.bad("bad/stack_underflow.bin", "torch", BAD, "data.pkl: SETITEM at offset 2: the stack is empty")
    w.write("bad/short_record.bin", replace_record(good, "/data/0", bytes(20)))
    w.bad("bad/short_record.bin", "torch", BAD, "the record data/0 declares 20 bytes, but its tensor needs 40")
    w.write("bad/missing_record.bin", replace_record(good, "/data/1", None))
    w.bad("bad/missing_record.bin", "torch", BAD, "bias: the archive has no record data/1")
    w.write("bad/no_data_pkl.bin", replace_record(good, "/data.pkl", None))
    w.bad("bad/no_data_pkl.bin", "torch", BAD, "the archive has no data.pkl record")

    storage = pattern(torch.float32, (10,)).storage()
    for name, view, message in [
        ("offset_outside", RebuildView(storage, 100, (10,), (1,)),
         "storage '0' holds 10 elements but the tensor at offset 100 reaches element 109"),
        ("stride_outside", RebuildView(storage, 0, (4, 3), (3, 1)),
         "storage '0' holds 10 elements but the tensor at offset 0 reaches element 11"),
        ("negative_stride", RebuildView(storage, 0, (2,), (-1,)), "negative size or stride"),
        ("huge_size", RebuildView(storage, 0, (2**62, 4), (4, 1)), "overflow 64 bits"),
    ]:
        w.write(f"bad/{name}.bin", torch_save_bytes({"weight": view}))
        w.bad(f"bad/{name}.bin", "torch", BAD, message)

    if hasattr(torch.Tensor, "untyped_storage"):  # torch >= 2.0
        raw = RebuildView(pattern(torch.float32, (10,)).untyped_storage(), 0, (40,), (1,))
        w.write("valid/untyped_storage.bin", torch_save_bytes({"raw": raw}))
        w.ok("valid/untyped_storage.bin", "torch",
             {"raw": pattern(torch.float32, (10,)).view(torch.uint8)})

    w.write("bad/complex.bin", torch_save_bytes({"weight": torch.zeros(2, dtype=torch.complex64)}))
    w.bad("bad/complex.bin", "torch", BAD,
          "uses the storage type 'torch.ComplexFloatStorage', which is not supported")
    w.write("bad/legacy.bin", torch_save_bytes(state, _use_new_zipfile_serialization=False))
    w.bad("bad/legacy.bin", "torch", BAD, "a legacy torch.save file")
    w.write("bad/not_a_zip.bin", b"hello, this is not a checkpoint")
    w.bad("bad/not_a_zip.bin", "torch", BAD, "not a torch.save zip archive (it starts with 68 65 6c 6c)")
    w.write("bad/empty.bin", b"")
    w.bad("bad/empty.bin", "torch", BAD, "not a torch.save zip archive (it starts with nothing")
    scripted = torch.jit.script(torch.nn.Linear(2, 2))
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    w.write("bad/torchscript.pt", buffer.getvalue())
    w.bad("bad/torchscript.pt", "torch", BAD, "a TorchScript archive")

    w.bad("bad/does_not_exist.bin", "torch", NOT_FOUND, "no such file")
    w.bad("bad/does_not_exist.safetensors", "safetensors", NOT_FOUND, "cannot open")


def write_dir_cases(w):
    st = {"from": pattern(torch.float32, (2,))}
    bin_ = {"from": pattern(torch.float64, (3,))}
    # model.safetensors wins over pytorch_model.bin.
    w.write("dirs/both/model.safetensors", safetensors_bytes(st))
    w.write("dirs/both/pytorch_model.bin", torch_save_bytes(bin_))
    w.ok("dirs/both", "checkpoint", st)
    w.write("dirs/bin_only/pytorch_model.bin", torch_save_bytes(bin_))
    w.ok("dirs/bin_only", "checkpoint", bin_)
    w.write("dirs/index_only/model-1.safetensors", safetensors_bytes(st))
    w.write("dirs/index_only/model.safetensors.index.json",
            json.dumps({"weight_map": {"from": "model-1.safetensors"}}).encode())
    w.ok("dirs/index_only", "checkpoint", st)
    os.makedirs(os.path.join(w.out, "dirs/empty"), exist_ok=True)
    w.bad("dirs/empty", "checkpoint", NOT_FOUND,
          "no checkpoint in this folder (looked for model.safetensors, "
          "model.safetensors.index.json and pytorch_model.bin)")
    w.write("dirs/weights.unknown", torch_save_bytes(bin_))
    w.ok("dirs/weights.unknown", "checkpoint", bin_)
    w.write("dirs/notes.txt", b"not weights at all")
    w.bad("dirs/notes.txt", "checkpoint", BAD, "not a known checkpoint format")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_bad_checkpoints.py OUT_DIR")
    # torch 2.x deprecates the typed storages that 1.13's torch.save writes;
    # the cases use them on purpose.
    warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
    w = Writer(sys.argv[1])
    os.makedirs(w.out, exist_ok=True)
    marker = os.path.join(w.out, "pwned")
    if os.path.exists(marker):
        os.remove(marker)
    write_safetensors_cases(w)
    write_torch_cases(w, marker)
    write_dir_cases(w)
    with open(os.path.join(w.out, "manifest.json"), "w") as f:
        json.dump({"marker": "pwned", "cases": w.cases}, f, indent=1)


if __name__ == "__main__":
    main()
