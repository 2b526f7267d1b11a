// The safetensors format: an 8-byte little-endian header length, a JSON
// header {name: {"dtype", "shape", "data_offsets": [begin, end]}, and
// "__metadata__": {str: str}}, then the raw little-endian data, offsets
// counted from the end of the header.
#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/error.h"
#include "io/checkpoint.h"
#include "io/files.h"
#include "io/internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader maps it without swapping bytes"
#endif

namespace ltgbert::io {
namespace {

using nlohmann::json;

struct Dtype {
  const char* name;
  at::ScalarType type;
  size_t size;
};

constexpr Dtype kDtypes[] = {
    {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},  {"BF16", at::kBFloat16, 2}, {"F64", at::kDouble, 8},
    {"I64", at::kLong, 8},  {"I32", at::kInt, 4},   {"I16", at::kShort, 2},     {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},   {"BOOL", at::kBool, 1},
};
constexpr const char* kSupportedDtypes = "F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL";

// The safetensors library refuses headers above 100 MB; so do we, before
// handing a huge buffer to the JSON parser.
constexpr uint64_t kMaxHeaderSize = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

const Dtype* FindDtype(const std::string& name) {
  for (const Dtype& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const Dtype& DtypeOf(at::ScalarType type) {
  for (const Dtype& d : kDtypes) {
    if (d.type == type) return d;
  }
  Fail(ErrorCode::kInternal, "no safetensors dtype for ", at::toString(type));
}

// Whether `value` is small and shallow enough to dump() for a message: dump()
// recurses once per level, and a hostile header nested a million deep would
// overflow the stack. Walks with its own stack, visiting at most kMaxNodes.
bool IsSmall(const json& value) {
  constexpr int kMaxDepth = 8;
  constexpr size_t kMaxNodes = 256;
  std::vector<std::pair<const json*, int>> pending = {{&value, 0}};
  size_t visited = 0;
  while (!pending.empty()) {
    auto [node, depth] = pending.back();
    pending.pop_back();
    if (++visited > kMaxNodes) return false;
    if (!node->is_structured()) continue;
    if (depth >= kMaxDepth) return false;
    for (const json& child : *node) pending.emplace_back(&child, depth + 1);
  }
  return true;
}

// Short enough for a message even when the header is hostile.
std::string Excerpt(const json& value) {
  if (!IsSmall(value)) {
    return std::string("a large or deeply nested JSON ") + (value.is_array() ? "array" : "object");
  }
  std::string text = value.dump();
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

struct Entry {
  std::string name;
  const Dtype* dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

Entry ParseEntry(const std::string& path, const std::string& name, const json& value, uint64_t data_size) {
  if (!value.is_object()) {
    Fail(ErrorCode::kBadCheckpoint, path, ": ", name, ": expected an object with dtype, shape and data_offsets, got ",
         Excerpt(value));
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(field)) {
      Fail(ErrorCode::kBadCheckpoint, path, ": ", name, ": missing \"", field, "\"");
    }
  }
  Entry entry;
  entry.name = name;

  const json& dtype = value["dtype"];
  if (!dtype.is_string()) {
    Fail(ErrorCode::kBadCheckpoint, path, ": ", name, ": dtype should be a string, got ", Excerpt(dtype));
  }
  entry.dtype = FindDtype(dtype.get<std::string>());
  if (entry.dtype == nullptr) {
    Fail(ErrorCode::kBadCheckpoint, path, ": ", name, ": unsupported dtype ", dtype.dump(),
         " (supported: ", kSupportedDtypes, ")");
  }

  const json& shape = value["shape"];
  bool shape_ok = shape.is_array() && shape.size() <= 64;
  uint64_t numel = 1;
  for (size_t i = 0; shape_ok && i < shape.size(); ++i) {
    const json& dim = shape[i];
    shape_ok = dim.is_number_unsigned() || (dim.is_number_integer() && dim.get<int64_t>() >= 0);
    if (!shape_ok) break;
    uint64_t d = dim.get<uint64_t>();
    if (d > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, d, &numel)) {
      Fail(ErrorCode::kBadCheckpoint, path, ": ", name, ": shape ", Excerpt(shape), " overflows 64 bits");
    }
    entry.shape.push_back(static_cast<int64_t>(d));
  }
  if (!shape_ok) {
    Fail(ErrorCode::kBadCheckpoint, path, ": ", name,
         ": shape should be a list of at most 64 non-negative integers, got ", Excerpt(shape));
  }

  const json& offsets = value["data_offsets"];
  bool offsets_ok = offsets.is_array() && offsets.size() == 2;
  for (size_t i = 0; offsets_ok && i < 2; ++i) {
    offsets_ok = offsets[i].is_number_unsigned() || (offsets[i].is_number_integer() && offsets[i].get<int64_t>() >= 0);
  }
  if (!offsets_ok) {
    Fail(ErrorCode::kBadCheckpoint, path, ": ", name,
         ": data_offsets should be two non-negative integers [begin, end], got ", Excerpt(offsets));
  }
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  if (entry.begin > entry.end) {
    Fail(ErrorCode::kBadCheckpoint, path, ": ", name, ": data_offsets [", entry.begin, ", ", entry.end,
         "] end before they begin");
  }
  if (entry.end > data_size) {
    Fail(ErrorCode::kBadCheckpoint, path, ": ", name, ": data_offsets [", entry.begin, ", ", entry.end,
         "] end outside the data section (", data_size, " bytes)");
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(entry.dtype->size), &nbytes) ||
      nbytes != entry.end - entry.begin) {
    Fail(ErrorCode::kBadCheckpoint, path, ": ", name, ": data_offsets [", entry.begin, ", ", entry.end, "] hold ",
         entry.end - entry.begin, " bytes, but shape ", internal::ShapeString(entry.shape), " of ", entry.dtype->name,
         " needs ", numel, " x ", entry.dtype->size, " bytes");
  }
  return entry;
}

// Aliases the file's buffer when the element type's alignment allows it; otherwise
// (a header length that is not a multiple of 8, as some writers produce) a
// copy, because reading a misaligned float is undefined behaviour.
at::Tensor MakeTensor(const std::shared_ptr<FileBuffer>& file, const uint8_t* data, const Entry& entry) {
  at::TensorOptions options = at::TensorOptions().dtype(entry.dtype->type);
  const uint8_t* begin = data + entry.begin;
  size_t nbytes = static_cast<size_t>(entry.end - entry.begin);
  if (nbytes == 0) return at::empty(entry.shape, options);
  if (reinterpret_cast<uintptr_t>(begin) % entry.dtype->size != 0) {
    at::Tensor copy = at::empty(entry.shape, options);
    std::memcpy(copy.data_ptr(), begin, nbytes);
    return copy;
  }
  std::shared_ptr<FileBuffer> keep_alive = file;
  return at::from_blob(
      const_cast<uint8_t*>(begin), entry.shape, [keep_alive](void*) {}, options);
}

json ParseJson(const std::string& path, const char* begin, const char* end, const char* what) {
  try {
    return json::parse(begin, end);
  } catch (const json::exception& e) {
    Fail(ErrorCode::kBadCheckpoint, path, ": invalid JSON ", what, ": ", e.what());
  }
}

// The tensors of a shard, or of a file named directly.
TensorList ReadShard(const std::string& path) {
  return EndsWith(path, ".bin") ? ReadTorchArchive(path) : ReadSafetensors(path);
}

}  // namespace

TensorList ReadSafetensors(const std::string& path) {
  std::shared_ptr<FileBuffer> file = FileBuffer::Open(path);
  const uint8_t* bytes = file->data();
  uint64_t size = file->size();
  if (size < 8) {
    Fail(ErrorCode::kBadCheckpoint, path, ": truncated: ", size, " bytes, expected at least the 8-byte header length");
  }
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  if (header_size > size - 8) {
    Fail(ErrorCode::kBadCheckpoint, path, ": header length ", header_size, " larger than the file (", size, " bytes)");
  }
  if (header_size > kMaxHeaderSize) {
    Fail(ErrorCode::kBadCheckpoint, path, ": header length ", header_size, " above the limit of ", kMaxHeaderSize,
         " bytes");
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes + 8);
  json header = ParseJson(path, header_begin, header_begin + header_size, "header");
  if (!header.is_object()) {
    Fail(ErrorCode::kBadCheckpoint, path, ": the header should be a JSON object, got ", Excerpt(header));
  }

  const uint8_t* data = bytes + 8 + header_size;
  uint64_t data_size = size - 8 - header_size;
  std::vector<Entry> entries;
  entries.reserve(header.size());
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) continue;
    entries.push_back(ParseEntry(path, name, value, data_size));
  }
  // The order of the data in the file: the order the writer chose.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });

