// torch.save's zip format (torch >= 1.6): <archive>/data.pkl is a pickle of
// the saved object in which each storage is a persistent id naming the record
// <archive>/data/<key>; <archive>/version says the format version.
//
// Reading uses libtorch's PyTorchStreamReader for the zip and our restricted
// unpickler for data.pkl. Writing uses PyTorchStreamWriter and a pickle we
// emit ourselves in the shape torch.save gives a state dict (protocol 2, a
// dict of _rebuild_tensor_v2), which every torch.load reads, including
// weights_only=True. (libtorch's torch::pickle_save is not used: it wraps the
// dict in torch.jit._pickle.restore_type_tag, which weights_only refuses.)
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <unordered_map>

#include "common/error.h"
#include "io/checkpoint.h"
#include "io/files.h"
#include "io/internal.h"
#include "io/unpickler.h"
#include "io/zip_directory.h"

namespace ltgbert::io {
namespace {

using pickle::Object;
using pickle::ObjectId;
using pickle::StorageRef;
using pickle::StorageType;
using pickle::TensorView;

// Enough to recognise a training checkpoint in a message without printing all
// of it.
constexpr size_t kKeysInMessage = 5;

std::string FirstLine(const char* text) {
  std::string message(text);
  size_t newline = message.find('\n');
  return newline == std::string::npos ? message : message.substr(0, newline);
}

struct StorageDtype {
  StorageType storage;
  at::ScalarType type;
};

// torch.UntypedStorage counts bytes; a tensor over it is uint8.
constexpr StorageDtype kStorageDtypes[] = {
    {StorageType::kFloat, at::kFloat},   {StorageType::kHalf, at::kHalf},    {StorageType::kBFloat16, at::kBFloat16},
    {StorageType::kDouble, at::kDouble}, {StorageType::kLong, at::kLong},    {StorageType::kInt, at::kInt},
    {StorageType::kShort, at::kShort},   {StorageType::kChar, at::kChar},    {StorageType::kByte, at::kByte},
    {StorageType::kBool, at::kBool},     {StorageType::kUntyped, at::kByte},
};

at::ScalarType ScalarTypeOf(StorageType storage) {
  for (const StorageDtype& entry : kStorageDtypes) {
    if (entry.storage == storage) return entry.type;
  }
  return at::kByte;
}

StorageType StorageTypeOf(at::ScalarType type) {
  for (const StorageDtype& entry : kStorageDtypes) {
    if (entry.type == type && entry.storage != StorageType::kUntyped) return entry.storage;
  }
  Fail(ErrorCode::kInternal, "no storage class for ", at::toString(type));
}

// Why the file is not a zip, in words a user can act on.
void CheckZipMagic(const std::string& path) {
  unsigned char head[4] = {0};
  RequireRegularFile(path);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(head), sizeof(head));
  if (in.gcount() == 4 && head[0] == 'P' && head[1] == 'K') return;
  if (in.gcount() >= 1 && head[0] == 0x80) {
    Fail(ErrorCode::kBadCheckpoint, path,
         ": a legacy torch.save file (torch < 1.6 or _use_new_zipfile_serialization=False), "
         "which is not supported: load it in Python and save it again with torch.save");
  }
  std::string hex;
  for (std::streamsize i = 0; i < in.gcount(); ++i) {
    char byte[4];
    std::snprintf(byte, sizeof(byte), "%02x", head[i]);
    hex += (i > 0 ? " " : "") + std::string(byte);
  }
  Fail(ErrorCode::kBadCheckpoint, path, ": not a torch.save zip archive (it starts with ",
       hex.empty() ? "nothing, the file is empty" : hex, ")");
}

// A description of the top-level values for the "not a state dict" message.
std::string DescribeKeys(const pickle::Pickle& pickle, ObjectId dict) {
  const std::vector<ObjectId>& items = pickle.Items(dict);
  std::string out;
  size_t shown = 0;
  for (size_t i = 0; i < items.size() && shown < kKeysInMessage; i += 2, ++shown) {
    ObjectId key = items[i];
    if (!out.empty()) out += ", ";
    out += pickle.KindOf(key) == Object::Kind::kString ? "'" + pickle.Text(key) + "'"
                                                       : pickle::KindName(pickle.KindOf(key));
    out += std::string(" (") + pickle::KindName(pickle.KindOf(items[i + 1])) + ")";
  }
  if (items.size() / 2 > shown) {
    out += ", ... (" + std::to_string(items.size() / 2) + " keys)";
  }
  return out;
}

size_t CountTensors(const pickle::Pickle& pickle, ObjectId dict) {
  const std::vector<ObjectId>& items = pickle.Items(dict);
  size_t count = 0;
  for (size_t i = 1; i < items.size(); i += 2) {
    if (pickle.KindOf(items[i]) == Object::Kind::kTensor) ++count;
  }
  return count;
}

// A state dict is a flat dict of name -> tensor. A training checkpoint nests
// one ({"model": state_dict, "optimizer": ...}); we say which key holds it
// rather than guess, since a checkpoint may hold several models.
void CheckStateDict(const std::string& path, const pickle::Pickle& pickle) {
  if (pickle.KindOf(pickle.root) != Object::Kind::kDict) {
    Fail(ErrorCode::kBadCheckpoint, path, ": data.pkl holds ", pickle::KindWithArticle(pickle.KindOf(pickle.root)),
         ", expected a state dict (a dict of name -> tensor)");
  }
  const std::vector<ObjectId>& items = pickle.Items(pickle.root);
  size_t tensors = CountTensors(pickle, pickle.root);
  std::string nested_key;
  size_t nested_tensors = 0;
  for (size_t i = 0; i < items.size(); i += 2) {
    ObjectId key = items[i];
    ObjectId value = items[i + 1];
    if (pickle.KindOf(key) != Object::Kind::kString) {
      Fail(ErrorCode::kBadCheckpoint, path, ": data.pkl: a key of the state dict is ",
           pickle::KindWithArticle(pickle.KindOf(key)), ", expected a str");
    }
    if (pickle.KindOf(value) == Object::Kind::kDict && nested_key.empty()) {
      size_t count = CountTensors(pickle, value);
      if (count > 0) {
        nested_key = pickle.Text(key);
        nested_tensors = count;
      }
    }
  }
  if (nested_key.empty() && (tensors > 0 || items.empty())) return;
  std::string message = "the top level is not a state dict of tensors: it holds " + DescribeKeys(pickle, pickle.root);
  if (!nested_key.empty()) {
    message += "; '" + nested_key + "' holds a state dict of " + std::to_string(nested_tensors) +
               " tensors: save that one instead (torch.save(checkpoint['" + nested_key + "'], ...))";
  }
  Fail(ErrorCode::kBadCheckpoint, path, ": ", message);
}

// No state dict's pickle comes near this (about 100 bytes a tensor).
constexpr uint64_t kMaxPickleBytes = uint64_t{256} << 20;
// Weights deflate by a few percent; a record declaring more than this many
// times its compressed size (and more than kBombFloor bytes) is a zip bomb.
constexpr uint64_t kMaxInflateRatio = 16;
constexpr uint64_t kBombFloor = uint64_t{64} << 20;

// The archive's records by their name inside it ("data/0"), as libtorch's
// reader names them: the archive's top folder dropped.
std::map<std::string, ZipEntry> RecordsOf(const std::string& path) {
  std::map<std::string, ZipEntry> records;
  for (auto& [name, entry] : ReadZipDirectory(path)) {
    const size_t slash = name.find('/');
    if (slash != std::string::npos) records[name.substr(slash + 1)] = entry;
  }
  return records;
}

// Before libtorch's reader inflates `record`: what it declares must be what
// the pickle expects (`expected`, when known), within `limit`, and not a bomb.
void CheckRecord(const std::string& path, const std::map<std::string, ZipEntry>& records, const std::string& record,
                 const uint64_t* expected, uint64_t limit) {
  auto it = records.find(record);
  if (it == records.end()) return;  // the reader says it is missing
  const ZipEntry& e = it->second;
  if (expected != nullptr && e.uncompressed_size != *expected) {
    Fail(ErrorCode::kBadCheckpoint, path, ": the record ", record, " declares ", e.uncompressed_size,
         " bytes, but its tensor needs ", *expected);
  }
  if (e.uncompressed_size > limit) {
    Fail(ErrorCode::kBadCheckpoint, path, ": the record ", record, " declares ", e.uncompressed_size,
         " bytes, above the limit of ", limit);
  }
  if (e.method != 0 && e.uncompressed_size > kBombFloor && e.uncompressed_size / kMaxInflateRatio > e.compressed_size) {
    Fail(ErrorCode::kBadCheckpoint, path, ": the record ", record, " would inflate ", e.compressed_size,
         " compressed bytes to ", e.uncompressed_size, " (more than ", kMaxInflateRatio,
         " times: a zip bomb, not weights); refused before inflating");
  }
}

// Loads each data/<key> record once, so tensors that shared a storage in
// Python (a tied weight) share one here.
class StorageCache {
 public:
  StorageCache(const std::string& path, caffe2::serialize::PyTorchStreamReader& reader,
               const std::map<std::string, ZipEntry>& records)
      : path_(path), reader_(reader), records_(records) {}

