// write_text_atomically: temporary file, write loop (EINTR-safe), fsync, rename.
#include "halo/common/atomic_file.h"

#include "halo/common/error.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace halo {

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  HALO_CHECK(fd >= 0, "cannot open '", tmp, "' for writing (for '", path,
             "'): ", std::strerror(errno));
  const char* p = text.data();
  size_t left = text.size();
  int err = 0;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : ENOSPC;
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    HALO_FAIL("cannot write '", path, "': ", std::strerror(err), " (disk full?)");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    HALO_FAIL("cannot rename '", tmp, "' to '", path, "': ", std::strerror(e));
  }
}

}  // namespace halo
