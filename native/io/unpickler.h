// A restricted unpickler for the `data.pkl` that torch.save writes for a state
// dict. It understands only the opcodes and globals that a state dict needs
// (OrderedDict, _rebuild_tensor_v2, _rebuild_parameter, storage classes, and
// the type tag of libtorch's C++ pickle_save) and never executes
// anything: every other global is refused before it could be called.
//
// libtorch 1.13's own pickle_load cannot serve here: it fails on every
// `model.state_dict()` because the OrderedDict carries `_metadata`, set by a
// BUILD opcode. This one ignores such attributes.
//
// The result is a plain object graph (no torch types, so this file compiles in
// a second); torch_archive.cc turns its storages and tensors into at::Tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ltgbert::io::pickle {

// The storage classes a checkpoint may name. kUntyped is torch 2.x's
// torch.UntypedStorage, whose numel counts bytes.
enum class StorageType {
  kFloat,
  kHalf,
  kBFloat16,
  kDouble,
  kLong,
  kInt,
  kShort,
  kChar,
  kByte,
  kBool,
  kUntyped,
};

// "torch.FloatStorage", ...
const char* StorageTypeName(StorageType type);

// Objects live in one arena and refer to each other by index, so a pickle that
// nests deeply or refers to itself costs neither stack depth nor leaked cycles.
using ObjectId = size_t;

struct Object {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kBytes,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kStorage,
    kTensor,
  };
  Kind kind = Kind::kNone;
  int64_t int_value = 0;        // kBool (0/1), kInt
  double float_value = 0;       // kFloat
  std::string text;             // kString, kBytes, kGlobal ("module.name"), kStorage (key)
  std::vector<ObjectId> items;  // kTuple, kList; kDict: key0, value0, key1, value1, ...

  // kStorage: a persistent id ('storage', type, key, location, numel).
  StorageType storage_type = StorageType::kFloat;
  int64_t numel = 0;
  std::string location;

  // kTensor: _rebuild_tensor_v2(storage, offset, sizes, strides, ...).
  ObjectId storage = 0;
  int64_t storage_offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  size_t pickle_offset = 0;  // where the REDUCE was, for messages
};

const char* KindName(Object::Kind kind);
// "an int", "a list": for messages.
std::string KindWithArticle(Object::Kind kind);

struct Pickle {
  std::vector<Object> objects;
  ObjectId root = 0;

  const Object& operator[](ObjectId id) const { return objects[id]; }
};

// `where` starts every error message, e.g. "/m/pytorch_model.bin: data.pkl".
// Any malformed, truncated or disallowed input → LTGBERT_BAD_CHECKPOINT.
Pickle Unpickle(const uint8_t* data, size_t size, const std::string& where);

}  // namespace ltgbert::io::pickle
