// Typed access to the keys of a JSON config file (Hugging Face config.json and friends) with
// errors that name the file, the key, the expected type and what was found.
#pragma once

#include "common/json_limits.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace halo {

// Parses `path` as a JSON object; errors name the file (missing, unreadable, invalid JSON with
// the parser's position, nested deeper than kMaxJsonDepth (json_limits.h), not an object).
nlohmann::json read_json_file(const std::string& path);

// A JSON object together with the file it came from, for error messages.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string file) : j_(object), file_(std::move(file)) {}

  bool has(const std::string& key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  const nlohmann::json& raw() const { return j_; }
  const std::string& file() const { return file_; }

  int64_t require_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double require_number(const std::string& key) const;
  double get_number(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string require_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  // A nested object as JsonFields (key path "outer.inner" in messages); nullopt when absent.
  std::optional<JsonFields> get_object(const std::string& key) const;

  // "file: key 'k' ..." prefix for custom checks.
  std::string where(const std::string& key) const;

 private:
  const nlohmann::json& at(const std::string& key) const;  // throws if missing
  nlohmann::json j_;
  std::string file_;
  std::string prefix_;  // "outer." for nested objects
  friend class JsonFieldsAccess;
};

}  // namespace halo