  c10::Storage Get(const std::string& tensor_name, const StorageRef& storage) {
    const std::string record = "data/" + storage.key;
    size_t element_size = c10::elementSize(ScalarTypeOf(storage.type));
    auto it = storages_.find(storage.key);
    if (it == storages_.end()) {
      if (!reader_.hasRecord(record)) {
        Fail(ErrorCode::kBadCheckpoint, path_, ": ", tensor_name, ": the archive has no record ", record);
      }
      uint64_t declared = 0;
      if (__builtin_mul_overflow(static_cast<uint64_t>(storage.numel), element_size, &declared)) {
        Fail(ErrorCode::kBadCheckpoint, path_, ": ", tensor_name, ": ", storage.numel, " elements overflow");
      }
      CheckRecord(path_, records_, record, &declared, UINT64_MAX);
      at::DataPtr data;
      size_t nbytes = 0;
      std::tie(data, nbytes) = reader_.getRecord(record);
      c10::Storage loaded(c10::Storage::use_byte_size_t(), nbytes, std::move(data),
                          /*allocator=*/nullptr, /*resizable=*/false);
      it = storages_.emplace(storage.key, std::move(loaded)).first;
    }
    // Checked for every use: torch 2.x may view one record with two dtypes.
    uint64_t expected = 0;
    uint64_t nbytes = it->second.nbytes();
    if (__builtin_mul_overflow(static_cast<uint64_t>(storage.numel), element_size, &expected) || expected != nbytes) {
      Fail(ErrorCode::kBadCheckpoint, path_, ": ", tensor_name, ": ", record, " holds ", nbytes, " bytes, expected ",
           storage.numel, " elements of ", pickle::StorageTypeName(storage.type), " (", storage.numel, " x ",
           element_size, " bytes)");
    }
    return it->second;
  }

