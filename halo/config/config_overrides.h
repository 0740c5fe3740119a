// Command-line overrides of the pipeline YAML (`--set KEY.PATH=VALUE`, repeatable): each is
// applied to the parsed tree before validation, its value parsed as YAML; `stages.NAME.key`
// addresses the stage whose name is NAME. Each applied override is recorded with the key path
// MapReader gives the value ("stages[1].steps"), so a value that fails validation is reported as
// the `--set` argument that gave it, not as a position in the YAML file.
#pragma once

#include "halo/config/yaml_reader.h"

#include <string>
#include <vector>

namespace halo::config {

// Applies `items` in order to `root`; errors name the `--set` argument. Returns where each went.
std::vector<OverrideOrigin> apply_overrides(YAML::Node root, const std::vector<std::string>& items);

}  // namespace halo::config
