// run_selection_stage: chooses the attention layers and writes selection.json + report.md.
#include "halo/stages/selection_stage.h"

#include "halo/checkpoint/checkpoint_store.h"
#include "halo/common/error.h"
#include "hypenet/hypenet_config.h"
#include "hypenet/qwen3_config.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace halo::stages {

namespace fs = std::filesystem;

std::vector<int64_t> uniform_attention_layers(int64_t num_layers, int64_t k) {
  std::vector<int64_t> out;
  for (int64_t j = 0; j < k; ++j) out.push_back((2 * j + 1) * num_layers / (2 * k));
  return out;
}

StageOutput run_selection_stage(const StageContext& ctx) {
  const auto& st = ctx.stage();
  const auto& sel = st.selection;
  HALO_CHECK(!ctx.inputs.teacher.empty(), "selection \"", st.name, "\" needs a teacher");
  const auto tc =
      hypenet::Qwen3Config::from_json_file((ctx.inputs.teacher / "config.json").string());
  const int64_t L = tc.num_hidden_layers;
  HALO_CHECK(sel.num_attention_layers <= L, ctx.pipeline->file, ": stage \"", st.name,
             "\": num_attention_layers = ", sel.num_attention_layers, " but the teacher has ", L,
             " layers");
  std::vector<int64_t> attention;
  nlohmann::json scores = nlohmann::json::object();
  if (sel.method == "uniform") {
    attention = uniform_attention_layers(L, sel.num_attention_layers);
  } else if (sel.method == "manual") {
    std::set<int64_t> seen;
    for (int64_t i : sel.attention_layers) {
      HALO_CHECK(i < L, ctx.pipeline->file, ": stage \"", st.name, "\": attention_layers lists ",
                 "layer ", i, " but the teacher has ", L, " layers (0..", L - 1, ")");
      HALO_CHECK(seen.insert(i).second, ctx.pipeline->file, ": stage \"", st.name,
                 "\": attention_layers lists layer ", i, " twice");
    }
    attention = sel.attention_layers;
  } else {
    HALO_FAIL(ctx.pipeline->file, ": stage \"", st.name, "\": selection method \"", sel.method,
              "\" needs the layer scoring of halo/selection/, which this build does not have "
              "yet. HINT: use method uniform or manual.");
  }
  std::sort(attention.begin(), attention.end());
  std::vector<hypenet::MixerType> mixers(L, hypenet::MixerType::kLightning);
  for (int64_t i : attention) mixers[i] = hypenet::MixerType::kAttention;

  nlohmann::json j;
  j["method"] = sel.method;
  j["attention_layers"] = attention;
  j["mixer_types"] = nlohmann::json::array();
  for (auto m : mixers) j["mixer_types"].push_back(hypenet::mixer_type_name(m));
  j["scores"] = scores;
  j["config_hash"] = ctx.hash();

  fs::create_directories(ctx.stage_dir());
  std::ostringstream md;
  md << "# Layer selection (" << sel.method << ")\n\n| layer | mixer |\n|---|---|\n";
  for (int64_t i = 0; i < L; ++i) md << "| " << i << " | " << hypenet::mixer_type_name(mixers[i]) << " |\n";
  checkpoint::write_file_atomic(ctx.stage_dir() / "report.md", md.str());
  const fs::path path = ctx.stage_dir() / "selection.json";
  checkpoint::write_file_atomic(path, j.dump(2) + "\n");

  StageOutput out;
  out.selection = path;
  out.summary = {{"stage", st.name}, {"kind", "selection"}, {"method", sel.method},
                 {"attention_layers", attention}};
  nlohmann::json done = out.summary;
  done["config_hash"] = ctx.hash();
  done["output"] = path.string();
  checkpoint::write_file_atomic(ctx.stage_dir() / "done.json", done.dump(2) + "\n");
  return out;
}

}  // namespace halo::stages
