// HypeNetConfig: the student architecture (HALO_NOTES 2), read from and written to a Hugging
// Face config.json with the keys of the authors' HypeNet (model_type "hypenet"), so checkpoints
// move between this toolkit and theirs. The Qwen3 keys (sizes, norms, RoPE) live in `base`.
#pragma once

#include "hypenet/qwen3_config.h"

#include <optional>
#include <string>
#include <vector>

namespace halo::hypenet {

enum class MixerType { kAttention, kLightning };

struct HypeNetConfig {
  Qwen3Config base;                    // the teacher's keys; base.dtype is the storage dtype
  std::vector<MixerType> mixer_types;  // per layer: "attn" or "lightning-attn"
  // Lightning Attention layers.
  bool lightning_use_rope = true;         // RoPE on q, k (the RNN layers carry positions)
  int64_t lightning_nh = 0;               // heads (default: num_attention_heads)
  int64_t lightning_nkv = 0;              // kv heads (default: num_key_value_heads)
  int64_t lightning_head_dim = 0;         // head dim (default: head_dim)
  std::string lightning_scale = "1/sqrt(d)";  // "1/sqrt(d)", "1/d" or "1"
  bool lightning_use_qk_norm = false;     // per-head RMSNorm on q, k
  bool lightning_use_output_norm = false; // RMSNorm over the concatenated heads (o_norm)
  bool lightning_use_output_gate = false; // o * sigmoid(z_proj(x))
  bool expand_kv_proj = false;            // k/v projections expanded from the teacher's GQA
  // Attention layers.
  bool attn_use_rope = true;              // false: NoPE
  bool attn_use_output_gate = false;      // o * sigmoid(o_gate(x))
  std::optional<double> attn_logits_scaling_a;  // "hype <a>": q *= log(t + a) / log(a)
  std::optional<double> attn_logits_scaling_const;  // a number: q *= constant

  static HypeNetConfig from_json_file(const std::string& path);
  static HypeNetConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
  void validate(const std::string& source) const;

  double lightning_scale_value() const;  // the numeric scale for the op
  int64_t num_lightning_layers() const;
};

// "attn" / "lightning-attn" (also "lightning_attn", and the CLI's "A" / "L").
MixerType parse_mixer_type(const std::string& name, const std::string& where);
std::string mixer_type_name(MixerType type);

}  // namespace halo::hypenet
