// libFuzzer harness for the readers of untrusted files, built with ASan and
// UBSan (fuzz/run.sh). The first byte picks the reader, the rest is the
// file: 0 safetensors, 1 torch.save zip, 2 a pickle (data.pkl), 3 the model
// config JSON, 4 a safetensors index. A reader may refuse its input with
// ltgbert::Error of any code but LTGBERT_INTERNAL (which is for bugs); a
// crash, a sanitizer report, an internal error, any other exception, a hang
// or an allocation past libFuzzer's limit is a finding.
#include <c10/util/Exception.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "io/checkpoint.h"
#include "io/unpickler.h"
#include "model/config.h"

namespace {

// One in-memory file, rewritten for every input; its /proc path is what the
// path-taking readers open.
const std::string& FilePath() {
  static const std::string path = [] {
    const int fd = memfd_create("ltgbert-fuzz", MFD_CLOEXEC);
    if (fd < 0) std::abort();
    return "/proc/self/fd/" + std::to_string(fd);
  }();
  return path;
}

void WriteFile(const uint8_t* data, size_t size) {
  const int fd = std::stoi(FilePath().substr(FilePath().rfind('/') + 1));
  if (ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t target = data[0] % 5;
  const uint8_t* body = data + 1;
  const size_t length = size - 1;
  try {
    switch (target) {
      case 0:
        WriteFile(body, length);
        ltgbert::io::ReadSafetensors(FilePath());
        break;
      case 1:
        WriteFile(body, length);
        ltgbert::io::ReadTorchArchive(FilePath());
        break;
      case 2:
        ltgbert::io::pickle::Unpickle(body, length, "data.pkl");
        break;
      case 3:
        ltgbert::model::ParseConfig(std::string(reinterpret_cast<const char*>(body), length));
        break;
      case 4:
        // An index names shard files beside it; /proc/self/fd has none that
        // parse, so this reaches the index's own checks and the shard lookup.
        WriteFile(body, length);
        ltgbert::io::ReadSafetensorsIndex(FilePath());
        break;
    }
  } catch (const ltgbert::Error& e) {
    if (e.code() == ltgbert::ErrorCode::kInternal) {
      std::fprintf(stderr, "LTGBERT_INTERNAL from reader %d: %s\n", target, e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "an exception that is not an LtgBertError from reader %d: %s\n", target, e.what());
    std::abort();
  }
  return 0;
}
