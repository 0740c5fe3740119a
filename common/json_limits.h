// Limits on JSON from users' files, checked before nlohmann::json sees the text: the nesting
// depth. nlohmann::json parses, copies, prints and frees nested arrays and objects recursively,
// so a file of a few megabytes of '[' overflows the stack (measured: 1M levels crash a parse);
// config.json, tokenizer.json, safetensors headers and manifests nest at most 5 levels.
#pragma once

#include <cstdint>
#include <string>

namespace halo {

// A JSON file read whole (config.json, tokenizer.json, manifest.json, ...) larger than this is
// refused before it is read: parsed, it takes about ten times its size in memory. The largest
// real tokenizer.json files are about 35 MB.
inline constexpr uint64_t kMaxJsonFileBytes = uint64_t{256} << 20;

// JSON nested deeper than this (arrays and objects inside each other) is refused.
inline constexpr int kMaxJsonDepth = 512;

// The byte offset in text [first, last) of the bracket that first nests arrays and objects
// deeper than kMaxJsonDepth, or -1 when none does (brackets inside strings do not count). A
// linear scan with no allocation.
int64_t json_depth_violation(const char* first, const char* last);

// Throws a HaloError naming `source`, the byte offset and the limit when text [first, last)
// nests deeper than kMaxJsonDepth. Call it before nlohmann::json::parse on a user's file.
void check_json_depth(const char* first, const char* last, const std::string& source);

}  // namespace halo
