#include "io/unpickler.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "common/error.h"

namespace ltgbert::io::pickle {
namespace {

// Opcode bytes are facts of the pickle format (Lib/pickletools.py documents
// them). Only what torch.save can emit for a state dict, protocols 2 to 5.
enum Opcode : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kList = 'l',
  kEmptyList = ']',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kProto = 0x80,
  kNewObj = 0x81,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

struct OpcodeInfo {
  uint8_t op;
  const char* name;
};

// Names as pickletools prints them, for messages.
constexpr OpcodeInfo kOpcodeNames[] = {
    {kMark, "MARK"},
    {kStop, "STOP"},
    {kPop, "POP"},
    {kPopMark, "POP_MARK"},
    {kDup, "DUP"},
    {kBinFloat, "BINFLOAT"},
    {kBinInt, "BININT"},
    {kBinInt1, "BININT1"},
    {kBinInt2, "BININT2"},
    {kNone, "NONE"},
    {kBinPersId, "BINPERSID"},
    {kReduce, "REDUCE"},
    {kBinString, "BINSTRING"},
    {kShortBinString, "SHORT_BINSTRING"},
    {kBinUnicode, "BINUNICODE"},
    {kAppend, "APPEND"},
    {kBuild, "BUILD"},
    {kGlobal, "GLOBAL"},
    {kDict, "DICT"},
    {kEmptyDict, "EMPTY_DICT"},
    {kAppends, "APPENDS"},
    {kBinGet, "BINGET"},
    {kLongBinGet, "LONG_BINGET"},
    {kList, "LIST"},
    {kEmptyList, "EMPTY_LIST"},
    {kBinPut, "BINPUT"},
    {kLongBinPut, "LONG_BINPUT"},
    {kSetItem, "SETITEM"},
    {kTuple, "TUPLE"},
    {kEmptyTuple, "EMPTY_TUPLE"},
    {kSetItems, "SETITEMS"},
    {kBinBytes, "BINBYTES"},
    {kShortBinBytes, "SHORT_BINBYTES"},
    {kProto, "PROTO"},
    {kNewObj, "NEWOBJ"},
    {kTuple1, "TUPLE1"},
    {kTuple2, "TUPLE2"},
    {kTuple3, "TUPLE3"},
    {kNewTrue, "NEWTRUE"},
    {kNewFalse, "NEWFALSE"},
    {kLong1, "LONG1"},
    {kLong4, "LONG4"},
    {kShortBinUnicode, "SHORT_BINUNICODE"},
    {kBinUnicode8, "BINUNICODE8"},
    {kBinBytes8, "BINBYTES8"},
    {kStackGlobal, "STACK_GLOBAL"},
    {kMemoize, "MEMOIZE"},
    {kFrame, "FRAME"},
};

const char* OpcodeName(uint8_t op) {
  for (const OpcodeInfo& info : kOpcodeNames) {
    if (info.op == op) return info.name;
  }
  return nullptr;
}

struct StorageClass {
  const char* name;
  StorageType type;
};

// Both spellings of the untyped storage: torch 2.x pickles the class under
// its defining module or under the `torch` re-export.
constexpr StorageClass kStorageClasses[] = {
    {"torch.FloatStorage", StorageType::kFloat},       {"torch.HalfStorage", StorageType::kHalf},
    {"torch.BFloat16Storage", StorageType::kBFloat16}, {"torch.DoubleStorage", StorageType::kDouble},
    {"torch.LongStorage", StorageType::kLong},         {"torch.IntStorage", StorageType::kInt},
    {"torch.ShortStorage", StorageType::kShort},       {"torch.CharStorage", StorageType::kChar},
    {"torch.ByteStorage", StorageType::kByte},         {"torch.BoolStorage", StorageType::kBool},
    {"torch.UntypedStorage", StorageType::kUntyped},   {"torch.storage.UntypedStorage", StorageType::kUntyped},
};

constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensorV2 = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kRebuildParameterWithState = "torch._utils._rebuild_parameter_with_state";
// libtorch's C++ torch::pickle_save wraps its dict in restore_type_tag(dict,
// "Dict[str, Tensor]"); the call only attaches a TorchScript type, so it is
// read as the dict itself.
constexpr const char* kRestoreTypeTag = "torch.jit._pickle.restore_type_tag";

const StorageClass* FindStorageClass(const std::string& name) {
  for (const StorageClass& c : kStorageClasses) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

bool IsAllowedGlobal(const std::string& name) {
  return name == kOrderedDict || name == kRebuildTensorV2 || name == kRebuildParameter ||
         name == kRebuildParameterWithState || name == kRestoreTypeTag || FindStorageClass(name) != nullptr;
}

static_assert(sizeof(Object) == 16, "Object is meant to stay small: see unpickler.h");

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const std::string& where) : data_(data), size_(size), where_(where) {}

