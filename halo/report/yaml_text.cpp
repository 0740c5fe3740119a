// Implementation of yaml_text.h: a small recursive emitter (no yaml-cpp needed for writing).
#include "halo/report/yaml_text.h"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace halo::report {

namespace {

bool is_scalar(const nlohmann::json& v) {
  return !v.is_object() && !v.is_array();
}

bool flow_list(const nlohmann::json& v) {
  if (!v.is_array()) return false;
  for (const auto& e : v) {
    if (!is_scalar(e)) return false;
  }
  return true;
}

// A string as a plain scalar when YAML would read it back as the same string, else quoted.
std::string yaml_string(const std::string& s) {
  bool plain = !s.empty() && s.front() != ' ' && s.back() != ' ';
  static const char* specials = ":#{}[],&*!|>'\"%@`";
  for (char c : s) {
    if (std::strchr(specials, c) != nullptr || c == '\n' || c == '\t') plain = false;
  }
  if (plain && (s.front() == '-' || s.front() == '?')) plain = false;
  for (const char* word : {"true", "false", "yes", "no", "on", "off", "null", "~"}) {
    std::string lower;
    for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == word) plain = false;
  }
  if (plain) {  // a number-looking string stays a string
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    if (end != s.c_str() && *end == '\0') plain = false;
  }
  return plain ? s : nlohmann::json(s).dump();
}

std::string scalar(const nlohmann::json& v) {
  if (v.is_string()) return yaml_string(v.get<std::string>());
  if (v.is_null()) return "null";
  return v.dump();
}

std::string flow(const nlohmann::json& list) {
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + scalar(list[i]);
  return out + "]";
}

void emit(std::ostringstream& os, const nlohmann::json& v, int indent);

// The value after "key:" or "- ": inline for scalars and flow lists, else on the next lines.
void emit_after_key(std::ostringstream& os, const nlohmann::json& v, int indent) {
  if (is_scalar(v)) {
    os << ' ' << scalar(v) << '\n';
  } else if (flow_list(v)) {
    os << ' ' << flow(v) << '\n';
  } else if (v.empty()) {
    os << (v.is_object() ? " {}\n" : " []\n");
  } else {
    os << '\n';
    emit(os, v, indent + 2);
  }
}

void emit(std::ostringstream& os, const nlohmann::json& v, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      os << pad << yaml_string(key) << ':';
      emit_after_key(os, value, indent);
    }
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (e.is_object() && !e.empty()) {
        // "- first: 1" then the other keys aligned under it.
        std::ostringstream inner;
        emit(inner, e, indent + 2);
        std::string text = inner.str();
        text.replace(static_cast<size_t>(indent), 2, "- ");
        os << text;
      } else {
        os << pad << '-';
        emit_after_key(os, e, indent);
      }
    }
  } else {
    os << pad << scalar(v) << '\n';
  }
}

}  // namespace

std::string json_to_yaml(const nlohmann::json& value) {
  std::ostringstream os;
  emit(os, value, 0);
  return os.str();
}

}  // namespace halo::report
