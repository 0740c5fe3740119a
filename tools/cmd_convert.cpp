// `halo-distill convert`: HALO step 0. Builds a HypeNet from a Qwen3 teacher (which layers
// become Lightning Attention RNN layers is given by --rnn-layers or --mixers), initialising each
// RNN mixer from that layer's attention weights, and writes it in Hugging Face layout.
#include "common/error.h"
#include "common/model_folder_files.h"
#include "hypenet/hypenet_checkpoint.h"
#include "hypenet/qwen3_checkpoint.h"
#include "hypenet/weight_transfer.h"
#include "tools/commands.h"
#include "tools/size_arg.h"

#include <iostream>
#include <set>
#include <sstream>

namespace halo::tools {

namespace {

struct ConvertOptions {
  std::string teacher;
  std::string rnn_layers;
  std::string mixers;
  std::string out;
  std::string dtype = "bfloat16";  // the authors' release dtype
  std::string max_shard_size = "5GB";
  uint64_t seed = 0;
  bool attn_use_rope = false;
  bool no_attn_output_gate = false;
  bool no_lightning_output_gate = false;
  bool no_lightning_output_norm = false;
  bool no_lightning_qk_norm = false;
  bool no_expand_kv = false;
  std::string lightning_scale = "1/sqrt(d)";
  double logits_scaling_a = 500;  // the authors' inference setting for HypeNet-2B
  std::string lm_head = "tied";   // hypenet::student_head_tied
};

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) {
    auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? "" : item.substr(b, e - b + 1));
  }
  return out;
}

std::vector<hypenet::MixerType> mixers_from_options(const ConvertOptions& o, int64_t L) {
  std::vector<hypenet::MixerType> mixers(L, hypenet::MixerType::kAttention);
  if (!o.mixers.empty()) {
    auto items = split(o.mixers, ',');
    HALO_CHECK(static_cast<int64_t>(items.size()) == L, "--mixers lists ", items.size(),
               " layers but the teacher has ", L,
               "; give one of A/L (attn/lightning-attn) per layer");
    for (int64_t i = 0; i < L; ++i) {
      mixers[i] = hypenet::parse_mixer_type(items[i], str_cat("--mixers item ", i));
    }
    return mixers;
  }
  std::set<int64_t> seen;
  for (const auto& item : split(o.rnn_layers, ',')) {
    const int64_t v = parse_layer_index(item, L, "--rnn-layers");
    HALO_CHECK(seen.insert(v).second, "--rnn-layers: layer ", v, " is listed twice");
    mixers[v] = hypenet::MixerType::kLightning;
  }
  return mixers;
}