 private:
  const std::string& path_;
  caffe2::serialize::PyTorchStreamReader& reader_;
  const std::map<std::string, ZipEntry>& records_;
  std::unordered_map<std::string, c10::Storage> storages_;
};

// ---- writing

// Emits the pickle opcodes torch.save uses for a state dict. Globals are
// memoized so each is spelled once. Items go in batches of SETITEMS, as
// Python's pickler writes them: libtorch's own pickle_load knows SETITEMS but
// not SETITEM, so C++ readers can load the file too.
class StateDictPickler {
 public:
  std::string Finish() {
    if (in_batch_ > 0) out_ += 'u';  // SETITEMS
    out_.push_back('.');             // STOP
    return std::move(out_);
  }

  // A plain dict rather than torch.save's OrderedDict: Python keeps its order
  // and load_state_dict takes any mapping, while libtorch's pickle_load turns
  // a top-level OrderedDict() into None.
  void Begin() {
    out_ += "\x80\x02";  // PROTO 2
    out_ += '}';         // EMPTY_DICT
  }

  // `key` names the record data/<key> that holds the tensor's bytes.
  void Entry(const std::string& name, const std::string& key, const at::Tensor& tensor) {
    if (in_batch_ == 0) out_ += '(';  // MARK: a batch of items begins
    String(name);
    Global("torch._utils", "_rebuild_tensor_v2");
    out_ += "((";  // MARK (args) MARK (persistent id)
    String("storage");
    // "torch.FloatStorage" is spelled as module "torch", name "FloatStorage".
    std::string storage_class = pickle::StorageTypeName(StorageTypeOf(tensor.scalar_type()));
    Global("torch", storage_class.substr(storage_class.find('.') + 1));
    String(key);
    String("cpu");
    Int(tensor.numel());
    out_ += "tQ";  // TUPLE BINPERSID
    Int(0);        // storage offset
    std::vector<int64_t> sizes = tensor.sizes().vec();
    std::vector<int64_t> strides(sizes.size(), 1);
    for (size_t d = sizes.size(); d-- > 1;) {
      strides[d - 1] = strides[d] * std::max<int64_t>(sizes[d], 1);
    }
    IntTuple(sizes);
    IntTuple(strides);
    out_ += "\x89";  // NEWFALSE: requires_grad
    Global("collections", "OrderedDict");
    out_ += ")R";  // backward hooks: OrderedDict()
    out_ += "tR";  // TUPLE REDUCE
    if (++in_batch_ == kBatchSize) {
      out_ += 'u';  // SETITEMS
      in_batch_ = 0;
    }
  }

