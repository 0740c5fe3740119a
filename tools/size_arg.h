// Parsing of human-readable sizes on the command line ("5GB", "500MB", "1024", "0").
#pragma once

#include <cstdint>
#include <string>

namespace halo::tools {

// Decimal units as transformers uses them (KB = 1e3, MB = 1e6, GB = 1e9) and binary KiB/MiB/GiB.
// Errors name `flag` and the text.
uint64_t parse_size(const std::string& text, const std::string& flag);

}  // namespace halo::tools