void run_convert(const ConvertOptions& o) {
  auto teacher = hypenet::load_qwen3(o.teacher, at::kFloat, at::kCPU);
  const auto& tc = teacher->config();
  auto config =
      hypenet::hypenet_config_like_release(tc, mixers_from_options(o, tc.num_hidden_layers));
  config.attn_use_rope = o.attn_use_rope;
  config.attn_use_output_gate = !o.no_attn_output_gate;
  config.lightning_use_output_gate = !o.no_lightning_output_gate;
  config.lightning_use_output_norm = !o.no_lightning_output_norm;
  config.lightning_use_qk_norm = !o.no_lightning_qk_norm;
  if (o.no_expand_kv) {
    config.expand_kv_proj = false;
    config.lightning_nkv = tc.num_key_value_heads;
  }
  config.lightning_scale = o.lightning_scale;
  HALO_CHECK(o.logits_scaling_a == 0 || o.logits_scaling_a > 1,
             "--attn-logits-scaling must be 0 (off) or > 1, got ", o.logits_scaling_a);
  if (o.logits_scaling_a > 0) config.attn_logits_scaling_a = o.logits_scaling_a;
  config.base.tie_word_embeddings =
      hypenet::student_head_tied(o.lm_head, tc.tie_word_embeddings, "--lm-head");
  config.validate("convert options");
  auto student = hypenet::hypenet_from_teacher(teacher, config, o.seed);
  const auto storage = hypenet::parse_dtype(o.dtype, "--dtype");
  hypenet::save_hypenet_for_authors(o.out, student, storage,
                                    parse_size(o.max_shard_size, "--max-shard-size"));
  // The teacher's tokenizer and generation config go along: `generate` on the student finds them.
  const auto side = halo::copy_model_side_files(o.teacher, o.out);
  std::string letters;
  for (auto m : config.mixer_types) letters += m == hypenet::MixerType::kAttention ? 'A' : 'L';
  std::cout << "wrote " << o.out << ": HypeNet with mixers " << letters << " ("
            << config.num_lightning_layers() << " lightning-attn, "
            << tc.num_hidden_layers - config.num_lightning_layers() << " attn), "
            << hypenet::dtype_name(storage) << ", LM head "
            << (config.base.tie_word_embeddings ? "tied" : "untied")
            << (tc.tie_word_embeddings && !config.base.tie_word_embeddings
                    ? " (initialised from the embedding)"
                : !tc.tie_word_embeddings && config.base.tie_word_embeddings
                    ? " (the teacher's untied lm_head.weight is not used, as the authors' "
                      "HypeNet-9B)"
                    : "")
            << "\n";
  if (!side.empty()) {
    std::cout << "copied from the teacher:";
    for (const auto& n : side) std::cout << " " << n;
    std::cout << "\n";
  }
  std::cout << hypenet::authors_loading_note(o.out, config);
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  auto* cmd = app.add_subcommand(
      "convert",
      "Build a HypeNet student from a Qwen3 teacher (HALO step 0): the chosen layers become "
      "Lightning Attention RNN layers initialised from that layer's attention weights (k/v "
      "expanded from GQA to MHA), the others stay softmax attention (NoPE, output gate). Writes "
      "config.json + safetensors in the authors' HypeNet layout.");
  cmd->add_option("--teacher", o->teacher, "Qwen3 teacher folder")->required();
  auto* rnn = cmd->add_option("--rnn-layers", o->rnn_layers,
                              "Comma-separated indices of the layers that become RNN layers");
  auto* mix =
      cmd->add_option("--mixers", o->mixers,
                      "One mixer per layer, comma separated: A (attn) or L (lightning-attn)");
  rnn->excludes(mix);
  mix->excludes(rnn);
  cmd->add_option("--out", o->out, "Output folder")->required();
  cmd->add_option("--dtype", o->dtype, "Storage dtype: bfloat16 (the authors' release) or float32")
      ->capture_default_str();
  cmd->add_option("--lm-head", o->lm_head,
                  "tied (the authors': output embedding = input embedding; an untied teacher's "
                  "lm_head.weight is not used), teacher (as the teacher), untied (a head of its "
                  "own, from the teacher's head or embedding)")
      ->capture_default_str();
  cmd->add_option("--max-shard-size", o->max_shard_size, "Shard above this size (0 = never)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the new weights (output gates)")
      ->capture_default_str();
  cmd->add_flag("--attn-use-rope", o->attn_use_rope,
                "Keep RoPE in the attention layers (HypeNet uses NoPE there)");
  cmd->add_flag("--no-attn-output-gate", o->no_attn_output_gate, "No o_gate in attention layers");
  cmd->add_flag("--no-lightning-output-gate", o->no_lightning_output_gate,
                "No z_proj output gate in Lightning layers");
  cmd->add_flag("--no-lightning-output-norm", o->no_lightning_output_norm,
                "No o_norm in Lightning layers");
  cmd->add_flag("--no-lightning-qk-norm", o->no_lightning_qk_norm,
                "No q/k norm in Lightning layers");
  cmd->add_flag("--no-expand-kv", o->no_expand_kv,
                "Keep the teacher's kv heads in Lightning layers (repeated at run time)");
  cmd->add_option("--lightning-scale", o->lightning_scale, "1/sqrt(d), 1/d or 1")
      ->capture_default_str();
  cmd->add_option("--attn-logits-scaling", o->logits_scaling_a,
                  "a of HyPE's inference-time query scale log(t+a)/log(a), written as "
                  "\"hype <a>\" (the authors' inference setting; 0 = off, null)")
      ->capture_default_str();
  cmd->callback([o, cmd] {
    HALO_CHECK(cmd->count("--rnn-layers") + cmd->count("--mixers") == 1,
               "convert: choose the RNN layers with exactly one of --rnn-layers or --mixers");
    run_convert(*o);
  });
}

}  // namespace halo::tools