  Pickle Run() {
    while (true) {
      if (pos_ >= size_) {
        Fail(ErrorCode::kBadCheckpoint, where_, ": truncated: ", size_, " bytes end without a STOP opcode");
      }
      op_offset_ = pos_;
      op_ = data_[pos_++];
      if (op_ == kStop) break;
      Step();
    }
    if (stack_.empty()) Bad("the stack is empty, expected the pickled object");
    pickle_.root = stack_.back();
    return std::move(pickle_);
  }

 private:
  static constexpr ObjectId kUnset = UINT32_MAX;

  // Every message names the opcode and where it sits, so a corrupt file can
  // be compared with `python -m pickletools`.
  template <typename... Parts>
  [[noreturn]] void Bad(Parts&&... parts) const {
    const char* name = OpcodeName(op_);
    Fail(ErrorCode::kBadCheckpoint, where_, ": ", name ? name : "opcode", " at offset ", op_offset_, ": ",
         std::forward<Parts>(parts)...);
  }

  // ---- reading the byte stream; every read is bounds-checked first.

  const uint8_t* Take(uint64_t n) {
    if (n > size_ - pos_) {
      Fail(ErrorCode::kBadCheckpoint, where_, ": truncated: ", OpcodeName(op_), " at offset ", op_offset_, " needs ", n,
           " more bytes, ", size_ - pos_, " remain");
    }
    const uint8_t* p = data_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }

  // Little-endian unsigned of `n` bytes (n <= 8).
  uint64_t ReadUnsigned(int n) {
    const uint8_t* p = Take(n);
    uint64_t value = 0;
    for (int i = n - 1; i >= 0; --i) value = (value << 8) | p[i];
    return value;
  }

  // Two's complement little-endian integer of any length that fits in int64.
  int64_t ReadLong(uint64_t n) {
    if (n > 8) Bad("an integer of ", n, " bytes does not fit in 64 bits");
    if (n == 0) return 0;
    const uint8_t* p = Take(n);
    uint64_t value = 0;
    for (int i = static_cast<int>(n) - 1; i >= 0; --i) value = (value << 8) | p[i];
    if (n < 8 && (p[n - 1] & 0x80) != 0) value |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(value);
  }

  std::string ReadString(uint64_t n) {
    const uint8_t* p = Take(n);
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }

  std::string ReadLine() {
    const void* newline = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (newline == nullptr) {
      Fail(ErrorCode::kBadCheckpoint, where_, ": truncated: ", OpcodeName(op_), " at offset ", op_offset_,
           " has no end of line");
    }
    size_t length = static_cast<const uint8_t*>(newline) - (data_ + pos_);
    std::string line = ReadString(length);
    ++pos_;
    return line;
  }

  // ---- the object arena and the stack.

  ObjectId New(Object::Kind kind, size_t index = 0) {
    // Each opcode makes at most one object, so only a pickle of 4 GiB could
    // get here; say so rather than wrap around.
    if (pickle_.objects.size() >= kUnset || index >= kUnset) Bad("more than 2^32 objects");
    Object object;
    object.kind = kind;
    object.index = static_cast<uint32_t>(index);
    pickle_.objects.push_back(object);
    return static_cast<ObjectId>(pickle_.objects.size() - 1);
  }
  ObjectId NewInt(int64_t value) {
    ObjectId id = New(Object::Kind::kInt);
    pickle_.objects[id].int_value = value;
    return id;
  }
  ObjectId NewText(std::string text, Object::Kind kind) {
    pickle_.texts.push_back(std::move(text));
    return New(kind, pickle_.texts.size() - 1);
  }
  ObjectId NewContainer(Object::Kind kind, std::vector<ObjectId> items = {}) {
    pickle_.containers.push_back(std::move(items));
    return New(kind, pickle_.containers.size() - 1);
  }
  // None, True, False and () are immutable: one object each serves every
  // occurrence, as in CPython.
  ObjectId Singleton(ObjectId& slot, Object::Kind kind, int64_t value = 0) {
    if (slot == kUnset) {
      slot = kind == Object::Kind::kTuple ? NewContainer(kind) : New(kind);
      pickle_.objects[slot].int_value = value;
    }
    return slot;
  }

