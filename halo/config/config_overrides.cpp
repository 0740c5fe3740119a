// apply_overrides: `--set KEY.PATH=VALUE` on the parsed pipeline YAML.
#include "halo/config/config_overrides.h"

#include "common/error.h"

namespace halo::config {

namespace {

// Applies one "a.b.c=value"; "stages.NAME.key" selects the stage whose name is NAME. Returns the
// key path of the value as MapReader names it.
std::string apply_override(YAML::Node root, const std::string& item) {
  auto eq = item.find('=');
  HALO_CHECK(eq != std::string::npos && eq > 0, "--set \"", item, "\": expected KEY.PATH=VALUE");
  std::string path = item.substr(0, eq), value = item.substr(eq + 1);
  std::vector<std::string> keys;
  size_t start = 0;
  while (true) {
    auto dot = path.find('.', start);
    keys.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& k : keys) {
    HALO_CHECK(!k.empty(), "--set ", item, ": empty key in \"", path,
               "\" (expected KEY.PATH=VALUE, e.g. stages.NAME.steps=10)");
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    HALO_FAIL("--set ", item, ": the value \"", value, "\" is not valid YAML: ", e.msg);
  }
  std::string key_path;
  YAML::Node node = root;
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    if (keys[i] == "stages" && i + 2 < keys.size()) {
      YAML::Node stages = node["stages"];
      HALO_CHECK(stages.IsSequence(), "--set ", path, ": the pipeline has no stages list");
      bool found = false;
      for (size_t s = 0; s < stages.size(); ++s) {
        // A stage that is not a mapping has no name (load_pipeline_config reports it); its
        // subscript would throw YAML::BadSubscript (found by fuzz_pipeline_yaml, 2026-12-07).
        if (stages[s].IsMap() && stages[s]["name"].IsScalar() &&
            stages[s]["name"].Scalar() == keys[i + 1]) {
          node.reset(stages[s]);
          key_path += str_cat(key_path.empty() ? "" : ".", "stages[", s, "]");
          found = true;
          break;
        }
      }
      HALO_CHECK(found, "--set ", path, ": no stage is named \"", keys[i + 1], "\"");
      ++i;
      continue;
    }
    YAML::Node next = node[keys[i]];
    if (!next.IsDefined() || next.IsNull()) {
      node[keys[i]] = YAML::Node(YAML::NodeType::Map);
      next = node[keys[i]];
    }
    HALO_CHECK(next.IsMap(), "--set ", item, ": \"", key_path.empty() ? "" : key_path + ".",
               keys[i], "\" is not a mapping of keys, so it has no key \"", keys[i + 1], "\"");
    key_path += (key_path.empty() ? "" : ".") + keys[i];
    node.reset(next);
  }
  node[keys.back()] = parsed;
  return key_path + (key_path.empty() ? "" : ".") + keys.back();
}

}  // namespace

std::vector<OverrideOrigin> apply_overrides(YAML::Node root,
                                            const std::vector<std::string>& items) {
  std::vector<OverrideOrigin> origins;
  for (const auto& item : items) origins.push_back({apply_override(root, item), "--set " + item});
  return origins;
}

}  // namespace halo::config
