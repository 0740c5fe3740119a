// MapReader: typed YAML access with file:line:col (or the --set argument) and key path in every
// message.
#include "halo/config/yaml_reader.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <fstream>

namespace halo::config {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest_key(const std::string& word, const std::set<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // A typo changes a few characters: at most a third of the longer word (and at least 2).
  size_t limit = std::max<size_t>(2, std::max(word.size(), best.size()) / 3);
  return best_d <= limit ? best : "";
}

YAML::Node load_yaml_file(const std::string& path) {
  std::ifstream in(path);
  HALO_CHECK(in.good(), path, ": cannot open the config file. HINT: check the path.");
  try {
    YAML::Node root = YAML::LoadFile(path);
    HALO_CHECK(root.IsMap(), path, ": the top level must be a mapping of sections (run:, data:, ",
               "stages:, ...)");
    return root;
  } catch (const YAML::ParserException& e) {
    HALO_FAIL(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg);
  }
}

std::string mark_string(const std::string& file, const YAML::Node& node) {
  if (!node.IsDefined()) return file;
  YAML::Mark m = node.Mark();
  if (m.is_null()) return file;
  return str_cat(file, ":", m.line + 1, ":", m.column + 1);
}

MapReader::MapReader(const YAML::Node& node, std::string file, std::string path,
                     OverrideOrigins overrides)
    : node_(node),
      file_(std::move(file)),
      path_(std::move(path)),
      overrides_(std::move(overrides)) {
  if (!node_.IsDefined() || node_.IsNull()) {
    node_ = YAML::Node(YAML::NodeType::Map);  // an absent section: every field at its default
    return;
  }
  HALO_CHECK(node_.IsMap(), locate(node_, path_), ": ", path_.empty() ? "(top level)" : path_,
             ": expected a mapping of keys, got ",
             node_.IsSequence() ? "a list" : str_cat("\"", node_.Scalar(), "\""));
}

std::string MapReader::key_path(const std::string& key) const {
  if (key.empty()) return path_.empty() ? "(top level)" : path_;
  return path_.empty() ? key : path_ + "." + key;
}

std::string MapReader::where(const std::string& key) const {
  YAML::Node v = key.empty() ? node_ : node_[key];
  // Error positions point at the value when the key exists, else at the enclosing mapping.
  return str_cat(locate(v.IsDefined() ? v : node_, key_path(key)), ": ", key_path(key));
}

std::string MapReader::locate(const YAML::Node& node, const std::string& key_path) const {
  if (overrides_) {
    // The newest override that set this path or a mapping or list above it.
    for (auto it = overrides_->rbegin(); it != overrides_->rend(); ++it) {
      const std::string& o = it->key_path;
      const bool under = key_path.size() > o.size() && key_path.compare(0, o.size(), o) == 0 &&
                         (key_path[o.size()] == '.' || key_path[o.size()] == '[');
      if (key_path == o || under) return it->argument;
    }
    // A mapping an override created on its way to its key carries no position in the file.
    const bool unplaced = !node.IsDefined() || node.Mark().is_null();
    for (auto it = overrides_->rbegin(); unplaced && it != overrides_->rend(); ++it) {
      const std::string& o = it->key_path;
      if (o.size() > key_path.size() && o.compare(0, key_path.size(), key_path) == 0 &&
          (o[key_path.size()] == '.' || o[key_path.size()] == '[')) {
        return it->argument;
      }
    }
  }
  return mark_string(file_, node);
}

void MapReader::check(bool ok, const std::string& key, const std::string& message) const {
  if (!ok) fail(key, message);
}

void MapReader::fail(const std::string& key, const std::string& message) const {
  HALO_FAIL(where(key), ": ", message);
}

YAML::Node MapReader::value(const std::string& key) {
  known_.insert(key);
  YAML::Node v = node_[key];
  if (v.IsDefined() && v.IsNull()) return YAML::Node();  // "key:" with no value counts as absent
  return v;
}

bool MapReader::has(const std::string& key) {
  return value(key).IsDefined();
}

namespace {
std::string describe(const YAML::Node& v) {
  if (v.IsSequence()) return "a list";
  if (v.IsMap()) return "a mapping";
  return str_cat("\"", v.Scalar(), "\"");
}
}  // namespace

template <typename T>
T MapReader::scalar_as(const std::string& key, const YAML::Node& v, const char* type_name) const {
  if (!v.IsScalar()) fail(key, str_cat("expected ", type_name, ", got ", describe(v)));
  try {
    return v.as<T>();
  } catch (const YAML::Exception&) {
    fail(key, str_cat("expected ", type_name, ", got ", describe(v)));
  }
}

std::string MapReader::get_string(const std::string& key, const std::string& fallback) {
  YAML::Node v = value(key);
  return v.IsDefined() ? scalar_as<std::string>(key, v, "a string") : fallback;
}

std::string MapReader::require_string(const std::string& key) {
  YAML::Node v = value(key);
  check(v.IsDefined(), key, "required key is missing (expected a string)");
  return scalar_as<std::string>(key, v, "a string");
}

int64_t MapReader::get_int(const std::string& key, int64_t fallback) {
  YAML::Node v = value(key);
  return v.IsDefined() ? scalar_as<int64_t>(key, v, "an integer") : fallback;
}

int64_t MapReader::require_int(const std::string& key) {
  YAML::Node v = value(key);
  check(v.IsDefined(), key, "required key is missing (expected an integer)");
  return scalar_as<int64_t>(key, v, "an integer");
}

double MapReader::get_double(const std::string& key, double fallback) {
  YAML::Node v = value(key);
  if (!v.IsDefined()) return fallback;
  double d = scalar_as<double>(key, v, "a number");
  check(std::isfinite(d), key, "expected a finite number");
  return d;
}

double MapReader::require_double(const std::string& key) {
  YAML::Node v = value(key);
  check(v.IsDefined(), key, "required key is missing (expected a number)");
  return get_double(key, 0.0);
}

bool MapReader::get_bool(const std::string& key, bool fallback) {
  YAML::Node v = value(key);
  return v.IsDefined() ? scalar_as<bool>(key, v, "true or false") : fallback;
}

std::vector<int64_t> MapReader::get_int_list(const std::string& key,
                                             const std::vector<int64_t>& fallback) {
  YAML::Node v = value(key);
  if (!v.IsDefined()) return fallback;
  check(v.IsSequence(), key, str_cat("expected a list of integers, got ", describe(v)));
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    out.push_back(scalar_as<int64_t>(str_cat(key, "[", i, "]"), v[i], "an integer"));
  }
  return out;
}

