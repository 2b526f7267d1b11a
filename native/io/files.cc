#include "io/files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

// Live mappings, begin -> size, for ReleaseMappedPages.
std::mutex g_mappings_mutex;
std::map<uintptr_t, size_t> g_mappings;

}  // namespace

void ReleaseMappedPages(const void* data, size_t size) {
  const auto begin = reinterpret_cast<uintptr_t>(data);
  std::lock_guard<std::mutex> lock(g_mappings_mutex);
  auto it = g_mappings.upper_bound(begin);
  if (it == g_mappings.begin()) return;
  --it;
  if (begin < it->first || begin + size > it->first + it->second) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page;  // whole pages inside the range only
  const uintptr_t last = (begin + size) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

std::shared_ptr<MappedFile> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    Fail(ErrorCode::kFileNotFound, path, ": cannot open (", std::strerror(error), ")");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    Fail(ErrorCode::kFileNotFound, path, ": not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  uint8_t* data = nullptr;
  if (size > 0) {
    void* mapped = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) {
      int error = errno;
      ::close(fd);
      Fail(ErrorCode::kInternal, path, ": cannot map ", size, " bytes (", std::strerror(error), ")");
    }
    data = static_cast<uint8_t*>(mapped);
  }
  // The mapping keeps the file's pages reachable; the descriptor is not needed.
  ::close(fd);
  if (data != nullptr) {
    std::lock_guard<std::mutex> lock(g_mappings_mutex);
    g_mappings[reinterpret_cast<uintptr_t>(data)] = size;
  }
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) {
    {
      std::lock_guard<std::mutex> lock(g_mappings_mutex);
      g_mappings.erase(reinterpret_cast<uintptr_t>(data_));
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