  // As the reference library requires: the tensors tile the data section,
  // from 0 to its end, with no hole and no overlap.
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    if (entry.begin < covered) {
      Fail(ErrorCode::kBadCheckpoint, path, ": ", entry.name, ": data_offsets [", entry.begin, ", ", entry.end,
           "] overlap those of ", previous->name, " [", previous->begin, ", ", previous->end, "]");
    }
    if (entry.begin > covered) {
      Fail(ErrorCode::kBadCheckpoint, path, ": ", entry.name, ": data_offsets [", entry.begin, ", ", entry.end,
           "] leave a hole of ", entry.begin - covered, " bytes after ",
           previous == nullptr ? std::string("the header") : previous->name);
    }
    covered = entry.end;
    previous = &entry;
  }
  if (covered != data_size) {
    Fail(ErrorCode::kBadCheckpoint, path, ": the data section holds ", data_size, " bytes, but the tensors cover ",
         covered);
  }

  TensorList tensors;
  tensors.reserve(entries.size());
  for (const Entry& entry : entries) {
    tensors.push_back({entry.name, MakeTensor(file, data, entry)});
  }
  return tensors;
}

TensorList ReadSafetensorsIndex(const std::string& index_path) {
  RequireRegularFile(index_path);  // first: opening a FIFO would wait for a writer
  std::ifstream in(index_path, std::ios::binary);
  if (!in) {
    Fail(ErrorCode::kFileNotFound, index_path, ": cannot open");
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json index = ParseJson(index_path, text.data(), text.data() + text.size(), "index");
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    Fail(ErrorCode::kBadCheckpoint, index_path,
         ": expected an object with a \"weight_map\" object of key -> shard file");
  }

  // Shards in name order (model-00001-of-00003, ...), each with its keys.
  std::map<std::string, std::set<std::string>> shards;
  for (const auto& [key, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) {
      Fail(ErrorCode::kBadCheckpoint, index_path, ": weight_map: ", key, ": expected a shard file name, got ",
           Excerpt(shard));
    }
    shards[shard.get<std::string>()].insert(key);
  }

  std::string dir = DirName(index_path);
  TensorList tensors;
  for (const auto& [shard, keys] : shards) {
    // A shard is a file beside the index; an index must not reach elsewhere.
    if (shard.empty() || shard[0] == '/' || shard == ".." || shard.rfind("../", 0) == 0 ||
        shard.find("/../") != std::string::npos || EndsWith(shard, "/..")) {
      Fail(ErrorCode::kBadCheckpoint, index_path, ": weight_map names the shard '", shard,
           "', which is not a file name inside the index's folder");
    }
    std::string shard_path = JoinPath(dir, shard);
    if (!IsFile(shard_path)) {
      Fail(ErrorCode::kFileNotFound, shard_path, ": no such file (", index_path, " puts ", keys.size(),
           keys.size() == 1 ? " key" : " keys", " in it, e.g. ", *keys.begin(), ")");
    }
    std::set<std::string> found;
    for (NamedTensor& named : ReadShard(shard_path)) {
      if (keys.count(named.name) == 0) {
        Fail(ErrorCode::kBadCheckpoint, shard_path, ": ", named.name, ": not listed for this shard in ", index_path,
             "'s weight_map");
      }
      found.insert(named.name);
      tensors.push_back(std::move(named));
    }
    for (const std::string& key : keys) {
      if (found.count(key) == 0) {
        Fail(ErrorCode::kBadCheckpoint, index_path, ": ", key, ": weight_map puts it in ", shard,
             ", which does not hold it");
      }
    }
  }
  return tensors;
}

