#include "io/unpickler.h"

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

  ObjectId New(Object::Kind kind) {
    pickle_.objects.emplace_back();
    pickle_.objects.back().kind = kind;
    return pickle_.objects.size() - 1;
  }
  Object& At(ObjectId id) { return pickle_.objects[id]; }

  ObjectId NewInt(int64_t value, Object::Kind kind = Object::Kind::kInt) {
    ObjectId id = New(kind);
    At(id).int_value = value;
    return id;
  }
  ObjectId NewText(std::string text, Object::Kind kind) {
    ObjectId id = New(kind);
    At(id).text = std::move(text);
    return id;
  }

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

  const Object& Expect(ObjectId id, Object::Kind kind, const char* what) {
    const Object& object = At(id);
    if (object.kind != kind) {
      Bad("expected ", what, " to be ", KindWithArticle(kind), ", got ", KindWithArticle(object.kind));
    }
    return object;
  }
  int64_t ExpectInt(ObjectId id, const char* what) {
    const Object& object = At(id);
    if (object.kind != Object::Kind::kInt && object.kind != Object::Kind::kBool) {
      Bad("expected ", what, " to be an integer, got ", KindWithArticle(object.kind));
    }
    return object.int_value;
  }

  void Memoize(uint64_t index) { memo_[index] = Top(); }
  void Recall(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) Bad("memo entry ", index, " was never stored");
    Push(it->second);
  }

  // Python dict semantics: a repeated key replaces the value in place.
  void SetItem(ObjectId dict, ObjectId key, ObjectId value) {
    if (At(dict).kind != Object::Kind::kDict) {
      Bad("can only set items on a dict, got ", KindWithArticle(At(dict).kind));
    }
    if (At(key).kind == Object::Kind::kString) {
      auto& index = dict_index_[dict];
      auto [it, inserted] = index.emplace(At(key).text, At(dict).items.size());
      if (!inserted) {
        At(dict).items[it->second + 1] = value;
        return;
      }
    }
    At(dict).items.push_back(key);
    At(dict).items.push_back(value);
  }

  void Append(ObjectId list, const std::vector<ObjectId>& items) {
    if (At(list).kind != Object::Kind::kList) {
      Bad("can only append to a list, got ", KindWithArticle(At(list).kind));
    }
    At(list).items.insert(At(list).items.end(), items.begin(), items.end());
  }

  ObjectId MakeTuple(std::vector<ObjectId> items) {
    ObjectId id = New(Object::Kind::kTuple);
    At(id).items = std::move(items);
    return id;
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
    const std::string name = Expect(callable, Object::Kind::kGlobal, "the callable").text;
    const std::vector<ObjectId> args = Expect(args_id, Object::Kind::kTuple, "the arguments").items;
    if (name == kOrderedDict) {
      if (!args.empty()) Bad("OrderedDict called with ", args.size(), " arguments, expected 0");
      return New(Object::Kind::kDict);
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
    const Object& storage = Expect(args[0], Object::Kind::kStorage, "the storage");
    int64_t numel = storage.numel;
    std::string key = storage.text;
    int64_t offset = ExpectInt(args[1], "the storage offset");
    std::vector<int64_t> sizes = IntTuple(args[2], "the size");
    std::vector<int64_t> strides = IntTuple(args[3], "the stride");
    // torch itself stops at 64 dimensions; a longer tuple is a crafted file.
    if (sizes.size() > 64) Bad("storage '", key, "': ", sizes.size(), " dimensions, at most 64");
    if (sizes.size() != strides.size()) {
      Bad("storage '", key, "': size has ", sizes.size(), " dimensions but stride has ", strides.size());
    }
    if (offset < 0) Bad("storage '", key, "': negative storage offset ", offset);
    // Index of the last element the view touches; an empty view touches none.
    int64_t last = offset;
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
    if (empty ? offset > numel : last >= numel) {
      Bad("storage '", key, "' holds ", numel, " elements but the tensor at offset ", offset, " reaches element ", last,
          " (", Describe(sizes), " with stride ", Describe(strides), ")");
    }
    ObjectId id = New(Object::Kind::kTensor);
    Object& tensor = At(id);
    tensor.storage = args[0];
    tensor.storage_offset = offset;
    tensor.sizes = std::move(sizes);
    tensor.strides = std::move(strides);
    tensor.pickle_offset = op_offset_;
    return id;
  }

  std::vector<int64_t> IntTuple(ObjectId id, const char* what) {
    std::vector<ObjectId> items = Expect(id, Object::Kind::kTuple, what).items;
    std::vector<int64_t> values;
    values.reserve(items.size());
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
    const std::vector<ObjectId> pid = Expect(pid_id, Object::Kind::kTuple, "the persistent id").items;
    if (pid.size() != 5) Bad("expected a persistent id of 5 items, got ", pid.size());
    const Object& tag = Expect(pid[0], Object::Kind::kString, "the persistent id's tag");
    if (tag.text != "storage") Bad("expected the persistent id tag 'storage', got '", tag.text, "'");
    const std::string type_name = Expect(pid[1], Object::Kind::kGlobal, "the storage class").text;
    const StorageClass* storage_class = FindStorageClass(type_name);
    if (storage_class == nullptr) Bad("'", type_name, "' is not a storage class");
    std::string key = Expect(pid[2], Object::Kind::kString, "the storage key").text;
    std::string location = Expect(pid[3], Object::Kind::kString, "the storage location").text;
    int64_t numel = ExpectInt(pid[4], "the storage size");
    if (numel < 0) Bad("storage '", key, "' has a negative size ", numel);
    ObjectId id = New(Object::Kind::kStorage);
    Object& storage = At(id);
    storage.text = std::move(key);
    storage.storage_type = storage_class->type;
    storage.location = std::move(location);
    storage.numel = numel;
    return id;
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
        Push(New(Object::Kind::kNone));
        break;
      case kNewTrue:
      case kNewFalse:
        Push(NewInt(op_ == kNewTrue ? 1 : 0, Object::Kind::kBool));
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
        double value;
        std::memcpy(&value, &bits, sizeof(value));
        ObjectId id = New(Object::Kind::kFloat);
        At(id).float_value = value;
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
        Push(MakeTuple({}));
        break;
      case kTuple:
        Push(MakeTuple(PopMark()));
        break;
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        size_t n = op_ - kTuple1 + 1;
        if (stack_.size() < Fence() + n) Bad("needs ", n, " values on the stack");
        std::vector<ObjectId> items(stack_.end() - n, stack_.end());
        stack_.resize(stack_.size() - n);
        Push(MakeTuple(std::move(items)));
        break;
      }
      case kEmptyList:
        Push(New(Object::Kind::kList));
        break;
      case kList: {
        std::vector<ObjectId> items = PopMark();
        ObjectId id = New(Object::Kind::kList);
        At(id).items = std::move(items);
        Push(id);
        break;
      }
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
        Push(New(Object::Kind::kDict));
        break;
      case kDict:
      case kSetItems: {
        std::vector<ObjectId> items = PopMark();
        if (items.size() % 2 != 0) Bad("expected key/value pairs, got ", items.size(), " values");
        ObjectId dict = op_ == kDict ? New(Object::Kind::kDict) : Top();
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
        Push(MakeGlobal(Expect(module, Object::Kind::kString, "the module").text,
                        Expect(name, Object::Kind::kString, "the name").text));
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
        const Object& target = At(Top());
        if (target.kind != Object::Kind::kDict) {
          Bad("can only set the state of a dict, got ", KindWithArticle(target.kind));
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
