// Helpers for reading tokenizer.json with errors that name the file and the key path
// ("FILE: key 'pre_tokenizer.pretokenizers[1].type' ..."), on top of common/json_fields.h.
// Internal to data/.
#pragma once

#include "common/error.h"
#include "common/json_fields.h"

#include <nlohmann/json.hpp>

#include <string>

namespace halo::data::tokenizer_json {

using nlohmann::json;

inline std::string type_name(const json& v) {
  if (v.is_string()) return "a string (" + v.dump() + ")";
  if (v.is_number()) return "a number (" + v.dump() + ")";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

// "FILE: key 'a.b[2].c'" for messages about one place in the file.
inline std::string at_key(const std::string& file, const std::string& key) {
  return str_cat(file, ": key '", key, "'");
}

inline const json& require_object(const json& parent, const std::string& key,
                                  const std::string& file, const std::string& key_path) {
  HALO_CHECK(parent.contains(key), at_key(file, key_path), " is missing");
  const json& v = parent.at(key);
  HALO_CHECK(v.is_object(), at_key(file, key_path), ": expected an object, found ", type_name(v));
  return v;
}

// The JsonFields view of a (small) object at `key_path`, so that messages read
// "FILE (key_path): key 'x' ...".
inline halo::JsonFields fields_at(const json& object, const std::string& file,
                                     const std::string& key_path) {
  return halo::JsonFields(object, str_cat(file, " (", key_path, ")"));
}

}  // namespace halo::data::tokenizer_json
