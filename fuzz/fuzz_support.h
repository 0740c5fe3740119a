// What the fuzz targets share: the rule for what counts as a finding, a scratch folder for
// parsers that read from a path, and invariant checks that abort with a message.
//
// A finding is anything but a clean refusal: a crash, a sanitizer report (ASan, UBSan), a leak,
// a timeout, memory beyond libFuzzer's -rss_limit_mb, a failed invariant, or an exception that is
// not a halo::HaloError (the CLI promises errors that name the file and key; a bare
// nlohmann::json::type_error or std::bad_alloc does not). A HaloError is the expected answer to
// bad input and ends the run of that input quietly.
#pragma once

#include "common/error.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace halo::fuzz {

// Runs `fn`; a HaloError with a message is a refusal (fine), anything else propagates.
template <typename Fn>
void refusing(Fn&& fn) {
  try {
    fn();
  } catch (const HaloError& e) {
    if (std::string(e.what()).empty()) {
      std::fprintf(stderr, "fuzz: HaloError with an empty message\n");
      std::abort();
    }
  }
}

// Aborts with `what` when `ok` is false: an invariant of a successful parse did not hold.
inline void invariant(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz: invariant failed: %s\n", what);
    std::abort();
  }
}

// A folder of this process, made on first use and removed at exit.
const std::string& scratch_dir();
// Writes data[0, size) to scratch_dir()/name (replacing it); returns the path.
std::string write_scratch(const std::string& name, const uint8_t* data, size_t size);
// The source tree this was built from (for seed files such as the encode target's tokenizer).
std::string source_dir();

}  // namespace halo::fuzz
