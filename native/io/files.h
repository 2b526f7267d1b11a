// File primitives shared by the checkpoint formats: a whole file read into
// memory of its own, and a writer that replaces its target atomically. No torch
// here, so this compiles in a second.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace ltgbert::io {

// A whole regular file read into anonymous pages of the process: tensors may
// alias it, an in-place op on such a tensor changes only this copy, and a
// file changed or truncated on disk afterwards changes nothing here (a
// mapping of the file would fault, SIGBUS, where its pages went away).
class FileBuffer {
 public:
  // Missing file → LTGBERT_FILE_NOT_FOUND; not a regular file, or one that
  // shrinks while it is read → LTGBERT_BAD_CHECKPOINT; naming the path.
  static std::shared_ptr<FileBuffer> Open(const std::string& path);
  ~FileBuffer();
  FileBuffer(const FileBuffer&) = delete;
  FileBuffer& operator=(const FileBuffer&) = delete;

  const std::string& path() const { return path_; }
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  FileBuffer(std::string path, uint8_t* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  uint8_t* data_;  // nullptr for an empty file
  size_t size_;
};

// Gives the pages of [data, data + size) back to the system when they lie in
// a FileBuffer: a tensor read from a checkpoint and already copied into a
// model need not stay resident. They read as zeros afterwards, so only for a
// checkpoint read for one load and then dropped, never for a state dict the
// caller holds. Anything else is left alone. Keeps a load's peak near one
// copy of the weights rather than two.
void ReleaseFilePages(const void* data, size_t size);

// Fails unless `path` is a regular file that can be opened for reading:
// LTGBERT_FILE_NOT_FOUND when it cannot be opened, LTGBERT_BAD_CHECKPOINT
// naming what it is otherwise (a directory, a FIFO, a device). Never blocks.
void RequireRegularFile(const std::string& path);

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
// True when something (of any kind) is at `path`.
bool Exists(const std::string& path);
bool IsFile(const std::string& path);
bool IsDirectory(const std::string& path);

// The folder part of a path ("." when there is none) and the last component.
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);
std::string JoinPath(const std::string& dir, const std::string& name);
bool EndsWith(const std::string& text, const std::string& suffix);

}  // namespace ltgbert::io
