// `halo-distill inspect MODEL_DIR`: summary of a Hugging Face model folder (format, architecture,
// sizes, stored dtypes, parameter count, shards, tied head, whether the authors' HypeNet code can
// load it). Validates every shard's header.
#include "common/error.h"
#include "common/json_fields.h"
#include "common/model_folder_files.h"
#include "hypenet/checkpoint_files.h"
#include "hypenet/hybrid_cache.h"
#include "hypenet/hypenet_checkpoint.h"
#include "hypenet/hypenet_config.h"
#include "hypenet/qwen3_checkpoint.h"
#include "hypenet/qwen3_config.h"
#include "tools/commands.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>

namespace halo::tools {

namespace {

struct InspectOptions {
  std::string dir;
  bool json = false;
  int64_t context = 0;  // > 0: the inference cache's bytes at this many tokens per sequence
  int64_t batch = 1;
};

void run_inspect(const InspectOptions& o) {
  namespace fs = std::filesystem;
  HALO_CHECK(fs::is_directory(o.dir), o.dir,
             ": not a folder (expected a model folder with config.json)");
  const std::string config_path = (fs::path(o.dir) / "config.json").string();
  auto raw = halo::read_json_file(config_path);
  halo::JsonFields fields(raw, config_path);
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
  // One dtype name when every tensor has it, else "mixed".
  std::string storage_dtype = "mixed";
  if (dtype_counts.size() == 1) {
    const auto& d = dtype_counts.begin()->first;
    storage_dtype = d == "BF16" ? "bfloat16" : d == "F32" ? "float32" : d == "F16" ? "float16" : d;
  }
  // The authors' loader: transformers with trust_remote_code needs auto_map in config.json and
  // their modeling files in the folder (export and convert write the former, print the latter).
  std::vector<std::string> missing_code;
  for (const auto& f : hypenet::kAuthorsModelingFiles) {
    if (!fs::exists(fs::path(o.dir) / f)) missing_code.push_back(f);
  }
  const bool auto_map = raw.contains("auto_map") && raw["auto_map"].is_object() &&
                        raw["auto_map"].contains("AutoModelForCausalLM");
  std::string authors_loader;
  if (student) {
    if (!auto_map) {
      authors_loader = "no auto_map in config.json (a training checkpoint? `export` adds it)";
    } else if (!missing_code.empty()) {
      authors_loader = str_cat("auto_map set; copy their modeling files here (",
                               missing_code.size(), " missing, e.g. ", missing_code.front(), ")");
    } else {
      authors_loader = "ready: AutoModelForCausalLM.from_pretrained(DIR, trust_remote_code=True)";
    }
  }
  std::vector<std::string> shards;
  for (const auto& p : files.shard_paths()) shards.push_back(fs::path(p).filename().string());
  std::sort(shards.begin(), shards.end());

  nlohmann::json j;
  j["path"] = o.dir;
  j["format"] = student ? "hypenet: the authors' HypeNet config keys and tensor names"
                        : "qwen3: Hugging Face Qwen3";
  j["storage_dtype"] = storage_dtype;
  if (student) {
    j["authors_loader"] = {
        {"auto_map", auto_map}, {"missing_code_files", missing_code}, {"summary", authors_loader}};
  }
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
  j["side_files"] = halo::model_side_files(o.dir);
  const auto layout =
      student ? hypenet::CacheLayout::of(*student) : hypenet::CacheLayout::of(config);
  const auto cache_dtype = config.dtype == "float32" ? at::kFloat : at::kBFloat16;
  const auto per_row = hypenet::cache_bytes(layout, 1, 1, cache_dtype);
  const int64_t state_per_seq = per_row.state;
  if (o.context > 0) {
    const auto b = hypenet::cache_bytes(layout, o.batch, o.context, cache_dtype);
    j["cache"] = {{"context", o.context},
                  {"batch", o.batch},
                  {"dtype", hypenet::dtype_name(cache_dtype)},
                  {"kv_bytes_per_token", b.kv_bytes_per_token},
                  {"kv_bytes", b.kv},
                  {"state_bytes", b.state},
                  {"total_bytes", b.total()},
                  {"weights_bytes", files.total_bytes()}};
  }
  if (o.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  auto line = [](const std::string& k, const std::string& v) {
    std::cout << "  " << k << std::string(k.size() < 22 ? 22 - k.size() : 1, ' ') << v << "\n";
  };
  std::cout << o.dir << "\n";
  line("format", str_cat(j["format"].get<std::string>(), ", ", storage_dtype,
                         storage_dtype == "bfloat16"  ? " (export's default)"
                         : storage_dtype == "float32" ? " (training checkpoints' precision)"
                                                      : ""));
  if (student) line("authors' loader", authors_loader);
  line("architecture", student ? "HypeNetForCausalLM (hypenet)" : "Qwen3ForCausalLM (qwen3)");
  if (student) {
    line("mixers", str_cat(mixers, " (", j["num_attention_layers"].get<int64_t>(), " attn, ",
                           student->num_lightning_layers(), " lightning-attn)"));
    line("lightning",
         str_cat(student->lightning_nh, " heads x ", student->lightning_head_dim, ", scale ",
                 student->lightning_scale, student->lightning_use_rope ? ", RoPE" : ", no RoPE",
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
  line("heads (q / kv)",
       std::to_string(config.num_attention_heads) + " / " +
           std::to_string(config.num_key_value_heads) + " (GQA ratio " +
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
  line("inference cache",
       str_cat(hypenet::format_bytes(per_row.kv_bytes_per_token), " KV per token (",
               layout.num_attention_layers(), " attention layers) + ",
               hypenet::format_bytes(state_per_seq), " recurrent state per sequence (",
               layout.num_lightning_layers(), " Lightning layers), ",
               config.dtype == "float32" ? "float32" : "bfloat16", " KV"));
  if (o.context > 0) {
    const auto b = hypenet::cache_bytes(layout, o.batch, o.context, cache_dtype);
    line(str_cat("at ", o.context, " x ", o.batch),
         str_cat(hypenet::format_bytes(b.total()), " (KV ", hypenet::format_bytes(b.kv),
                 ", states ", hypenet::format_bytes(b.state), "); with the weights ",
                 hypenet::format_bytes(b.total() + files.total_bytes())));
  }
  const auto side = halo::model_side_files(o.dir);
  std::string side_list;
  for (const auto& n : side) side_list += (side_list.empty() ? "" : ", ") + n;
  line("tokenizer etc.", side.empty() ? "none (generate needs --tokenizer)" : side_list);
  if (!student && stored_params != config.num_parameters()) {
    std::cout << "  warning: the config implies " << config.num_parameters()
              << " parameters, the files hold " << stored_params << "\n";
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto opts = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand(
      "inspect",
      "Summarise a Hugging Face model folder: architecture, layer and head counts, "
      "dtype, parameter count, shards, tied or untied LM head. Every shard header is "
      "validated on the way.");
  cmd->add_option("MODEL_DIR", opts->dir, "Model folder holding config.json and safetensors")
      ->required();
  cmd->add_flag("--json", opts->json, "Print the summary as JSON instead of a table");
  cmd->add_option("--context", opts->context,
                  "Also give the inference cache's bytes (KV caches of the attention layers, "
                  "recurrent states of the Lightning layers) at this many tokens per sequence, "
                  "in the config's dtype (bfloat16 unless float32)");
  cmd->add_option("--batch", opts->batch, "Sequences for --context")->capture_default_str();
  cmd->callback([opts] {
    HALO_CHECK(opts->context >= 0 && opts->batch >= 1,
               "inspect: --context must be >= 0 and "
               "--batch >= 1, got ",
               opts->context, " and ", opts->batch);
    run_inspect(*opts);
  });
}

}  // namespace halo::tools
