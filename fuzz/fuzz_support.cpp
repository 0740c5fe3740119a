// Implementation of fuzz_support.h.
#include "fuzz/fuzz_support.h"

#include "common/remove_tree.h"

#include <unistd.h>

#include <fstream>

namespace halo::fuzz {

namespace {

struct ScratchDir {
  std::string path;
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/halo-fuzz-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      std::perror("fuzz: mkdtemp");
      std::abort();
    }
    path = templ;
  }
  ~ScratchDir() {
    remove_tree(path);  // best effort: a leftover folder in /tmp is no finding
  }
};

}  // namespace

const std::string& scratch_dir() {
  static ScratchDir dir;
  return dir.path;
}

std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

std::string source_dir() {
  const char* env = std::getenv("HALO_SOURCE_DIR");
  return env && *env ? env : HALO_FUZZ_SOURCE_DIR;
}

}  // namespace halo::fuzz
