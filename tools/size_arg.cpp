// Implementation of size_arg.h.
#include "tools/size_arg.h"

#include "common/error.h"

#include <cctype>
#include <cmath>
#include <sstream>

namespace halo::tools {

uint64_t parse_size(const std::string& text, const std::string& flag) {
  size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(text, &pos);
  } catch (const std::exception&) {
    HALO_FAIL(flag, ": expected a size such as 500MB or 5GB, got \"", text, "\"");
  }
  std::string unit = text.substr(pos);
  for (auto& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  double mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KB") mult = 1e3;
  else if (unit == "MB") mult = 1e6;
  else if (unit == "GB") mult = 1e9;
  else if (unit == "KIB") mult = 1024.0;
  else if (unit == "MIB") mult = 1048576.0;
  else if (unit == "GIB") mult = 1073741824.0;
  HALO_CHECK(mult > 0 && value >= 0 && std::isfinite(value), flag,
             ": expected a size such as 500MB or 5GB, got \"", text, "\"");
  return static_cast<uint64_t>(value * mult);
}

std::vector<int64_t> parse_count_list(const std::string& text, const std::string& flag) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int64_t mult = 1;
    std::string num = item;
    if (!num.empty() && (num.back() == 'K' || num.back() == 'k')) {
      mult = 1024, num.pop_back();
    } else if (!num.empty() && (num.back() == 'M' || num.back() == 'm')) {
      mult = int64_t(1) << 20, num.pop_back();
    }
    const auto v = parse_whole_integer(num);
    HALO_CHECK(v && *v > 0, flag, ": \"", item,
               "\" is not a positive count (e.g. 4096, 4K, 1M; K = 1024)");
    out.push_back(*v * mult);
  }
  HALO_CHECK(!out.empty(), flag, ": nothing given");
  return out;
}

int64_t parse_layer_index(const std::string& item, int64_t layers, const std::string& flag) {
  const auto v = parse_whole_integer(item);
  HALO_CHECK(v && *v >= 0 && *v < layers, flag, ": \"", item, "\" is not a layer index in [0, ",
             layers, ")");
  return *v;
}

std::optional<int64_t> parse_whole_integer(const std::string& text) {
  size_t pos = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &pos);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return static_cast<int64_t>(v);
}

}  // namespace halo::tools
