// JSON as YAML text for the report's configuration section: pipeline.json (the resolved config
// as run) reads like the pipeline YAML the user wrote. Block style for objects and for lists of
// objects, flow style ([0.9, 0.95]) for lists of scalars; strings quoted only when YAML would
// read them as something else.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace halo::report {

std::string json_to_yaml(const nlohmann::json& value);

}  // namespace halo::report
