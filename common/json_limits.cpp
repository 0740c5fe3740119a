// Implementation of json_limits.h.
#include "common/json_limits.h"

#include "common/error.h"

namespace halo {

int64_t json_depth_violation(const char* first, const char* last) {
  int depth = 0;
  bool in_string = false;
  for (const char* p = first; p != last; ++p) {
    const char c = *p;
    if (in_string) {
      if (c == '\\') {
        if (p + 1 != last) ++p;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return p - first;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return -1;
}

void check_json_depth(const char* first, const char* last, const std::string& source) {
  const int64_t at = json_depth_violation(first, last);
  HALO_CHECK(at < 0, source, ": JSON nested deeper than ", kMaxJsonDepth, " levels at byte ", at,
             " (limit ", kMaxJsonDepth, "); refused before parsing");
}

}  // namespace halo
