// Implementation of hypenet_config.h.
#include "hypenet/hypenet_config.h"

#include "common/error.h"
#include "common/json_fields.h"

#include <cmath>
#include <sstream>

namespace halo::hypenet {

namespace {
// HypeNet keys: read here, removed from base.extra so they are written once.
const char* kHypeNetKeys[] = {"mixer_types", "lightning_use_rope", "lightning_rope_scaling",
                              "lightning_nh", "lightning_nkv", "lightning_head_dim",
                              "lightning_scale", "lightning_use_qk_norm",
                              "lightning_use_output_norm", "lightning_use_output_gate",
                              "lightning_use_short_conv", "lightning_conv_size", "expand_kv_proj",
                              "attn_use_rope", "attn_use_output_gate", "attn_logits_scaling"};
}  // namespace

MixerType parse_mixer_type(const std::string& name, const std::string& where) {
  if (name == "attn" || name == "A" || name == "a") return MixerType::kAttention;
  if (name == "lightning-attn" || name == "lightning_attn" || name == "L" || name == "l") {
    return MixerType::kLightning;
  }
  HALO_FAIL(where, ": unknown mixer \"", name, "\"; expected \"attn\" or \"lightning-attn\"");
}

std::string mixer_type_name(MixerType type) {
  return type == MixerType::kAttention ? "attn" : "lightning-attn";
}

HypeNetConfig HypeNetConfig::from_json_file(const std::string& path) {
  return from_json(read_json_file(path), path);
}

HypeNetConfig HypeNetConfig::from_json(const nlohmann::json& j, const std::string& source) {
  HypeNetConfig c;
  c.base = Qwen3Config::from_json(j, source, "hypenet");
  for (const char* key : kHypeNetKeys) c.base.extra.erase(key);
  JsonFields f(j, source);
  HALO_CHECK(f.has("mixer_types") && j.at("mixer_types").is_array(), f.where("mixer_types"),
             ": expected a list of \"attn\" / \"lightning-attn\", one per layer");
  const auto& mixers = j.at("mixer_types");
  for (size_t i = 0; i < mixers.size(); ++i) {
    const std::string where = str_cat(f.where("mixer_types"), "[", i, "]");
    HALO_CHECK(mixers[i].is_string(), where, ": expected a string");
    c.mixer_types.push_back(parse_mixer_type(mixers[i].get<std::string>(), where));
  }
  c.lightning_use_rope = f.get_bool("lightning_use_rope", true);
  c.lightning_nh = f.get_int("lightning_nh", c.base.num_attention_heads);
  c.lightning_nkv = f.get_int("lightning_nkv", c.base.num_key_value_heads);
  c.lightning_head_dim = f.get_int("lightning_head_dim", c.base.head_dim);
  c.lightning_scale = f.get_string("lightning_scale", "1/sqrt(d)");
  c.lightning_use_qk_norm = f.get_bool("lightning_use_qk_norm", false);
  c.lightning_use_output_norm = f.get_bool("lightning_use_output_norm", false);
  c.lightning_use_output_gate = f.get_bool("lightning_use_output_gate", false);
  c.expand_kv_proj = f.get_bool("expand_kv_proj", false);
  c.attn_use_rope = f.get_bool("attn_use_rope", true);
  c.attn_use_output_gate = f.get_bool("attn_use_output_gate", false);
  HALO_CHECK(!f.get_bool("lightning_use_short_conv", false), f.where("lightning_use_short_conv"),
             ": short convolutions are not supported; expected false");
  HALO_CHECK(!f.has("lightning_rope_scaling") || !j.at("lightning_rope_scaling").is_boolean() ||
                 !j.at("lightning_rope_scaling").get<bool>(),
             f.where("lightning_rope_scaling"), ": RoPE scaling is not supported; expected null");
  if (f.has("attn_logits_scaling")) {
    const auto& v = j.at("attn_logits_scaling");
    if (v.is_number()) {
      c.attn_logits_scaling_const = v.get<double>();
    } else if (v.is_string()) {
      std::istringstream in(v.get<std::string>());
      std::string word;
      in >> word;
      HALO_CHECK(word == "hype", f.where("attn_logits_scaling"),
                 ": expected null, a number or \"hype <a>\", found \"", v.get<std::string>(), "\"");
      double a = 362.0;  // the public implementation's default when no <a> is given
      if (in >> a) {
      } else {
        HALO_CHECK(in.eof(), f.where("attn_logits_scaling"), ": \"hype <a>\" needs a number a");
      }
      c.attn_logits_scaling_a = a;
    } else {
      HALO_FAIL(f.where("attn_logits_scaling"), ": expected null, a number or \"hype <a>\"");
    }
  }
  c.validate(source);
  return c;
}

void HypeNetConfig::validate(const std::string& source) const {
  base.validate(source);
  HALO_CHECK(static_cast<int64_t>(mixer_types.size()) == base.num_hidden_layers, source,
             ": key 'mixer_types' lists ", mixer_types.size(), " mixers but 'num_hidden_layers' is ",
             base.num_hidden_layers, "; expected one per layer");
  HALO_CHECK(lightning_nh > 0 && lightning_nkv > 0 && lightning_head_dim > 0, source,
             ": keys 'lightning_nh', 'lightning_nkv', 'lightning_head_dim' must be > 0");
  HALO_CHECK(lightning_nh % lightning_nkv == 0, source, ": key 'lightning_nh' (", lightning_nh,
             ") must be a multiple of 'lightning_nkv' (", lightning_nkv, ")");
  HALO_CHECK(lightning_head_dim % 2 == 0 || !lightning_use_rope, source,
             ": key 'lightning_head_dim' must be even when 'lightning_use_rope' is true");
  HALO_CHECK(!lightning_use_rope || lightning_head_dim == base.head_dim, source,
             ": key 'lightning_head_dim' (", lightning_head_dim,
             ") must equal 'head_dim' (", base.head_dim, ") when 'lightning_use_rope' is true");
  if (expand_kv_proj) {
    const int64_t target = lightning_nkv * lightning_head_dim;
    const int64_t orig = base.num_key_value_heads * base.head_dim;
    HALO_CHECK(lightning_head_dim == base.head_dim && target % orig == 0, source,
               ": 'expand_kv_proj' needs lightning_nkv*lightning_head_dim (", target,
               ") to be a multiple of num_key_value_heads*head_dim (", orig,
               ") with the same head_dim");
  }
  HALO_CHECK(lightning_scale == "1/sqrt(d)" || lightning_scale == "1/d" || lightning_scale == "1",
             source, ": key 'lightning_scale' must be \"1/sqrt(d)\", \"1/d\" or \"1\", found \"",
             lightning_scale, "\"");
  HALO_CHECK(!attn_logits_scaling_a || *attn_logits_scaling_a > 1.0, source,
             ": key 'attn_logits_scaling': a in \"hype <a>\" must be > 1");
}

nlohmann::json HypeNetConfig::to_json() const {
  nlohmann::json j = base.to_json();
  j["architectures"] = {"HypeNetForCausalLM"};
  j["model_type"] = "hypenet";
  j["mixer_types"] = nlohmann::json::array();
  for (auto m : mixer_types) j["mixer_types"].push_back(mixer_type_name(m));
  j["lightning_use_rope"] = lightning_use_rope;
  j["lightning_rope_scaling"] = nullptr;
  j["lightning_nh"] = lightning_nh;
  j["lightning_nkv"] = lightning_nkv;
  j["lightning_head_dim"] = lightning_head_dim;
  j["lightning_scale"] = lightning_scale;
  j["lightning_use_qk_norm"] = lightning_use_qk_norm;
  j["lightning_use_output_norm"] = lightning_use_output_norm;
  j["lightning_use_output_gate"] = lightning_use_output_gate;
  j["lightning_use_short_conv"] = false;
  j["expand_kv_proj"] = expand_kv_proj;
  j["attn_use_rope"] = attn_use_rope;
  j["attn_use_output_gate"] = attn_use_output_gate;
  if (attn_logits_scaling_a) {
    std::ostringstream os;
    os << "hype " << *attn_logits_scaling_a;
    j["attn_logits_scaling"] = os.str();
  } else if (attn_logits_scaling_const) {
    j["attn_logits_scaling"] = *attn_logits_scaling_const;
  } else {
    j["attn_logits_scaling"] = nullptr;
  }
  return j;
}

double HypeNetConfig::lightning_scale_value() const {
  const double d = static_cast<double>(lightning_head_dim);
  if (lightning_scale == "1/d") return 1.0 / d;
  if (lightning_scale == "1") return 1.0;
  return 1.0 / std::sqrt(d);
}

int64_t HypeNetConfig::num_lightning_layers() const {
  int64_t n = 0;
  for (auto m : mixer_types) n += m == MixerType::kLightning;
  return n;
}

}  // namespace halo::hypenet
