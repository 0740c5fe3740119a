// Implementation of json_fields.h.
#include "common/json_fields.h"

#include "common/error.h"

#include <fstream>
#include <sstream>

namespace halo {

namespace {
std::string type_of(const nlohmann::json& v) {
  if (v.is_number_integer()) return "an integer (" + v.dump() + ")";
  if (v.is_number_float()) return "a number (" + v.dump() + ")";
  if (v.is_string()) return "a string (" + v.dump() + ")";
  if (v.is_boolean()) return std::string("a boolean (") + v.dump() + ")";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}
}  // namespace

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HALO_CHECK(in.good(), path, ": cannot open (missing or unreadable)");
  in.seekg(0, std::ios::end);
  const auto bytes = static_cast<uint64_t>(in.tellg());
  HALO_CHECK(bytes <= kMaxJsonFileBytes, path, ": ", bytes, " bytes is more than a JSON file ",
             "read whole may have (limit ", kMaxJsonFileBytes, " bytes)");
  in.seekg(0, std::ios::beg);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  check_json_depth(text.data(), text.data() + text.size(), path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, also out_of_range (1e309)
    HALO_FAIL(path, ": invalid JSON: ", e.what());
  }
  HALO_CHECK(j.is_object(), path, ": expected a JSON object at the top level, found ",
             type_of(j));
  return j;
}

std::string JsonFields::where(const std::string& key) const {
  return str_cat(file_, ": key '", prefix_, key, "'");
}

const nlohmann::json& JsonFields::at(const std::string& key) const {
  HALO_CHECK(has(key), where(key), " is missing (required)");
  return j_.at(key);
}

int64_t JsonFields::require_int(const std::string& key) const {
  const auto& v = at(key);
  HALO_CHECK(v.is_number_integer(), where(key), ": expected an integer, found ", type_of(v));
  return v.get<int64_t>();
}

int64_t JsonFields::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? require_int(key) : fallback;
}

double JsonFields::require_number(const std::string& key) const {
  const auto& v = at(key);
  HALO_CHECK(v.is_number(), where(key), ": expected a number, found ", type_of(v));
  return v.get<double>();
}

double JsonFields::get_number(const std::string& key, double fallback) const {
  return has(key) ? require_number(key) : fallback;
}

bool JsonFields::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = j_.at(key);
  HALO_CHECK(v.is_boolean(), where(key), ": expected true or false, found ", type_of(v));
  return v.get<bool>();
}

std::string JsonFields::require_string(const std::string& key) const {
  const auto& v = at(key);
  HALO_CHECK(v.is_string(), where(key), ": expected a string, found ", type_of(v));
  return v.get<std::string>();
}

std::string JsonFields::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? require_string(key) : fallback;
}

std::optional<JsonFields> JsonFields::get_object(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  const auto& v = j_.at(key);
  HALO_CHECK(v.is_object(), where(key), ": expected an object, found ", type_of(v));
  JsonFields nested(v, file_);
  nested.prefix_ = prefix_ + key + ".";
  return nested;
}

}  // namespace halo