  Object::Kind KindOf(ObjectId id) const { return pickle_.objects[id].kind; }
  std::vector<ObjectId>& Items(ObjectId id) { return pickle_.containers[pickle_.objects[id].index]; }

  // Values below the innermost MARK belong to an outer construct: like
  // CPython's unpickler, an opcode may not reach past it.
  size_t Fence() const { return marks_.empty() ? 0 : marks_.back(); }

  void Push(ObjectId id) { stack_.push_back(id); }
  ObjectId Pop() {
    if (stack_.size() <= Fence()) Bad("the stack is empty");
    ObjectId id = stack_.back();
    stack_.pop_back();
    return id;
  }
  ObjectId Top() {
    if (stack_.size() <= Fence()) Bad("the stack is empty");
    return stack_.back();
  }
  std::vector<ObjectId> PopMark() {
    if (marks_.empty()) Bad("no MARK before it");
    size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ObjectId> items(stack_.begin() + mark, stack_.end());
    stack_.resize(mark);
    return items;
  }

  void Expect(ObjectId id, Object::Kind kind, const char* what) {
    if (KindOf(id) != kind) {
      Bad("expected ", what, " to be ", KindWithArticle(kind), ", got ", KindWithArticle(KindOf(id)));
    }
  }
  const std::string& ExpectText(ObjectId id, Object::Kind kind, const char* what) {
    Expect(id, kind, what);
    return pickle_.Text(id);
  }
  int64_t ExpectInt(ObjectId id, const char* what) {
    if (KindOf(id) != Object::Kind::kInt && KindOf(id) != Object::Kind::kBool) {
      Bad("expected ", what, " to be an integer, got ", KindWithArticle(KindOf(id)));
    }
    return pickle_.objects[id].int_value;
  }
  // A copy: the caller may add objects, which can move the containers.
  std::vector<ObjectId> ExpectTuple(ObjectId id, const char* what) {
    Expect(id, Object::Kind::kTuple, what);
    return Items(id);
  }

  void Memoize(uint64_t index) { memo_[index] = Top(); }
  void Recall(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) Bad("memo entry ", index, " was never stored");
    Push(it->second);
  }

  // Python dict semantics: a repeated key replaces the value in place.
  void SetItem(ObjectId dict, ObjectId key, ObjectId value) {
    if (KindOf(dict) != Object::Kind::kDict) {
      Bad("can only set items on a dict, got ", KindWithArticle(KindOf(dict)));
    }
    std::vector<ObjectId>& items = Items(dict);
    if (KindOf(key) == Object::Kind::kString) {
      auto& index = dict_index_[dict];
      auto [it, inserted] = index.emplace(pickle_.Text(key), items.size());
      if (!inserted) {
        items[it->second + 1] = value;
        return;
      }
    }
    items.push_back(key);
    items.push_back(value);
  }

  void Append(ObjectId list, const std::vector<ObjectId>& values) {
    if (KindOf(list) != Object::Kind::kList) {
      Bad("can only append to a list, got ", KindWithArticle(KindOf(list)));
    }
    std::vector<ObjectId>& items = Items(list);
    items.insert(items.end(), values.begin(), values.end());
  }

  // The allowlist is checked when the global is named, not when it is called:
  // nothing outside it ever gets as far as the stack.
  ObjectId MakeGlobal(const std::string& module, const std::string& name) {
    std::string full = module + "." + name;
    if (!IsAllowedGlobal(full)) {
      if (module == "torch" && name.size() > 7 && name.compare(name.size() - 7, 7, "Storage") == 0) {
        Fail(ErrorCode::kBadCheckpoint, where_, " uses the storage type '", full,
             "', which is not supported (supported: Float, Half, BFloat16, Double, Long, Int, "
             "Short, Char, Byte, Bool)");
      }
      Fail(ErrorCode::kBadCheckpoint, where_, " refers to the global '", full, "', which a checkpoint may not use");
    }
    return NewText(std::move(full), Object::Kind::kGlobal);
  }

