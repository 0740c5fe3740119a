// write_file_durably: temporary file, fsync, rename, folder fsync; the helpers it is built from.
#include "common/atomic_file.h"

#include "common/error.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace halo {

namespace fs = std::filesystem;

void write_all(int fd, const void* data, size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    // Linux writes at most about 2 GiB per call; 1 GiB pieces for checkpoint tensors.
    const ssize_t n = ::write(fd, p, std::min<size_t>(size, size_t{1} << 30));
    if (n < 0 && errno == EINTR) continue;
    HALO_CHECK(n > 0, "cannot write '", path, "': ", n < 0 ? std::strerror(errno) : "no progress",
               " (disk full?)");
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void fsync_path(const fs::path& path) {
  const int fd =
      ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (fs::is_directory(path) ? O_DIRECTORY : 0));
  HALO_CHECK(fd >= 0, path.string(), ": cannot open for fsync: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  HALO_CHECK(rc == 0, path.string(), ": fsync failed: ", std::strerror(err), " (disk full?)");
}

void write_file_durably(const fs::path& path, const std::function<void(const std::string&)>& fill) {
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  try {
    fill(tmp);
    fsync_path(tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      HALO_FAIL("cannot rename '", tmp, "' to '", path.string(), "': ", std::strerror(errno));
    }
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fsync_path(dir);
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  write_file_durably(path, [&](const std::string& tmp) {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    HALO_CHECK(fd >= 0, "cannot open '", tmp, "' for writing (for '", path.string(),
               "'): ", std::strerror(errno));
    try {
      write_all(fd, text.data(), text.size(), path.string());
    } catch (...) {
      ::close(fd);
      throw;
    }
    HALO_CHECK(::close(fd) == 0, "cannot write '", path.string(), "': ", std::strerror(errno),
               " (disk full?)");
  });
}

}  // namespace halo
