// json_changes and describe_stage_config_changes: the changed keys of two resolved configs.
#include "halo/config/config_diff.h"

#include "common/error.h"
#include "halo/config/pipeline_config.h"

namespace halo::config {

namespace {

std::string show(const nlohmann::json* v) {
  if (v == nullptr) return "(absent)";
  std::string s = v->dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

void collect(const nlohmann::json* a, const nlohmann::json* b, const std::string& path,
             std::vector<std::string>& out) {
  if (a != nullptr && b != nullptr && *a == *b) return;
  if (a != nullptr && b != nullptr && a->is_object() && b->is_object()) {
    // std::map order: both sides' keys, sorted, each once.
    auto ia = a->begin(), ib = b->begin();
    while (ia != a->end() || ib != b->end()) {
      const bool take_a = ib == b->end() || (ia != a->end() && ia.key() <= ib.key());
      const bool take_b = ia == a->end() || (ib != b->end() && ib.key() <= ia.key());
      const std::string key = take_a ? ia.key() : ib.key();
      collect(take_a ? &ia.value() : nullptr, take_b ? &ib.value() : nullptr,
              path.empty() ? key : path + "." + key, out);
      if (take_a) ++ia;
      if (take_b) ++ib;
    }
    return;
  }
  if (a != nullptr && b != nullptr && a->is_array() && b->is_array()) {
    for (size_t i = 0; i < std::max(a->size(), b->size()); ++i) {
      const nlohmann::json* ea = i < a->size() ? &(*a)[i] : nullptr;
      const nlohmann::json* eb = i < b->size() ? &(*b)[i] : nullptr;
      const bool named = ea != nullptr && eb != nullptr && ea->is_object() && eb->is_object() &&
                         ea->contains("name") && eb->contains("name") &&
                         (*ea)["name"] == (*eb)["name"] && (*ea)["name"].is_string();
      collect(ea, eb,
              named ? path + "." + (*ea)["name"].get<std::string>() : str_cat(path, "[", i, "]"),
              out);
    }
    return;
  }
  out.push_back(str_cat(path.empty() ? "(top level)" : path, ": ", show(a), " -> ", show(b)));
}

// The tree without the content ids (as a build before them resolved it).
nlohmann::json without_ids(nlohmann::json j) {
  if (j.contains("data") && j["data"].is_object()) j["data"].erase("dataset_id");
  if (j.contains("stages") && j["stages"].is_array()) {
    for (auto& s : j["stages"]) {
      if (s.is_object()) s.erase("model_config_id");
    }
  }
  return j;
}

}  // namespace

std::vector<std::string> json_changes(const nlohmann::json& before, const nlohmann::json& after) {
  std::vector<std::string> out;
  collect(&before, &after, "", out);
  return out;
}

std::string describe_stage_config_changes(const nlohmann::json& recorded, const nlohmann::json& now,
                                          size_t index, size_t max_listed) {
  const char* none = " (no configuration was recorded with it to compare; an older build wrote it)";
  if (!recorded.is_object() || !recorded.contains("stages")) return none;
  std::vector<std::string> changes;
  try {
    // A tree recorded before the content ids is compared with the current one without them.
    const bool recorded_ids = recorded.contains("data") && recorded["data"].is_object() &&
                              recorded["data"].contains("dataset_id");
    changes =
        json_changes(PipelineConfig::hashed_part(recorded, index),
                     PipelineConfig::hashed_part(recorded_ids ? now : without_ids(now), index));
  } catch (const std::exception&) {
    return none;  // a tree of another shape (edited, or from another version)
  }
  if (changes.empty()) {
    return str_cat(
        " (the recorded configuration hashes the same keys to the same values; the "
        "hash itself differs: written by a build with a stage-hash format this one "
        "does not accept; it writes format ",
        PipelineConfig::kStageHashFormat, " and accepts formats ",
        PipelineConfig::kOldestStageHashFormat, " to ", PipelineConfig::kStageHashFormat, ")");
  }
  std::string s = " Changed since it was written:";
  for (size_t i = 0; i < changes.size() && i < max_listed; ++i) {
    s += (i == 0 ? " " : "; ") + changes[i];
  }
  if (changes.size() > max_listed) s += str_cat("; and ", changes.size() - max_listed, " more");
  return s + ".";
}

}  // namespace halo::config