  ObjectId Call(ObjectId callable, ObjectId args_id) {
    const std::string name = ExpectText(callable, Object::Kind::kGlobal, "the callable");
    const std::vector<ObjectId> args = ExpectTuple(args_id, "the arguments");
    if (name == kOrderedDict) {
      if (!args.empty()) Bad("OrderedDict called with ", args.size(), " arguments, expected 0");
      return NewContainer(Object::Kind::kDict);
    }
    if (name == kRebuildTensorV2) return RebuildTensor(args);
    if (name == kRebuildParameter || name == kRebuildParameterWithState) {
      size_t expected = name == kRebuildParameter ? 3 : 4;
      if (args.size() != expected) {
        Bad(name, " called with ", args.size(), " arguments, expected ", expected);
      }
      Expect(args[0], Object::Kind::kTensor, "the parameter's data");
      return args[0];
    }
    if (name == kRestoreTypeTag) {
      if (args.size() != 2) Bad(name, " called with ", args.size(), " arguments, expected 2");
      return args[0];
    }
    Bad("'", name, "' cannot be called");
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  // backward_hooks[, metadata]). The view must lie inside the storage, so a
  // crafted offset or stride cannot make a tensor read past its buffer.
  ObjectId RebuildTensor(const std::vector<ObjectId>& args) {
    if (args.size() != 6 && args.size() != 7) {
      Bad("_rebuild_tensor_v2 called with ", args.size(), " arguments, expected 6 or 7");
    }
    Expect(args[0], Object::Kind::kStorage, "the storage");
    const int64_t numel = pickle_.StorageOf(args[0]).numel;
    const std::string key = pickle_.StorageOf(args[0]).key;
    TensorView view;
    view.storage = args[0];
    view.offset = ExpectInt(args[1], "the storage offset");
    view.sizes = IntTuple(args[2], "the size");
    view.strides = IntTuple(args[3], "the stride");
    const std::vector<int64_t>& sizes = view.sizes;
    const std::vector<int64_t>& strides = view.strides;
    if (sizes.size() != strides.size()) {
      Bad("storage '", key, "': size has ", sizes.size(), " dimensions but stride has ", strides.size());
    }
    if (view.offset < 0) Bad("storage '", key, "': negative storage offset ", view.offset);
    // Index of the last element the view touches; an empty view touches none.
    int64_t last = view.offset;
    bool empty = false;
    for (size_t d = 0; d < sizes.size(); ++d) {
      if (sizes[d] < 0 || strides[d] < 0) {
        Bad("storage '", key, "': negative size or stride in dimension ", d);
      }
      if (sizes[d] == 0) empty = true;
    }
    if (!empty) {
      for (size_t d = 0; d < sizes.size(); ++d) {
        int64_t reach = 0;
        if (__builtin_mul_overflow(sizes[d] - 1, strides[d], &reach) || __builtin_add_overflow(last, reach, &last)) {
          Bad("storage '", key, "': size and stride overflow 64 bits");
        }
      }
    }
    if (empty ? view.offset > numel : last >= numel) {
      Bad("storage '", key, "' holds ", numel, " elements but the tensor at offset ", view.offset, " reaches element ",
          last, " (", Describe(sizes), " with stride ", Describe(strides), ")");
    }
    pickle_.tensors.push_back(std::move(view));
    return New(Object::Kind::kTensor, pickle_.tensors.size() - 1);
  }

  std::vector<int64_t> IntTuple(ObjectId id, const char* what) {
    Expect(id, Object::Kind::kTuple, what);
    const std::vector<ObjectId>& items = Items(id);
    // torch itself stops at 64 dimensions; a longer tuple is a crafted file.
    if (items.size() > 64) Bad("expected ", what, " to have at most 64 dimensions, got ", items.size());
    std::vector<int64_t> values;
    for (ObjectId item : items) values.push_back(ExpectInt(item, what));
    return values;
  }

  static std::string Describe(const std::vector<int64_t>& values) {
    std::string out = "[";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ", ";
      out += std::to_string(values[i]);
    }
    return out + "]";
  }

