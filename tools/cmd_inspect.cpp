// `halo-distill inspect MODEL_DIR`: summary of a Hugging Face model folder (architecture,
// sizes, stored dtypes, parameter count, shards, tied head). Validates every shard's header.
#include "halo/common/error.h"
#include "hypenet/checkpoint_files.h"
#include "hypenet/json_fields.h"
#include "hypenet/hypenet_config.h"
#include "hypenet/qwen3_config.h"
#include "tools/commands.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <iostream>
#include <set>

namespace halo::tools {

namespace {

struct InspectOptions {
  std::string dir;
  bool json = false;
};

void run_inspect(const InspectOptions& o) {
  namespace fs = std::filesystem;
  HALO_CHECK(fs::is_directory(o.dir), o.dir, ": not a folder (expected a model folder with config.json)");
  const std::string config_path = (fs::path(o.dir) / "config.json").string();
  auto raw = hypenet::read_json_file(config_path);
  hypenet::JsonFields fields(raw, config_path);
  const std::string model_type = fields.get_string("model_type", "");
  HALO_CHECK(model_type == "qwen3" || model_type == "hypenet", config_path,
             ": key 'model_type' is \"", model_type,
             "\"; expected \"qwen3\" (teacher) or \"hypenet\" (student)");
  std::optional<hypenet::HypeNetConfig> student;
  if (model_type == "hypenet") student = hypenet::HypeNetConfig::from_json(raw, config_path);
  auto config = student ? student->base : hypenet::Qwen3Config::from_json(raw, config_path);
  hypenet::CheckpointFiles files(o.dir);

  int64_t stored_params = 0;
  std::map<std::string, int64_t> dtype_counts;
  for (const auto& name : files.names()) {
    const auto& e = files.entry(name);
    int64_t n = 1;
    for (auto d : e.shape) n *= d;
    stored_params += n;
    dtype_counts[e.dtype] += n;
  }
  std::vector<std::string> shards;
  for (const auto& p : files.shard_paths()) shards.push_back(fs::path(p).filename().string());
  std::sort(shards.begin(), shards.end());

  nlohmann::json j;
  j["path"] = o.dir;
  j["architecture"] = student ? "HypeNetForCausalLM" : "Qwen3ForCausalLM";
  j["model_type"] = model_type;
  j["num_layers"] = config.num_hidden_layers;
  j["hidden_size"] = config.hidden_size;
  j["intermediate_size"] = config.intermediate_size;
  j["num_attention_heads"] = config.num_attention_heads;
  j["num_key_value_heads"] = config.num_key_value_heads;
  j["head_dim"] = config.head_dim;
  j["vocab_size"] = config.vocab_size;
  j["rope_theta"] = config.rope_theta;
  j["config_dtype"] = config.dtype;
  j["stored_dtypes"] = dtype_counts;
  j["num_parameters"] = stored_params;
  if (!student) j["num_parameters_from_config"] = config.num_parameters();
  std::string mixers;  // "LLAALA...": one letter per layer
  if (student) {
    j["mixer_types"] = student->to_json()["mixer_types"];
    for (auto m : student->mixer_types) mixers += m == hypenet::MixerType::kAttention ? 'A' : 'L';
    j["num_attention_layers"] = config.num_hidden_layers - student->num_lightning_layers();
    j["num_lightning_layers"] = student->num_lightning_layers();
    j["lightning_heads"] = student->lightning_nh;
    j["attn_use_rope"] = student->attn_use_rope;
  }
  j["num_tensors"] = files.names().size();
  j["bytes"] = files.total_bytes();
  j["shards"] = shards;
  j["tied_lm_head"] = config.tie_word_embeddings;
  if (o.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  auto line = [](const std::string& k, const std::string& v) {
    std::cout << "  " << k << std::string(k.size() < 22 ? 22 - k.size() : 1, ' ') << v << "\n";
  };
  std::cout << o.dir << "\n";
  line("architecture", student ? "HypeNetForCausalLM (hypenet)" : "Qwen3ForCausalLM (qwen3)");
  if (student) {
    line("mixers", str_cat(mixers, " (", j["num_attention_layers"].get<int64_t>(), " attn, ",
                           student->num_lightning_layers(), " lightning-attn)"));
    line("lightning", str_cat(student->lightning_nh, " heads x ", student->lightning_head_dim,
                              ", scale ", student->lightning_scale,
                              student->lightning_use_rope ? ", RoPE" : ", no RoPE",
                              student->lightning_use_output_gate ? ", output gate" : ""));
    line("attention", str_cat(student->attn_use_rope ? "RoPE" : "NoPE",
                              student->attn_use_output_gate ? ", output gate" : "",
                              student->attn_logits_scaling_a
                                  ? str_cat(", logit scale hype ", *student->attn_logits_scaling_a)
                                  : std::string()));
  }
  line("layers", std::to_string(config.num_hidden_layers));
  line("hidden / intermediate",
       std::to_string(config.hidden_size) + " / " + std::to_string(config.intermediate_size));
  line("heads (q / kv)", std::to_string(config.num_attention_heads) + " / " +
                             std::to_string(config.num_key_value_heads) +
                             " (GQA ratio " +
                             std::to_string(config.num_attention_heads / config.num_key_value_heads) + ")");
  line("head_dim", std::to_string(config.head_dim));
  line("vocab", std::to_string(config.vocab_size));
  line("rope_theta", str_cat(config.rope_theta));
  std::string dtypes;
  for (const auto& [k, v] : dtype_counts) dtypes += (dtypes.empty() ? "" : ", ") + k;
  line("dtype", config.dtype + " (stored: " + dtypes + ")");
  line("parameters", str_cat(stored_params, " (", stored_params / 1.0e6, " M)"));
  line("lm head", config.tie_word_embeddings ? "tied to the embedding" : "untied (lm_head.weight)");
  line("size", str_cat(files.total_bytes() / 1048576.0, " MiB in ", shards.size(),
                       shards.size() == 1 ? " file" : " shards"));
  // Long shard lists: first and last only.
  for (size_t i = 0; i < shards.size(); ++i) {
    if (shards.size() > 4 && i == 2) line("", "...");
    if (shards.size() <= 4 || i < 2 || i + 2 >= shards.size()) line("", shards[i]);
  }
  if (!student && stored_params != config.num_parameters()) {
    std::cout << "  warning: the config implies " << config.num_parameters()
              << " parameters, the files hold " << stored_params << "\n";
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto opts = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand(
      "inspect", "Summarise a Hugging Face model folder: architecture, layer and head counts, "
                 "dtype, parameter count, shards, tied or untied LM head. Every shard header is "
                 "validated on the way.");
  cmd->add_option("MODEL_DIR", opts->dir, "Model folder holding config.json and safetensors")
      ->required();
  cmd->add_flag("--json", opts->json, "Print the summary as JSON instead of a table");
  cmd->callback([opts] { run_inspect(*opts); });
}

}  // namespace halo::tools