std::vector<double> MapReader::get_double_list(const std::string& key,
                                               const std::vector<double>& fallback) {
  YAML::Node v = value(key);
  if (!v.IsDefined()) return fallback;
  check(v.IsSequence(), key, str_cat("expected a list of numbers, got ", describe(v)));
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i) {
    out.push_back(scalar_as<double>(str_cat(key, "[", i, "]"), v[i], "a number"));
  }
  return out;
}

std::string MapReader::get_choice(const std::string& key, const std::string& fallback,
                                  const std::vector<std::string>& choices) {
  std::string s = get_string(key, fallback);
  if (std::find(choices.begin(), choices.end(), s) != choices.end()) return s;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  std::string near = nearest_key(s, std::set<std::string>(choices.begin(), choices.end()));
  fail(key, str_cat("\"", s, "\" is not one of: ", list,
                    near.empty() ? "" : str_cat(". HINT: did you mean \"", near, "\"?")));
}

MapReader MapReader::map(const std::string& key) {
  return MapReader(value(key), file_, key_path(key), overrides_);
}

std::vector<MapReader> MapReader::map_list(const std::string& key, bool required) {
  YAML::Node v = value(key);
  if (!v.IsDefined()) {
    check(!required, key, "required key is missing (expected a list)");
    return {};
  }
  check(v.IsSequence(), key, str_cat("expected a list, got ", describe(v)));
  check(!required || v.size() > 0, key, "the list must not be empty");
  std::vector<MapReader> out;
  for (size_t i = 0; i < v.size(); ++i) {
    out.emplace_back(v[i], file_, str_cat(key_path(key), "[", i, "]"), overrides_);
  }
  return out;
}

void MapReader::finish() const {
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string k = it->first.Scalar();
    if (known_.count(k)) continue;
    std::string near = nearest_key(k, known_);
    std::string list;
    for (const auto& c : known_) list += (list.empty() ? "" : ", ") + c;
    HALO_FAIL(locate(it->first, key_path(k)), ": ", key_path(k), ": unknown key",
              near.empty() ? "" : str_cat("; did you mean \"", near, "\"?"),
              " (known keys here: ", list, ")");
  }
}

}  // namespace halo::config
