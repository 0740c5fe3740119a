// Implementation of remove_tree.h.
#include "common/remove_tree.h"

#include "common/error.h"

#include <ftw.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

namespace halo {

namespace {

// Children before their folder (FTW_DEPTH), links not followed (FTW_PHYS).
int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  return std::remove(path) == 0 ? 0 : errno;
}

}  // namespace

std::error_code remove_tree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? std::error_code() : std::error_code(errno, std::generic_category());
  }
  const int rc = nftw(path.c_str(), remove_entry, 32, FTW_DEPTH | FTW_PHYS);
  if (rc == 0) return {};
  return std::error_code(rc > 0 ? rc : errno, std::generic_category());
}

void remove_tree_checked(const std::string& path) {
  const auto ec = remove_tree(path);
  HALO_CHECK(!ec, path, ": cannot remove: ", ec.message());
}

}  // namespace halo
