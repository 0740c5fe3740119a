// Parsing of human-readable sizes on the command line ("5GB", "500MB", "1024", "0"), of lists of
// counts ("4K,32K,1M") and of layer indices.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace halo::tools {

// Decimal units as transformers uses them (KB = 1e3, MB = 1e6, GB = 1e9) and binary KiB/MiB/GiB.
// Errors name `flag` and the text.
uint64_t parse_size(const std::string& text, const std::string& flag);

// A comma-separated list of positive counts of tokens or sequences, each a number with an
// optional K (x 1024) or M (x 1048576) suffix: "4K,32K,1M", "4096,16384". Errors name `flag`.
std::vector<int64_t> parse_count_list(const std::string& text, const std::string& flag);

// A layer index in [0, layers): the whole of `item` an integer. Errors name `flag` and the item.
int64_t parse_layer_index(const std::string& item, int64_t layers, const std::string& flag);

// The integer that the whole of `text` spells (std::stoll's syntax), or nothing.
std::optional<int64_t> parse_whole_integer(const std::string& text);

}  // namespace halo::tools
