// Choosing the reader for a model folder or file, and the checks both writers
// share.
#include "io/checkpoint.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <fstream>
#include <unordered_set>

#include "common/error.h"
#include "io/files.h"
#include "io/internal.h"

namespace ltgbert::io {
namespace internal {
namespace {

// Python decodes names as UTF-8 (pickle strings, JSON): anything else would be
// written fine here and fail there, far from its cause.
bool IsUtf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t extra;
    uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace

bool IsSupportedDtype(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
    case at::kHalf:
    case at::kBFloat16:
    case at::kDouble:
    case at::kLong:
    case at::kInt:
    case at::kShort:
    case at::kChar:
    case at::kByte:
    case at::kBool:
      return true;
    default:
      return false;
  }
}

void CheckTensorsToWrite(const std::string& path, const TensorList& tensors, const char* reserved) {
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const NamedTensor& named = tensors[i];
    if (named.name.empty()) {
      Fail(ErrorCode::kInvalidArgument, path, ": tensor ", i, " has an empty name");
    }
    if (!IsUtf8(named.name)) {
      Fail(ErrorCode::kInvalidArgument, path, ": tensor ", i, ": its name is not valid UTF-8");
    }
    if (reserved != nullptr && named.name == reserved) {
      Fail(ErrorCode::kInvalidArgument, path, ": ", named.name, ": a reserved name in this format");
    }
    if (!seen.insert(named.name).second) {
      Fail(ErrorCode::kInvalidArgument, path, ": ", named.name, ": listed twice");
    }
    if (!named.tensor.defined()) {
      Fail(ErrorCode::kInvalidArgument, path, ": ", named.name, ": undefined tensor");
    }
    if (!IsSupportedDtype(named.tensor.scalar_type())) {
      Fail(ErrorCode::kInvalidArgument, path, ": ", named.name, ": dtype ", at::toString(named.tensor.scalar_type()),
           " cannot be saved (supported: float32, float16, bfloat16, float64, int64, int32, "
           "int16, int8, uint8, bool)");
    }
    if (named.tensor.is_meta()) {
      Fail(ErrorCode::kInvalidArgument, path, ": ", named.name, ": a meta tensor has no data");
    }
    if (named.tensor.layout() != at::kStrided) {
      Fail(ErrorCode::kInvalidArgument, path, ": ", named.name, ": only dense tensors can be saved, got layout ",
           named.tensor.layout());
    }
  }
}

at::Tensor CpuContiguous(const at::Tensor& tensor) { return tensor.detach().to(at::kCPU).contiguous(); }

std::string ShapeString(at::IntArrayRef shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace internal

namespace {

constexpr const char* kSafetensors = "model.safetensors";
constexpr const char* kSafetensorsIndex = "model.safetensors.index.json";
constexpr const char* kTorchArchive = "pytorch_model.bin";

// For a file whose name says nothing: a zip is a torch.save archive, and a
// safetensors file has its JSON header's '{' right after the length.
TensorList ReadByContent(const std::string& path) {
  unsigned char head[9] = {0};
  RequireRegularFile(path);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(head), sizeof(head));
  if (in.gcount() >= 4 && head[0] == 'P' && head[1] == 'K') return ReadTorchArchive(path);
  if (in.gcount() == 9 && head[8] == '{') return ReadSafetensors(path);
  Fail(ErrorCode::kBadCheckpoint, path,
       ": not a known checkpoint format (expected a .safetensors file, a .index.json index, "
       "or a torch.save .bin/.pt/.pth archive)");
}

}  // namespace

std::string FindCheckpointFile(const std::string& dir_or_file) {
  if (IsDirectory(dir_or_file)) {
    std::string not_regular;  // a candidate that is there but is no regular file
    for (const char* name : {kSafetensors, kSafetensorsIndex, kTorchArchive}) {
      std::string path = JoinPath(dir_or_file, name);
      if (IsFile(path)) return path;
      if (not_regular.empty() && Exists(path)) not_regular = path;
    }
    if (!not_regular.empty()) RequireRegularFile(not_regular);  // says what it is (a FIFO, a folder)
    Fail(ErrorCode::kFileNotFound, dir_or_file, ": no checkpoint in this folder (looked for ", kSafetensors, ", ",
         kSafetensorsIndex, " and ", kTorchArchive, ")");
  }
  if (!IsFile(dir_or_file)) {
    if (Exists(dir_or_file)) RequireRegularFile(dir_or_file);
    Fail(ErrorCode::kFileNotFound, dir_or_file, ": no such file or folder");
  }
  return dir_or_file;
}

TensorList ReadCheckpoint(const std::string& dir_or_file) {
  const std::string file = FindCheckpointFile(dir_or_file);
  if (EndsWith(file, ".safetensors")) return ReadSafetensors(file);
  if (EndsWith(file, ".index.json")) return ReadSafetensorsIndex(file);
  if (EndsWith(file, ".bin") || EndsWith(file, ".pt") || EndsWith(file, ".pth")) {
    return ReadTorchArchive(file);
  }
  return ReadByContent(file);
}

}  // namespace ltgbert::io