void WriteSafetensors(const std::string& path, const TensorList& tensors,
                      const std::map<std::string, std::string>& metadata) {
  internal::CheckTensorsToWrite(path, tensors, kMetadataKey);

  // ordered_json keeps the header in the order the data is written.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  if (metadata.count("format") == 0) meta["format"] = "pt";
  for (const auto& [key, value] : metadata) meta[key] = value;
  header[kMetadataKey] = std::move(meta);
  uint64_t offset = 0;
  for (const NamedTensor& named : tensors) {
    const Dtype& dtype = DtypeOf(named.tensor.scalar_type());
    uint64_t nbytes = static_cast<uint64_t>(named.tensor.numel()) * dtype.size;
    header[named.name] = {
        {"dtype", dtype.name}, {"shape", named.tensor.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    // Names were checked to be UTF-8; metadata may still not be.
    Fail(ErrorCode::kInvalidArgument, path, ": metadata cannot be written as JSON: ", e.what());
  }
  // Spaces up to a multiple of 8 keep the data 8-byte aligned for readers
  // that map the file, as the safetensors library does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  AtomicFile file(path);
  uint8_t length[8];
  uint64_t header_size = header_text.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(header_size >> (8 * i));
  file.Write(length, sizeof(length));
  file.Write(header_text.data(), header_text.size());
  // One tensor on the CPU at a time: saving a CUDA model needs no second copy
  // of it in host memory.
  for (const NamedTensor& named : tensors) {
    at::Tensor cpu = internal::CpuContiguous(named.tensor);
    file.Write(cpu.data_ptr(), cpu.nbytes());
  }
  file.Commit();
}

}  // namespace ltgbert::io
