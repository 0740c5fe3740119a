// Config values held as enums: each is parsed once where it is read (the YAML through
// MapReader::get_choice, or a command-line option), compared as an enum where it is used, and
// turned back into its name only to print, store or hash it. An enum E lists its names in E's
// order (kPrecisions, kDevices, kLosses, kLightningRecurrences); enum_name and parse_enum map
// between the two.
#pragma once

#include "common/error.h"

#include <cstddef>
#include <string>
#include <vector>

namespace halo::config {

template <typename E>
const std::string& enum_name(E value, const std::vector<std::string>& names) {
  return names.at(static_cast<size_t>(value));
}

// `name` as an E; a HaloError naming `what` (the option or key) and the accepted names otherwise.
template <typename E>
E parse_enum(const std::string& name, const std::vector<std::string>& names,
             const std::string& what) {
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<E>(i);
    list += (i == 0 ? "" : ", ") + names[i];
  }
  HALO_FAIL(what, ": \"", name, "\" is not one of: ", list);
}

}  // namespace halo::config
