// Errors that cross the native boundary carry a stable code. The binding turns
// an `ltgbert::Error` into a JS error with that code; any other exception
// (c10::Error included) becomes LTGBERT_INTERNAL.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ltgbert {

enum class ErrorCode {
  kFileNotFound,
  kBadCheckpoint,
  kBadConfig,
  kShapeMismatch,
  kMissingKeys,
  kInvalidArgument,
  kDisposed,
  kDeviceUnavailable,
  kIo,
  kBusy,
  kOutOfMemory,
  kDistributed,
  kInternal,
};

inline const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kFileNotFound:
      return "LTGBERT_FILE_NOT_FOUND";
    case ErrorCode::kBadCheckpoint:
      return "LTGBERT_BAD_CHECKPOINT";
    case ErrorCode::kBadConfig:
      return "LTGBERT_BAD_CONFIG";
    case ErrorCode::kShapeMismatch:
      return "LTGBERT_SHAPE_MISMATCH";
    case ErrorCode::kMissingKeys:
      return "LTGBERT_MISSING_KEYS";
    case ErrorCode::kInvalidArgument:
      return "LTGBERT_INVALID_ARGUMENT";
    case ErrorCode::kDisposed:
      return "LTGBERT_DISPOSED";
    case ErrorCode::kDeviceUnavailable:
      return "LTGBERT_DEVICE_UNAVAILABLE";
    case ErrorCode::kIo:
      return "LTGBERT_IO";
    case ErrorCode::kBusy:
      return "LTGBERT_BUSY";
    case ErrorCode::kOutOfMemory:
      return "LTGBERT_OUT_OF_MEMORY";
    case ErrorCode::kDistributed:
      return "LTGBERT_DISTRIBUTED";
    case ErrorCode::kInternal:
      return "LTGBERT_INTERNAL";
  }
  return "LTGBERT_INTERNAL";
}

// The message starts with the file or key at fault, then expected and actual
// values: "model.safetensors: embedding.word_embedding.weight: expected ...".
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  const char* code_name() const { return ErrorCodeName(code_); }

 private:
  ErrorCode code_;
};

// Builds a message from streamable parts: Fail(kBadCheckpoint, path, ": ", ...).
template <typename... Parts>
[[noreturn]] void Fail(ErrorCode code, Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  throw Error(code, out.str());
}

}  // namespace ltgbert