 private:
  void Global(const std::string& module, const std::string& name) {
    std::string full = module + "\n" + name + "\n";
    auto it = memo_.find(full);
    if (it != memo_.end()) {
      out_ += 'j';  // LONG_BINGET
      U32(it->second);
      return;
    }
    out_ += 'c' + full;  // GLOBAL
    uint32_t index = static_cast<uint32_t>(memo_.size());
    memo_[full] = index;
    out_ += 'r';  // LONG_BINPUT
    U32(index);
  }

  void String(const std::string& text) {
    out_ += 'X';  // BINUNICODE
    U32(static_cast<uint32_t>(text.size()));
    out_ += text;
  }

  void Int(int64_t value) {
    if (value >= INT32_MIN && value <= INT32_MAX) {
      out_ += 'J';  // BININT
      U32(static_cast<uint32_t>(static_cast<int32_t>(value)));
      return;
    }
    out_ += "\x8a\x08";  // LONG1 of 8 bytes, two's complement little-endian
    uint64_t bits = static_cast<uint64_t>(value);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(bits >> (8 * i)));
  }

  void IntTuple(const std::vector<int64_t>& values) {
    out_ += '(';
    for (int64_t value : values) Int(value);
    out_ += 't';
  }

  void U32(uint32_t value) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(value >> (8 * i)));
  }

  static constexpr size_t kBatchSize = 1000;  // Python's pickler's batch size

  std::string out_;
  std::map<std::string, uint32_t> memo_;
  size_t in_batch_ = 0;
};

}  // namespace

