// Implementation of qwen3_config.h: config.json <-> Qwen3Config with key-level validation.
#include "hypenet/qwen3_config.h"

#include "common/error.h"
#include "common/json_fields.h"

#include <set>

namespace halo::hypenet {

namespace {
// Keys interpreted (or deliberately ignored because they do not change the forward).
const std::set<std::string> kKnownKeys = {
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
    "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta",
    "rope_parameters", "rope_scaling", "tie_word_embeddings", "attention_bias",
    "max_position_embeddings", "initializer_range", "torch_dtype", "dtype", "hidden_act",
    "use_sliding_window", "sliding_window", "layer_types", "model_type", "architectures"};
}  // namespace

Qwen3Config Qwen3Config::from_json_file(const std::string& path) {
  return from_json(read_json_file(path), path);
}

Qwen3Config Qwen3Config::from_json(const nlohmann::json& j, const std::string& source,
                                   const std::string& expected_model_type) {
  JsonFields f(j, source);
  Qwen3Config c;
  c.vocab_size = f.require_int("vocab_size");
  c.hidden_size = f.require_int("hidden_size");
  c.intermediate_size = f.require_int("intermediate_size");
  c.num_hidden_layers = f.require_int("num_hidden_layers");
  c.num_attention_heads = f.require_int("num_attention_heads");
  c.num_key_value_heads = f.get_int("num_key_value_heads", c.num_attention_heads);
  HALO_CHECK(c.num_attention_heads > 0, f.where("num_attention_heads"), ": must be > 0, found ",
             c.num_attention_heads);
  c.head_dim = f.get_int("head_dim", c.hidden_size / c.num_attention_heads);
  c.rms_norm_eps = f.get_number("rms_norm_eps", 1e-6);
  c.tie_word_embeddings = f.get_bool("tie_word_embeddings", false);
  c.attention_bias = f.get_bool("attention_bias", false);
  c.max_position_embeddings = f.get_int("max_position_embeddings", 32768);
  c.initializer_range = f.get_number("initializer_range", 0.02);
  c.dtype = f.get_string("dtype", f.get_string("torch_dtype", "bfloat16"));

  // RoPE: transformers 5 writes rope_parameters {rope_theta, rope_type}; 4.x rope_theta and an
  // optional rope_scaling. Only the default rope type is implemented.
  c.rope_theta = f.get_number("rope_theta", 1e6);
  if (auto rp = f.get_object("rope_parameters")) {
    c.rope_theta = rp->get_number("rope_theta", c.rope_theta);
    std::string type = rp->get_string("rope_type", "default");
    HALO_CHECK(type == "default", rp->where("rope_type"), ": only \"default\" RoPE is supported, found \"",
               type, "\"");
  }
  if (auto rs = f.get_object("rope_scaling")) {
    std::string type = rs->get_string("rope_type", rs->get_string("type", "default"));
    HALO_CHECK(type == "default", rs->where("rope_type"),
               ": RoPE scaling is not supported (only \"default\"), found \"", type, "\"");
  }
  std::string act = f.get_string("hidden_act", "silu");
  HALO_CHECK(act == "silu", f.where("hidden_act"), ": only \"silu\" is supported, found \"", act,
             "\"");
  HALO_CHECK(!f.get_bool("use_sliding_window", false), f.where("use_sliding_window"),
             ": sliding-window attention is not supported; expected false");
  std::string model_type = f.get_string("model_type", expected_model_type);
  HALO_CHECK(model_type == expected_model_type, f.where("model_type"), ": expected \"",
             expected_model_type, "\", found \"", model_type, "\"");

  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!kKnownKeys.count(it.key())) c.extra[it.key()] = it.value();
  }
  c.validate(source);
  return c;
}

void Qwen3Config::validate(const std::string& source) const {
  auto positive = [&](const char* key, int64_t v) {
    HALO_CHECK(v > 0, source, ": key '", key, "' must be > 0, found ", v);
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("head_dim", head_dim);
  HALO_CHECK(num_attention_heads % num_key_value_heads == 0, source,
             ": key 'num_attention_heads' (", num_attention_heads,
             ") must be a multiple of 'num_key_value_heads' (", num_key_value_heads, ")");
  HALO_CHECK(head_dim % 2 == 0, source, ": key 'head_dim' must be even for RoPE, found ",
             head_dim);
  HALO_CHECK(rms_norm_eps > 0, source, ": key 'rms_norm_eps' must be > 0, found ", rms_norm_eps);
  HALO_CHECK(rope_theta > 0, source, ": key 'rope_theta' must be > 0, found ", rope_theta);
  HALO_CHECK(dtype == "bfloat16" || dtype == "float32" || dtype == "float16", source,
             ": key 'dtype' must be \"bfloat16\", \"float16\" or \"float32\", found \"", dtype,
             "\"");
}

nlohmann::json Qwen3Config::to_json() const {
  nlohmann::json j = extra.is_object() ? extra : nlohmann::json::object();
  j["architectures"] = {"Qwen3ForCausalLM"};
  j["model_type"] = "qwen3";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  j["rope_parameters"] = {{"rope_theta", rope_theta}, {"rope_type", "default"}};
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["attention_bias"] = attention_bias;
  j["max_position_embeddings"] = max_position_embeddings;
  j["initializer_range"] = initializer_range;
  j["hidden_act"] = "silu";
  j["use_sliding_window"] = false;
  j["dtype"] = dtype;
  return j;
}

int64_t Qwen3Config::num_parameters() const {
  const int64_t q = num_attention_heads * head_dim, kv = num_key_value_heads * head_dim;
  int64_t attn = hidden_size * q + 2 * hidden_size * kv + q * hidden_size + 2 * head_dim;
  if (attention_bias) attn += q + 2 * kv + hidden_size;
  const int64_t mlp = 3 * hidden_size * intermediate_size;
  const int64_t per_layer = attn + mlp + 2 * hidden_size;
  int64_t total = vocab_size * hidden_size + num_hidden_layers * per_layer + hidden_size;
  if (!tie_word_embeddings) total += vocab_size * hidden_size;
  return total;
}

}  // namespace halo::hypenet
