// `halo-distill init-teacher`: writes a randomly initialised Qwen3 checkpoint in Hugging Face
// layout from a config.json (used by tests, benchmarks and the demo).
#include "common/error.h"
#include "hypenet/qwen3_checkpoint.h"
#include "tools/commands.h"
#include "tools/size_arg.h"

#include <iostream>

namespace halo::tools {

namespace {

struct InitTeacherOptions {
  std::string config;
  std::string out;
  uint64_t seed = 0;
  std::string dtype = "bfloat16";
  std::string max_shard_size = "5GB";
};

void run_init_teacher(const InitTeacherOptions& o) {
  auto config = hypenet::Qwen3Config::from_json_file(o.config);
  const auto storage = hypenet::parse_dtype(o.dtype, "--dtype");
  const uint64_t shard_bytes = parse_size(o.max_shard_size, "--max-shard-size");
  torch::NoGradGuard no_grad;
  hypenet::Qwen3ForCausalLM model(config);
  hypenet::init_qwen3_random(model, o.seed);
  hypenet::save_qwen3(o.out, model, storage, shard_bytes);
  std::cout << "wrote " << o.out << ": Qwen3, " << config.num_hidden_layers << " layers, "
            << config.num_parameters() << " parameters, " << o.dtype << ", seed " << o.seed
            << "\n";
}

}  // namespace

void add_init_teacher_command(CLI::App& app) {
  auto opts = std::make_shared<InitTeacherOptions>();
  auto* cmd = app.add_subcommand(
      "init-teacher",
      "Create a randomly initialised Qwen3 checkpoint (config.json + safetensors, Hugging Face "
      "layout) from a config: weights normal(0, initializer_range), norms one.");
  cmd->add_option("--config", opts->config,
                  "Qwen3 config.json (vocab_size, hidden_size, intermediate_size, "
                  "num_hidden_layers, num_attention_heads, ... as transformers writes it)")
      ->required();
  cmd->add_option("--out", opts->out, "Output folder (created; existing weights replaced)")
      ->required();
  cmd->add_option("--seed", opts->seed, "Random seed (same seed, same weights)")
      ->capture_default_str();
  cmd->add_option("--dtype", opts->dtype, "Storage dtype: float32, bfloat16 or float16")
      ->capture_default_str();
  cmd->add_option("--max-shard-size", opts->max_shard_size,
                  "Split into shards above this size (e.g. 500MB, 5GB; 0 = never)")
      ->capture_default_str();
  cmd->callback([opts] { run_init_teacher(*opts); });
}

}  // namespace halo::tools
