// Test helpers for the halo/eval and halo/selection tests: a byte-level tokenizer (ids 0-255 are
// the bytes, 256 = EOS), tiny random Qwen3 teachers with an all-lightning stage-1 student made
// from them, and random token batches.
#pragma once

#include "data/tokenizer.h"
#include "halo/eval/token_batch.h"
#include "hypenet/parameter_init.h"
#include "hypenet/qwen3_model.h"
#include "hypenet/weight_transfer.h"

#include <ATen/Parallel.h>

#include <string>
#include <vector>

namespace halo::test {

class ByteTokenizer : public data::Tokenizer {
 public:
  ByteTokenizer() { ids_.eos = 256; }
  std::vector<int64_t> encode(std::string_view text) const override {
    std::vector<int64_t> ids;
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string decode(const std::vector<int64_t>& ids) const override {
    std::string s;
    for (int64_t id : ids) {
      if (id < 256) s += static_cast<char>(id);
    }
    return s;
  }
  int64_t vocab_size() const override { return 257; }
  const data::SpecialTokenIds& special_ids() const override { return ids_; }
  std::optional<int64_t> token_to_id(std::string_view) const override { return std::nullopt; }
  std::string kind() const override { return "bytes"; }
  std::string identity() const override { return "bytes"; }
  const std::string& path() const override { return path_; }

 private:
  data::SpecialTokenIds ids_;
  std::string path_ = "<bytes>";
};

// Qwen3 shape of the tests: vocab 300 (bytes + EOS + padding), 3 layers, GQA 4/2, head dim 8.
inline hypenet::Qwen3Config tiny_qwen3_config(int64_t layers = 3) {
  hypenet::Qwen3Config c;
  c.vocab_size = 300;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.tie_word_embeddings = false;
  c.dtype = "float32";
  return c;
}

// A random teacher; std 0.1 gives sharper attention than HF's 0.02 so layers differ.
inline hypenet::Qwen3ForCausalLM tiny_teacher(uint64_t seed, int64_t layers = 3) {
  hypenet::Qwen3ForCausalLM t(tiny_qwen3_config(layers));
  hypenet::init_parameters_like_hf(*t, 0.1, seed);
  t->eval();
  return t;
}

// The all-lightning student of step 0 (HALO_NOTES 3), standing in for a stage-1 student.
inline hypenet::HypeNetForCausalLM tiny_stage1(hypenet::Qwen3ForCausalLM& teacher, uint64_t seed) {
  const auto L = teacher->config().num_hidden_layers;
  auto config = hypenet::hypenet_config_like_release(
      teacher->config(), std::vector<hypenet::MixerType>(L, hypenet::MixerType::kLightning));
  auto s = hypenet::hypenet_from_teacher(teacher, config, seed);
  s->eval();
  return s;
}

// `count` batches of [B, T] random byte tokens; labels are the next token (last one -100).
inline std::vector<eval::TokenBatch> random_batches(uint64_t seed, int64_t count, int64_t B,
                                                    int64_t T) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<eval::TokenBatch> out;
  for (int64_t i = 0; i < count; ++i) {
    auto stream = at::randint(97, 123, {B, T + 1}, gen, at::kLong);  // 'a'..'z'
    eval::TokenBatch b;
    b.input_ids = stream.narrow(1, 0, T).contiguous();
    b.labels = stream.narrow(1, 1, T).contiguous();
    b.labels.select(1, T - 1).fill_(-100);
    out.push_back(b);
  }
  return out;
}

// Tiny models gain nothing from intra-op threads: on the loaded 2-core dev machine the
// retrieval-heavy tests ran 5x slower with two threads than with one (10.3 s vs 1.9 s).
inline void use_one_thread() {
  at::set_num_threads(1);
}

// "A" for attention, "L" for lightning-attn, one letter per layer (readable test comparisons).
inline std::string mixer_letters(const std::vector<hypenet::MixerType>& mixers) {
  std::string s;
  for (auto m : mixers) s += m == hypenet::MixerType::kAttention ? 'A' : 'L';
  return s;
}

}  // namespace halo::test
