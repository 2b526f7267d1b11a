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
using ObjectId = uint32_t;

// 16 bytes, with the variable-size parts in side tables: a crafted pickle of
// a million one-byte opcodes costs tens of megabytes, not hundreds (Python's
// own unpickler spends more per object).
struct Object {
  enum class Kind : uint8_t {
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
  // kString, kBytes, kGlobal ("module.name"): Pickle::texts; kTuple, kList,
  // kDict: Pickle::containers; kStorage: Pickle::storages; kTensor:
  // Pickle::tensors.
  uint32_t index = 0;
  union {
    int64_t int_value = 0;  // kBool (0/1), kInt
    double float_value;     // kFloat
  };
};

// A persistent id ('storage', storage class, key, location, numel): the
// record data/<key> of the archive.
struct StorageRef {
  StorageType type = StorageType::kFloat;
  int64_t numel = 0;  // elements of `type` (bytes for kUntyped)
  std::string key;
  std::string location;
};

// _rebuild_tensor_v2(storage, offset, sizes, strides, ...), already checked
// to lie inside the storage's numel elements.
struct TensorView {
  ObjectId storage = 0;
  int64_t offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};

const char* KindName(Object::Kind kind);
// "an int", "a list": for messages.
std::string KindWithArticle(Object::Kind kind);

struct Pickle {
  std::vector<Object> objects;
  std::vector<std::string> texts;
  std::vector<std::vector<ObjectId>> containers;  // kDict: key0, value0, key1, ...
  std::vector<StorageRef> storages;
  std::vector<TensorView> tensors;
  ObjectId root = 0;

  const Object& operator[](ObjectId id) const { return objects[id]; }
  Object::Kind KindOf(ObjectId id) const { return objects[id].kind; }
  const std::string& Text(ObjectId id) const { return texts[objects[id].index]; }
  const std::vector<ObjectId>& Items(ObjectId id) const { return containers[objects[id].index]; }
  const StorageRef& StorageOf(ObjectId id) const { return storages[objects[id].index]; }
  const TensorView& TensorOf(ObjectId id) const { return tensors[objects[id].index]; }
};

// `where` starts every error message, e.g. "/m/pytorch_model.bin: data.pkl".
// Any malformed, truncated or disallowed input → LTGBERT_BAD_CHECKPOINT.
Pickle Unpickle(const uint8_t* data, size_t size, const std::string& where);

}  // namespace ltgbert::io::pickle