TensorList ReadTorchArchive(const std::string& path) {
  if (!IsFile(path)) Fail(ErrorCode::kFileNotFound, path, ": no such file");
  CheckZipMagic(path);
  const std::map<std::string, ZipEntry> records = RecordsOf(path);
  CheckRecord(path, records, "data.pkl", nullptr, kMaxPickleBytes);

  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  at::DataPtr pickle_data;
  size_t pickle_size = 0;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
    // TorchScript archives have a data.pkl too, full of __torch__ globals;
    // constants.pkl tells them apart before the unpickler refuses those.
    if (reader->hasRecord("constants.pkl")) {
      Fail(ErrorCode::kBadCheckpoint, path,
           ": a TorchScript archive (torch.jit.save), not a state dict: save "
           "model.state_dict() with torch.save instead");
    }
    if (!reader->hasRecord("data.pkl")) {
      Fail(ErrorCode::kBadCheckpoint, path, ": the archive has no data.pkl record");
    }
    std::tie(pickle_data, pickle_size) = reader->getRecord("data.pkl");
  } catch (const c10::Error& e) {
    Fail(ErrorCode::kBadCheckpoint, path,
         ": not a readable torch.save archive: ", FirstLine(e.what_without_backtrace()));
  }

  pickle::Pickle pickle =
      pickle::Unpickle(static_cast<const uint8_t*>(pickle_data.get()), pickle_size, path + ": data.pkl");
  pickle_data.clear();
  CheckStateDict(path, pickle);

  StorageCache storages(path, *reader, records);
  const std::vector<ObjectId>& items = pickle.Items(pickle.root);
  TensorList tensors;
  for (size_t i = 0; i < items.size(); i += 2) {
    if (pickle.KindOf(items[i + 1]) != Object::Kind::kTensor) continue;  // e.g. a version number
    const std::string& name = pickle.Text(items[i]);
    const TensorView& view = pickle.TensorOf(items[i + 1]);
    // The reader and set_ throw c10::Error on a damaged zip, a record too
    // large to allocate, or (a second line behind the unpickler's check) a
    // view outside its storage.
    try {
      const StorageRef& storage = pickle.StorageOf(view.storage);
      c10::Storage bytes = storages.Get(name, storage);
      at::Tensor tensor = at::empty({0}, at::TensorOptions().dtype(ScalarTypeOf(storage.type)));
      tensor.set_(bytes, view.offset, view.sizes, view.strides);
      tensors.push_back({name, std::move(tensor)});
    } catch (const c10::Error& e) {
      Fail(ErrorCode::kBadCheckpoint, path, ": ", name, ": ", FirstLine(e.what_without_backtrace()));
    }
  }
  return tensors;
}

void WriteTorchArchive(const std::string& path, const TensorList& tensors) {
  internal::CheckTensorsToWrite(path, tensors, /*reserved=*/nullptr);

  StateDictPickler pickler;
  pickler.Begin();
  for (size_t i = 0; i < tensors.size(); ++i) {
    pickler.Entry(tensors[i].name, std::to_string(i), tensors[i].tensor);
  }
  std::string data_pkl = pickler.Finish();

  AtomicFile file(path);
  // miniz (inside the writer) is C: an exception must not unwind through it.
  // The callback records the first failure and claims success; we rethrow it
  // once the writer is done.
  std::exception_ptr write_error;
  auto write = [&file, &write_error](const void* data, size_t size) -> size_t {
    if (!write_error) {
      try {
        file.Write(data, size);
      } catch (...) {
        write_error = std::current_exception();
      }
    }
    return size;
  };
  try {
    caffe2::serialize::PyTorchStreamWriter writer(write);
    writer.writeRecord("data.pkl", data_pkl.data(), data_pkl.size());
    // torch >= 2.0 writes it too; older readers ignore it.
    writer.writeRecord("byteorder", "little", 6);
    for (size_t i = 0; i < tensors.size(); ++i) {
      at::Tensor cpu = internal::CpuContiguous(tensors[i].tensor);
      static const char kEmpty = 0;
      const void* bytes = cpu.numel() > 0 ? cpu.data_ptr() : &kEmpty;
      writer.writeRecord("data/" + std::to_string(i), bytes, cpu.nbytes());
      if (write_error) break;
    }
    writer.writeEndOfFile();
  } catch (const c10::Error& e) {
    Fail(ErrorCode::kIo, path, ": cannot write the archive: ", FirstLine(e.what_without_backtrace()));
  }
  if (write_error) std::rethrow_exception(write_error);
  file.Commit();
}

}  // namespace ltgbert::io
