// Out-of-line part of error.h: formatting of HaloError messages with their source location.
#include "common/error.h"

#include <cstring>

namespace halo {

void throw_error(const char* file, int line, const std::string& message) {
  // Keep only the path below the repository root so messages stay short.
  const char* short_file = file;
  for (const char* root : {"/hypenet/", "/halo/", "/ops/", "/data/", "/tools/"}) {
    if (const char* p = std::strstr(file, root)) {
      short_file = p + 1;
      break;
    }
  }
  throw HaloError(message + "  [" + short_file + ":" + std::to_string(line) + "]");
}

}  // namespace halo
