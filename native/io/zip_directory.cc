#include "io/zip_directory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/error.h"

namespace ltgbert::io {
namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50;
constexpr size_t kEndOfDirectorySize = 22;
constexpr size_t kMaxComment = 0xffff;
// No state dict's directory comes near this: a bound on what is read.
constexpr uint64_t kMaxDirectoryBytes = uint64_t{256} << 20;

uint16_t U16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t U32(const uint8_t* p) { return U16(p) | (static_cast<uint32_t>(U16(p + 2)) << 16); }
uint64_t U64(const uint8_t* p) { return U32(p) | (static_cast<uint64_t>(U32(p + 4)) << 32); }

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd_ < 0 || ::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      if (fd_ >= 0) ::close(fd_);
      Fail(ErrorCode::kBadCheckpoint, path, ": cannot be read as a zip archive");
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~Reader() { ::close(fd_); }

  uint64_t size() const { return size_; }

  std::vector<uint8_t> Read(uint64_t offset, uint64_t length, const char* what) const {
    if (offset > size_ || length > size_ - offset) {
      Fail(ErrorCode::kBadCheckpoint, path_, ": the zip's ", what, " (", length, " bytes at ", offset,
           ") runs past the end of the file (", size_, " bytes)");
    }
    std::vector<uint8_t> bytes(length);
    uint64_t done = 0;
    while (done < length) {
      const ssize_t n = ::pread(fd_, bytes.data() + done, length - done, static_cast<off_t>(offset + done));
      if (n <= 0) Fail(ErrorCode::kBadCheckpoint, path_, ": cannot read the zip's ", what);
      done += static_cast<uint64_t>(n);
    }
    return bytes;
  }

 private:
  const std::string& path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace

std::map<std::string, ZipEntry> ReadZipDirectory(const std::string& path) {
  Reader file(path);
  // The end-of-directory record: the last 22 bytes, or before a comment.
  const uint64_t tail_size = std::min<uint64_t>(file.size(), kEndOfDirectorySize + kMaxComment);
  const uint64_t tail_at = file.size() - tail_size;
  const std::vector<uint8_t> tail = file.Read(tail_at, tail_size, "end");
  int64_t end = -1;
  for (int64_t i = static_cast<int64_t>(tail_size) - static_cast<int64_t>(kEndOfDirectorySize); i >= 0; --i) {
    if (U32(&tail[i]) == kEndOfDirectory) {
      end = i;
      break;
    }
  }
  if (end < 0) Fail(ErrorCode::kBadCheckpoint, path, ": not a zip archive (no end-of-directory record)");
  uint64_t entries = U16(&tail[end + 10]);
  uint64_t directory_size = U32(&tail[end + 12]);
  uint64_t directory_at = U32(&tail[end + 16]);
  // Zip64: a locator right before points at the 64-bit record.
  if (end >= 20 && U32(&tail[end - 20]) == kZip64Locator) {
    const uint64_t record_at = U64(&tail[end - 20 + 8]);
    const std::vector<uint8_t> record = file.Read(record_at, 56, "zip64 end record");
    if (U32(record.data()) != kZip64EndOfDirectory) {
      Fail(ErrorCode::kBadCheckpoint, path, ": the zip64 end record is not where its locator says");
    }
    entries = U64(&record[32]);
    directory_size = U64(&record[40]);
    directory_at = U64(&record[48]);
  }
  if (directory_size > kMaxDirectoryBytes) {
    Fail(ErrorCode::kBadCheckpoint, path, ": a zip directory of ", directory_size, " bytes, above the limit of ",
         kMaxDirectoryBytes);
  }
  const std::vector<uint8_t> directory = file.Read(directory_at, directory_size, "central directory");

  std::map<std::string, ZipEntry> out;
  uint64_t at = 0;
  for (uint64_t n = 0; n < entries; ++n) {
    if (directory_size - at < 46 || U32(&directory[at]) != kDirectoryEntry) {
      Fail(ErrorCode::kBadCheckpoint, path, ": the zip directory's entry ", n, " is damaged");
    }
    const uint8_t* e = &directory[at];
    ZipEntry entry;
    entry.method = U16(e + 10);
    entry.compressed_size = U32(e + 20);
    entry.uncompressed_size = U32(e + 24);
    const uint64_t name_length = U16(e + 28), extra_length = U16(e + 30), comment_length = U16(e + 32);
    if (directory_size - at - 46 < name_length + extra_length + comment_length) {
      Fail(ErrorCode::kBadCheckpoint, path, ": the zip directory's entry ", n, " runs past the directory");
    }
    std::string name(reinterpret_cast<const char*>(e + 46), name_length);
    // Zip64 extra field (id 1): the 64-bit sizes, for those at 0xffffffff.
    const uint8_t* extra = e + 46 + name_length;
    for (uint64_t x = 0; x + 4 <= extra_length;) {
      const uint16_t id = U16(extra + x), length = U16(extra + x + 2);
      if (x + 4 + length > extra_length) break;
      if (id == 1) {
        uint64_t field = x + 4;
        if (entry.uncompressed_size == 0xffffffff && field + 8 <= x + 4 + length) {
          entry.uncompressed_size = U64(extra + field);
          field += 8;
        }
        if (entry.compressed_size == 0xffffffff && field + 8 <= x + 4 + length) {
          entry.compressed_size = U64(extra + field);
        }
      }
      x += 4 + length;
    }
    out[std::move(name)] = entry;
    at += 46 + name_length + extra_length + comment_length;
  }
  return out;
}

}  // namespace ltgbert::io