  // torch.save's persistent id for a storage: ('storage', storage class,
  // key of the record data/<key>, location, numel).
  ObjectId PersistentLoad(ObjectId pid_id) {
    const std::vector<ObjectId> pid = ExpectTuple(pid_id, "the persistent id");
    if (pid.size() != 5) Bad("expected a persistent id of 5 items, got ", pid.size());
    const std::string& tag = ExpectText(pid[0], Object::Kind::kString, "the persistent id's tag");
    if (tag != "storage") Bad("expected the persistent id tag 'storage', got '", tag, "'");
    const std::string& type_name = ExpectText(pid[1], Object::Kind::kGlobal, "the storage class");
    const StorageClass* storage_class = FindStorageClass(type_name);
    if (storage_class == nullptr) Bad("'", type_name, "' is not a storage class");
    StorageRef storage;
    storage.type = storage_class->type;
    storage.key = ExpectText(pid[2], Object::Kind::kString, "the storage key");
    storage.location = ExpectText(pid[3], Object::Kind::kString, "the storage location");
    storage.numel = ExpectInt(pid[4], "the storage size");
    if (storage.numel < 0) Bad("storage '", storage.key, "' has a negative size ", storage.numel);
    pickle_.storages.push_back(std::move(storage));
    return New(Object::Kind::kStorage, pickle_.storages.size() - 1);
  }

