// Implementation of weight_transfer.h.
#include "hypenet/weight_transfer.h"

#include "common/error.h"
#include "hypenet/parameter_init.h"

#include <torch/utils.h>

namespace halo::hypenet {

HypeNetConfig hypenet_config_like_release(const Qwen3Config& t,
                                          const std::vector<MixerType>& mixers) {
  HypeNetConfig c;
  c.base = t;
  c.mixer_types = mixers;
  c.lightning_use_rope = true;
  c.lightning_nh = t.num_attention_heads;
  c.lightning_nkv = t.num_attention_heads;  // MHA after expansion
  c.lightning_head_dim = t.head_dim;
  c.lightning_scale = "1/sqrt(d)";
  c.lightning_use_qk_norm = true;
  c.lightning_use_output_norm = true;
  c.lightning_use_output_gate = true;
  c.expand_kv_proj = true;
  c.attn_use_rope = false;
  c.attn_use_output_gate = true;
  return c;
}

namespace {

void check_same(int64_t teacher, int64_t student, const char* key) {
  HALO_CHECK(teacher == student, "convert: the student config's '", key, "' (", student,
             ") differs from the teacher's (", teacher, ")");
}

// [kv*d, D] -> [kv*g*d, D]: each kv head's d rows repeated g times (GQA -> MHA).
at::Tensor expand_kv(const at::Tensor& w, int64_t head_dim, int64_t g) {
  auto heads = w.view({-1, head_dim, w.size(1)});                 // [kv, d, D]
  return heads.repeat_interleave(g, 0).reshape({-1, w.size(1)});  // [kv*g*d, D]
}

}  // namespace

HypeNetForCausalLM hypenet_from_teacher(Qwen3ForCausalLM& teacher, const HypeNetConfig& config,
                                        uint64_t seed) {
  const auto& t = teacher->config();
  const auto& s = config.base;
  check_same(t.vocab_size, s.vocab_size, "vocab_size");
  check_same(t.hidden_size, s.hidden_size, "hidden_size");
  check_same(t.intermediate_size, s.intermediate_size, "intermediate_size");
  check_same(t.num_hidden_layers, s.num_hidden_layers, "num_hidden_layers");
  check_same(t.num_attention_heads, s.num_attention_heads, "num_attention_heads");
  check_same(t.num_key_value_heads, s.num_key_value_heads, "num_key_value_heads");
  check_same(t.head_dim, s.head_dim, "head_dim");
  check_same(t.attention_bias, s.attention_bias, "attention_bias");
  HALO_CHECK(
      config.lightning_head_dim == t.head_dim && config.lightning_nh == t.num_attention_heads,
      "convert: Lightning layers are initialised from the teacher's attention, so "
      "lightning_nh and lightning_head_dim must equal the teacher's heads and head_dim");
  const int64_t kv_rows = t.num_key_value_heads * t.head_dim;
  const int64_t student_kv_rows = config.lightning_nkv * config.lightning_head_dim;
  HALO_CHECK(student_kv_rows == kv_rows || config.expand_kv_proj,
             "convert: lightning_nkv*lightning_head_dim (", student_kv_rows,
             ") differs from the teacher's kv size (", kv_rows, "); set expand_kv_proj");

  torch::NoGradGuard no_grad;
  HypeNetForCausalLM student(config);
  // Every parameter first gets the initialisation of a new weight; copied ones are overwritten.
  init_parameters_like_hf(*student, s.initializer_range, seed);
  auto tp = teacher->named_parameters();
  auto sp = student->named_parameters();
  auto copy = [&](const std::string& student_name, const at::Tensor& value) {
    auto& dst = sp[student_name];
    HALO_CHECK(dst.sizes() == value.sizes(), "convert: shape of ", student_name, " ", dst.sizes(),
               " differs from the teacher's ", value.sizes());
    dst.copy_(value.to(at::kCPU, at::kFloat));
  };
  for (const auto& item : tp) {
    const std::string& name = item.key();
    const at::Tensor& w = item.value();
    // An untied teacher's head with a tied student: the student's output embedding is its input
    // embedding (the authors' HypeNet-9B from Qwen3-8B); the teacher's head is not used.
    if (name == "lm_head.weight" && s.tie_word_embeddings) continue;
    // Layer tensors: model.layers.{i}.self_attn.* need per-mixer handling.
    const auto pos = name.find(".self_attn.");
    if (pos == std::string::npos) {
      copy(name, w);
      continue;
    }
    const int64_t layer = std::stoll(name.substr(std::string("model.layers.").size()));
    const std::string leaf = name.substr(pos + 11);  // e.g. "k_proj.weight"
    if (config.mixer_types[layer] == MixerType::kAttention) {
      copy(name, w);
      continue;
    }
    const bool kv = leaf.rfind("k_proj.", 0) == 0 || leaf.rfind("v_proj.", 0) == 0;
    if (kv && config.expand_kv_proj && student_kv_rows != kv_rows) {
      const int64_t g = student_kv_rows / kv_rows;
      copy(name, leaf.find(".bias") != std::string::npos
                     ? w.view({-1, t.head_dim}).repeat_interleave(g, 0).reshape({-1})
                     : expand_kv(w, t.head_dim, g));
    } else if ((leaf == "q_norm.weight" || leaf == "k_norm.weight") &&
               !config.lightning_use_qk_norm) {
      continue;  // the student has no q/k norm in Lightning layers
    } else {
      copy(name, w);
    }
  }
  // A tied teacher with an untied student: the new head starts as a copy of the embedding.
  if (t.tie_word_embeddings && !s.tie_word_embeddings) {
    copy("lm_head.weight", tp["model.embed_tokens.weight"]);
  }
  return student;
}

bool student_head_tied(const std::string& lm_head, bool teacher_tied, const std::string& where) {
  if (lm_head == "tied") return true;
  if (lm_head == "untied") return false;
  if (lm_head == "teacher") return teacher_tied;
  HALO_FAIL(where, ": \"", lm_head, "\" is not a head choice; expected tied, teacher or untied");
}

}  // namespace halo::hypenet
