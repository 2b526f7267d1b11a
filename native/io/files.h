// File primitives shared by the checkpoint formats: a read-only view of a whole
// file through mmap, and a writer that replaces its target atomically. No torch
// here, so this compiles in a second.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace ltgbert::io {

// A whole file mapped copy-on-write: tensors may alias it, and an in-place op
// on such a tensor changes the process's private copy, never the file (and
// never faults, as a read-only mapping would).
class MappedFile {
 public:
  // Missing or unreadable file → LTGBERT_FILE_NOT_FOUND naming the path.
  static std::shared_ptr<MappedFile> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile(std::string path, uint8_t* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  uint8_t* data_;  // nullptr for an empty file: mmap refuses length 0
  size_t size_;
};

// Lets the kernel drop the pages of [data, data + size) when they lie in a
// MappedFile's mapping: a tensor read from a checkpoint and already copied
// into a model need not stay resident (the file's pages are read again if
// touched). Anything else is left alone. Keeps a load's peak near one copy
// of the weights rather than two.
void ReleaseMappedPages(const void* data, size_t size);

// Writes to `.<name>.tmp-<pid>-<random>` beside the target and renames it over
// the target on Commit(), so a reader never sees half a checkpoint and a failed
// save leaves the previous one intact. Destroyed without Commit() (an exception
// on the way), it removes the temporary file.
class AtomicFile {
 public:
  // The target's folder must exist: else LTGBERT_FILE_NOT_FOUND naming it.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void Write(const void* data, size_t size);
  // fsync, rename over the target, fsync the folder so the rename survives a
  // crash too.
  void Commit();

  const std::string& path() const { return path_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  [[noreturn]] void FailErrno(const char* what, int error) const;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t bytes_written_ = 0;
  bool committed_ = false;
};

// True when `path` names an existing regular file / directory.
bool IsFile(const std::string& path);
bool IsDirectory(const std::string& path);

// The folder part of a path ("." when there is none) and the last component.
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);
std::string JoinPath(const std::string& dir, const std::string& name);
bool EndsWith(const std::string& text, const std::string& suffix);

}  // namespace ltgbert::io