  void Step() {
    switch (op_) {
      case kProto: {
        uint64_t version = ReadUnsigned(1);
        if (version > 5) Bad("pickle protocol ", version, " is newer than 5");
        break;
      }
      case kFrame:  // a size hint for buffered readers; the bytes follow as usual
        Take(8);
        break;
      case kMark:
        marks_.push_back(stack_.size());
        break;
      case kPop:
        // CPython pops the mark itself when nothing is above it.
        if (stack_.size() > Fence()) {
          stack_.pop_back();
        } else {
          PopMark();
        }
        break;
      case kPopMark:
        PopMark();
        break;
      case kDup:
        Push(Top());
        break;

      case kNone:
        Push(Singleton(none_, Object::Kind::kNone));
        break;
      case kNewTrue:
        Push(Singleton(true_, Object::Kind::kBool, 1));
        break;
      case kNewFalse:
        Push(Singleton(false_, Object::Kind::kBool, 0));
        break;
      case kBinInt:
        Push(NewInt(static_cast<int32_t>(ReadUnsigned(4))));
        break;
      case kBinInt1:
        Push(NewInt(static_cast<int64_t>(ReadUnsigned(1))));
        break;
      case kBinInt2:
        Push(NewInt(static_cast<int64_t>(ReadUnsigned(2))));
        break;
      case kLong1:
        Push(NewInt(ReadLong(ReadUnsigned(1))));
        break;
      case kLong4: {
        int32_t n = static_cast<int32_t>(ReadUnsigned(4));
        if (n < 0) Bad("negative integer length ", n);
        Push(NewInt(ReadLong(static_cast<uint64_t>(n))));
        break;
      }
      case kBinFloat: {
        // Big-endian IEEE 754 double.
        const uint8_t* p = Take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
        ObjectId id = New(Object::Kind::kFloat);
        std::memcpy(&pickle_.objects[id].float_value, &bits, sizeof(bits));
        Push(id);
        break;
      }

      case kShortBinUnicode:
      case kShortBinString:
        Push(NewText(ReadString(ReadUnsigned(1)), Object::Kind::kString));
        break;
      case kBinUnicode:
        Push(NewText(ReadString(ReadUnsigned(4)), Object::Kind::kString));
        break;
      case kBinString: {
        int32_t n = static_cast<int32_t>(ReadUnsigned(4));
        if (n < 0) Bad("negative string length ", n);
        Push(NewText(ReadString(static_cast<uint64_t>(n)), Object::Kind::kString));
        break;
      }
      case kBinUnicode8:
        Push(NewText(ReadString(ReadUnsigned(8)), Object::Kind::kString));
        break;
      case kShortBinBytes:
        Push(NewText(ReadString(ReadUnsigned(1)), Object::Kind::kBytes));
        break;
      case kBinBytes:
        Push(NewText(ReadString(ReadUnsigned(4)), Object::Kind::kBytes));
        break;
      case kBinBytes8:
        Push(NewText(ReadString(ReadUnsigned(8)), Object::Kind::kBytes));
        break;

      case kEmptyTuple:
        Push(Singleton(empty_tuple_, Object::Kind::kTuple));
        break;
      case kTuple:
        Push(NewContainer(Object::Kind::kTuple, PopMark()));
        break;
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        size_t n = op_ - kTuple1 + 1;
        if (stack_.size() < Fence() + n) Bad("needs ", n, " values on the stack");
        std::vector<ObjectId> items(stack_.end() - n, stack_.end());
        stack_.resize(stack_.size() - n);
        Push(NewContainer(Object::Kind::kTuple, std::move(items)));
        break;
      }
      case kEmptyList:
        Push(NewContainer(Object::Kind::kList));
        break;
      case kList:
        Push(NewContainer(Object::Kind::kList, PopMark()));
        break;
      case kAppend: {
        ObjectId value = Pop();
        Append(Top(), {value});
        break;
      }
      case kAppends: {
        std::vector<ObjectId> items = PopMark();
        Append(Top(), items);
        break;
      }
      case kEmptyDict:
        Push(NewContainer(Object::Kind::kDict));
        break;
      case kDict:
      case kSetItems: {
        std::vector<ObjectId> items = PopMark();
        if (items.size() % 2 != 0) Bad("expected key/value pairs, got ", items.size(), " values");
        ObjectId dict = op_ == kDict ? NewContainer(Object::Kind::kDict) : Top();
        for (size_t i = 0; i < items.size(); i += 2) SetItem(dict, items[i], items[i + 1]);
        if (op_ == kDict) Push(dict);
        break;
      }
      case kSetItem: {
        ObjectId value = Pop();
        ObjectId key = Pop();
        SetItem(Top(), key, value);
        break;
      }

      case kBinPut:
        Memoize(ReadUnsigned(1));
        break;
      case kLongBinPut:
        Memoize(ReadUnsigned(4));
        break;
      case kMemoize:
        Memoize(memo_.size());
        break;
      case kBinGet:
        Recall(ReadUnsigned(1));
        break;
      case kLongBinGet:
        Recall(ReadUnsigned(4));
        break;

      case kGlobal: {
        std::string module = ReadLine();
        std::string name = ReadLine();
        Push(MakeGlobal(module, name));
        break;
      }
      case kStackGlobal: {
        ObjectId name = Pop();
        ObjectId module = Pop();
        Push(MakeGlobal(ExpectText(module, Object::Kind::kString, "the module"),
                        ExpectText(name, Object::Kind::kString, "the name")));
        break;
      }
      case kReduce:
      case kNewObj: {
        ObjectId args = Pop();
        ObjectId callable = Pop();
        Push(Call(callable, args));
        break;
      }
      case kBuild: {
        // An OrderedDict's state is its attributes (a state dict's _metadata),
        // not its items: nothing a tensor list needs.
        Pop();
        ObjectId target = Top();
        if (KindOf(target) != Object::Kind::kDict) {
          Bad("can only set the state of a dict, got ", KindWithArticle(KindOf(target)));
        }
        break;
      }
      case kBinPersId:
        Push(PersistentLoad(Pop()));
        break;

      default: {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "0x%02x", op_);
        Fail(ErrorCode::kBadCheckpoint, where_, ": unknown or unsupported opcode ", hex, " at offset ", op_offset_);
      }
    }
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_offset_ = 0;
  uint8_t op_ = 0;
  std::string where_;
  Pickle pickle_;
  std::vector<ObjectId> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ObjectId> memo_;
  // Per dict, the position of each string key, so a repeated key is found in
  // constant time even in a crafted dict of a million entries.
  std::unordered_map<ObjectId, std::unordered_map<std::string, size_t>> dict_index_;
  ObjectId none_ = kUnset;
  ObjectId true_ = kUnset;
  ObjectId false_ = kUnset;
  ObjectId empty_tuple_ = kUnset;
};

}  // namespace

const char* StorageTypeName(StorageType type) {
  for (const StorageClass& c : kStorageClasses) {
    if (c.type == type) return c.name;
  }
  return "torch.UntypedStorage";
}

const char* KindName(Object::Kind kind) {
  switch (kind) {
    case Object::Kind::kNone:
      return "None";
    case Object::Kind::kBool:
      return "bool";
    case Object::Kind::kInt:
      return "int";
    case Object::Kind::kFloat:
      return "float";
    case Object::Kind::kString:
      return "str";
    case Object::Kind::kBytes:
      return "bytes";
    case Object::Kind::kTuple:
      return "tuple";
    case Object::Kind::kList:
      return "list";
    case Object::Kind::kDict:
      return "dict";
    case Object::Kind::kGlobal:
      return "global";
    case Object::Kind::kStorage:
      return "storage";
    case Object::Kind::kTensor:
      return "tensor";
  }
  return "object";
}

std::string KindWithArticle(Object::Kind kind) {
  return std::string(kind == Object::Kind::kInt ? "an " : "a ") + KindName(kind);
}

Pickle Unpickle(const uint8_t* data, size_t size, const std::string& where) {
  return Unpickler(data, size, where).Run();
}

}  // namespace ltgbert::io::pickle
