#include "io/files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <utility>

#include "common/error.h"

namespace ltgbert::io {
namespace {

// A missing file or folder is LTGBERT_FILE_NOT_FOUND; anything else (a
// refused, read-only or full target, an I/O error) is LTGBERT_IO.
ErrorCode CodeForErrno(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return ErrorCode::kFileNotFound;
    default:  // a refused, read-only or full target, an I/O error
      return ErrorCode::kIo;
  }
}

// Live file buffers, begin -> size, for ReleaseFilePages.
std::mutex g_buffers_mutex;
std::map<uintptr_t, size_t> g_buffers;

}  // namespace

void ReleaseFilePages(const void* data, size_t size) {
  const auto begin = reinterpret_cast<uintptr_t>(data);
  std::lock_guard<std::mutex> lock(g_buffers_mutex);
  auto it = g_buffers.upper_bound(begin);
  if (it == g_buffers.begin()) return;
  --it;
  if (begin < it->first || begin + size > it->first + it->second) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page;  // whole pages inside the range only
  const uintptr_t last = (begin + size) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

// What a path that is not a regular file is, for the error message.
static const char* FileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// Opens `path` for reading when it is a regular file; else fails naming what
// it is. O_NONBLOCK: opening a FIFO for reading would wait for a writer for
// ever; it changes nothing for a regular file, the only kind read.
static int OpenRegularFile(const std::string& path, struct stat& st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int error = errno;
    Fail(ErrorCode::kFileNotFound, path, ": cannot open (", std::strerror(error), ")");
  }
  if (::fstat(fd, &st) != 0) {
    int error = errno;
    ::close(fd);
    Fail(ErrorCode::kIo, path, ": cannot stat (", std::strerror(error), ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    Fail(ErrorCode::kBadCheckpoint, path, ": not a regular file (", FileKind(st.st_mode), ")");
  }
  return fd;
}

void RequireRegularFile(const std::string& path) {
  struct stat st;
  ::close(OpenRegularFile(path, st));
}

std::shared_ptr<FileBuffer> FileBuffer::Open(const std::string& path) {
  struct stat st;
  int fd = OpenRegularFile(path, st);
  size_t size = static_cast<size_t>(st.st_size);
  uint8_t* data = nullptr;
  if (size > 0) {
    // Anonymous pages of our own, not a mapping of the file: a file that is
    // truncated or rewritten in place later (Python's save_file does that)
    // cannot take pages away from under a tensor (SIGBUS); the data read
    // here stays what was read.
    void* mapped = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) {
      int error = errno;
      ::close(fd);
      Fail(ErrorCode::kIo, path, ": cannot allocate ", size, " bytes to read it (", std::strerror(error), ")");
    }
    data = static_cast<uint8_t*>(mapped);
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pread(fd, data + done, std::min<size_t>(size - done, size_t{64} << 20), done);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      const int error = n < 0 ? errno : 0;
      ::munmap(data, size);
      ::close(fd);
      if (n == 0)
        Fail(ErrorCode::kBadCheckpoint, path, ": changed while it was read (", size, " bytes, ended at ", done, ")");
      Fail(ErrorCode::kIo, path, ": cannot read (", std::strerror(error), ")");
    }
  }
  ::close(fd);
  if (data != nullptr) {
    std::lock_guard<std::mutex> lock(g_buffers_mutex);
    g_buffers[reinterpret_cast<uintptr_t>(data)] = size;
  }
  return std::shared_ptr<FileBuffer>(new FileBuffer(path, data, size));
}

FileBuffer::~FileBuffer() {
  if (data_ != nullptr) {
    {
      std::lock_guard<std::mutex> lock(g_buffers_mutex);
      g_buffers.erase(reinterpret_cast<uintptr_t>(data_));
    }
    ::munmap(data_, size_);
  }
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  std::string dir = DirName(path_);
  if (!IsDirectory(dir)) {
    Fail(ErrorCode::kFileNotFound, path_, ": the folder ", dir, " does not exist");
  }
  std::random_device device;
  std::mt19937_64 random(device());
  // O_EXCL and a random suffix: two saves to the same target (two processes,
  // or two models in one) never share a temporary file.
  for (int attempt = 0; attempt < 16 && fd_ < 0; ++attempt) {
    char suffix[32];
    std::snprintf(suffix, sizeof(suffix), "%08llx", static_cast<unsigned long long>(random() & 0xffffffffULL));
    temp_path_ = JoinPath(dir, "." + BaseName(path_) + ".tmp-" + std::to_string(::getpid()) + "-" + suffix);
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) FailErrno("cannot create", errno);
  }
  if (fd_ < 0) FailErrno("cannot create", EEXIST);
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(temp_path_.c_str());
}

void AtomicFile::FailErrno(const char* what, int error) const {
  Fail(CodeForErrno(error), path_, ": ", what, " ", temp_path_, " (", std::strerror(error), ")");
}

void AtomicFile::Write(const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    // Linux moves at most ~2 GiB per write(2); a large tensor takes several.
    size_t chunk = size < (size_t{1} << 30) ? size : (size_t{1} << 30);
    ssize_t written = ::write(fd_, bytes, chunk);
    if (written < 0) {
      if (errno == EINTR) continue;
      FailErrno("cannot write", errno);
    }
    bytes += written;
    size -= static_cast<size_t>(written);
    bytes_written_ += static_cast<uint64_t>(written);
  }
}

void AtomicFile::Commit() {
  if (::fsync(fd_) != 0) FailErrno("cannot flush", errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) FailErrno("cannot close", errno);
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    int error = errno;
    Fail(CodeForErrno(error), path_, ": cannot replace it with ", temp_path_, " (", std::strerror(error), ")");
  }
  committed_ = true;
  // Best effort: some file systems refuse fsync on a directory, and the data
  // itself is already safe.
  int dir_fd = ::open(DirName(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir == ".") return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace ltgbert::io
