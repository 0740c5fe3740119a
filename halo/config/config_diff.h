// What changed between two configurations: the keys whose values differ between two resolved
// trees (PipelineConfig::to_json()), named as `--set` names them ("stages.align.steps",
// "run.seed"). A run folder keeps the resolved config beside each stage hash (done.json,
// checkpoints' meta.json), so a refusal to resume can say which keys changed, not just that the
// hash did.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace halo::config {

// "key.path: before -> after" for every leaf that differs, in key order; a key present on one
// side only shows "(absent)" on the other. Elements of a list of mappings with the same "name"
// on both sides are named by it, others by their index ("[2]").
std::vector<std::string> json_changes(const nlohmann::json& before, const nlohmann::json& after);

// The changes between a recorded resolved config and the current one in what the hash of stage
// `index` covers (PipelineConfig::hashed_part of each), as one line for an error message:
// " Changed: run.seed: 7 -> 8; stages.align.steps: 8 -> 9." (at most `max_listed` keys, then
// how many more); a sentence saying so when nothing usable was recorded, or when nothing changed
// (then the writer hashed under a stage-hash format this build does not accept).
std::string describe_stage_config_changes(const nlohmann::json& recorded, const nlohmann::json& now,
                                          size_t index, size_t max_listed = 8);

}  // namespace halo::config
