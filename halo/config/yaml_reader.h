// Typed, located access to a YAML mapping: every value read names the file, line and column
// (yaml-cpp Mark) and the key path ("stages[1].optimizer.lr") when it is missing, of the wrong
// type or out of range; finish() rejects keys nobody asked for and suggests the nearest known
// key by edit distance. The config structs (halo/config/*) are built with it. Values that came
// from the command line (--set KEY.PATH=VALUE, config_overrides.h) are named by that argument
// instead of a position in the file, which they never had.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace halo::config {

// Levenshtein distance (insert, delete, substitute cost 1).
size_t edit_distance(const std::string& a, const std::string& b);
// The candidate nearest to `word` when it is close enough to be a plausible typo, else "".
std::string nearest_key(const std::string& word, const std::set<std::string>& candidates);

// Loads `path` as YAML; errors name the file and the parser's line and column.
YAML::Node load_yaml_file(const std::string& path);

// "file:line:col" of a node (1-based), or just "file" when the node carries no mark.
std::string mark_string(const std::string& file, const YAML::Node& node);

// A value set on the command line: its key path as MapReader names it ("stages[1].steps") and
// the argument as typed ("--set stages.align.steps=6").
struct OverrideOrigin {
  std::string key_path;
  std::string argument;
};
using OverrideOrigins = std::shared_ptr<const std::vector<OverrideOrigin>>;

class MapReader {
 public:
  // `node` must be a mapping (an error at `path` otherwise); `path` is its key path ("" = root).
  // `overrides`: the values set on the command line (inherited by nested readers).
  MapReader(const YAML::Node& node, std::string file, std::string path,
            OverrideOrigins overrides = nullptr);

  bool has(const std::string& key);  // also declares `key` as known
  std::string get_string(const std::string& key, const std::string& fallback);
  std::string require_string(const std::string& key);
  int64_t get_int(const std::string& key, int64_t fallback);
  int64_t require_int(const std::string& key);
  double get_double(const std::string& key, double fallback);
  double require_double(const std::string& key);
  bool get_bool(const std::string& key, bool fallback);
  std::vector<int64_t> get_int_list(const std::string& key, const std::vector<int64_t>& fallback);
  std::vector<double> get_double_list(const std::string& key, const std::vector<double>& fallback);
  // A string that must be one of `choices`; the message lists them and suggests the nearest.
  std::string get_choice(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& choices);

  // A nested mapping; an absent key yields an empty mapping (every field at its default).
  MapReader map(const std::string& key);
  // A sequence of mappings; `required` makes an absent or empty list an error.
  std::vector<MapReader> map_list(const std::string& key, bool required);

  // Throws "file:line:col: path.key: message" when `ok` is false (the key's value's position,
  // or the mapping's when the key is absent).
  void check(bool ok, const std::string& key, const std::string& message) const;
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  // Rejects keys that were never asked for, naming the nearest known key.
  void finish() const;

  std::string key_path(const std::string& key) const;
  std::string where(const std::string& key) const;  // "file:line:col: path.key"
  // "file:line:col" of `node` at `key_path`, or "--set ..." when an override set it.
  std::string locate(const YAML::Node& node, const std::string& key_path) const;
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  YAML::Node value(const std::string& key);  // declares the key; null node when absent
  template <typename T>
  T scalar_as(const std::string& key, const YAML::Node& v, const char* type_name) const;

  YAML::Node node_;
  std::string file_, path_;
  std::set<std::string> known_;
  OverrideOrigins overrides_;
};

}  // namespace halo::config
