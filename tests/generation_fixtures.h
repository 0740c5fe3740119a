// Helpers of the inference-cache tests (CPU and [cuda]): logits of a sequence fed to a cache in
// chunks, and of a ragged batch of sequences prefilled together in packed chunks and then decoded
// one token per sequence per step, each at its own position.
#pragma once

#include "hypenet/causal_lm.h"
#include "hypenet/hybrid_cache.h"
#include "hypenet/parameter_init.h"
#include "hypenet/weight_transfer.h"
#include "tests/test_util.h"

#include <algorithm>
#include <vector>

namespace halo::test {

// The fixture teacher's shape (vocab 257, 3 layers) with head dim 64 as a HypeNet L, A, L: 4
// Lightning heads of dim 64 (the CUDA kernels' sizes; expand_kv_proj from the 2 kv heads) and
// HyPE's logit scale, randomly initialised (std 0.1: sharper attention than 0.02).
inline hypenet::Qwen3Config kernel_sized_teacher_config() {
  auto teacher = hypenet::Qwen3Config::from_json_file(fixtures_dir() +
                                                      "/qwen3/untied_gqa2_sharded/config.json");
  teacher.head_dim = 64;  // RoPE in the Lightning layers needs their head dim to equal it
  return teacher;
}

inline hypenet::CausalLM kernel_sized_hybrid(at::ScalarType dtype, c10::Device device,
                                             uint64_t seed = 5) {
  auto config = hypenet::hypenet_config_like_release(
      kernel_sized_teacher_config(),
      {hypenet::MixerType::kLightning, hypenet::MixerType::kAttention,
       hypenet::MixerType::kLightning});
  config.lightning_nh = 4, config.lightning_nkv = 4, config.lightning_head_dim = 64;
  config.attn_logits_scaling_a = 500.0;
  hypenet::HypeNetForCausalLM s(config);
  hypenet::init_parameters_like_hf(*s, 0.1, seed);
  s->to(device, dtype);
  s->eval();
  hypenet::CausalLM lm;
  lm.model_type = "hypenet";
  lm.hypenet = s->config();
  lm.base = s->config().base;
  lm.student = s;
  return lm;
}

// Logits [1, T, V] of every position of ids [1, T], fed to a one-row cache in chunks of `chunk`.
inline at::Tensor chunked_logits(hypenet::CausalLM& lm, const at::Tensor& ids, int64_t chunk) {
  const int64_t T = ids.size(1);
  const auto w = lm.output_embedding();
  hypenet::HybridCache cache(lm.cache_layout(), 1, T, w.scalar_type(), w.device());
  std::vector<at::Tensor> parts;
  for (int64_t b = 0; b < T; b += chunk) {
    const int64_t n = std::min(chunk, T - b);
    auto step = hypenet::make_cache_step({0}, {b}, {n}, w.device());
    parts.push_back(lm.forward(ids.narrow(1, b, n).to(w.device()), {}, &cache, &step).logits);
  }
  return at::cat(parts, 1);
}

// seqs: S sequences [1, P_s + decode] (int64). Rows are taken in the order S-1, 0, 1, ... (not a
// contiguous range). The prompts (all but the last `decode` tokens) are prefilled together in
// packed chunks of at most `chunk` tokens per sequence, then `decode` steps feed one token per
// sequence. Returns each sequence's logits [1, P_s + decode, V].
inline std::vector<at::Tensor> ragged_logits(hypenet::CausalLM& lm,
                                             const std::vector<at::Tensor>& seqs, int64_t decode,
                                             int64_t chunk) {
  const auto w = lm.output_embedding();
  const int64_t S = static_cast<int64_t>(seqs.size());
  int64_t longest = 0;
  for (const auto& s : seqs) longest = std::max(longest, s.size(1));
  hypenet::HybridCache cache(lm.cache_layout(), S, longest, w.scalar_type(), w.device());
  std::vector<int64_t> rows(S), fed(S, 0), prompt(S);
  for (int64_t s = 0; s < S; ++s) {
    rows[s] = (s + S - 1) % S;
    prompt[s] = seqs[s].size(1) - decode;
  }
  std::vector<std::vector<at::Tensor>> got(S);
  auto run = [&](const std::vector<int64_t>& which, const std::vector<int64_t>& lens) {
    std::vector<int64_t> slots, starts;
    std::vector<at::Tensor> pieces;
    for (size_t i = 0; i < which.size(); ++i) {
      slots.push_back(rows[which[i]]);
      starts.push_back(fed[which[i]]);
      pieces.push_back(seqs[which[i]].narrow(1, fed[which[i]], lens[i]));
    }
    auto step = hypenet::make_cache_step(slots, starts, lens, w.device());
    auto ids = (step.packed ? at::cat(pieces, 1) : at::cat(pieces, 0)).to(w.device());
    auto logits = lm.forward(ids, {}, &cache, &step).logits;
    for (size_t i = 0, col = 0; i < which.size(); ++i) {
      got[which[i]].push_back(step.packed ? logits.narrow(1, col, lens[i])
                                          : logits.narrow(0, i, 1));
      col += lens[i];
      fed[which[i]] += lens[i];
    }
  };
  for (;;) {
    std::vector<int64_t> which, lens;
    for (int64_t s = 0; s < S; ++s) {
      const int64_t n = std::min(chunk, prompt[s] - fed[s]);
      if (n > 0) which.push_back(s), lens.push_back(n);
    }
    if (which.empty()) break;
    run(which, lens);
  }
  std::vector<int64_t> all(S), ones(S, 1);
  for (int64_t s = 0; s < S; ++s) all[s] = s;
  for (int64_t t = 0; t < decode; ++t) run(all, ones);
  std::vector<at::Tensor> out;
  for (auto& parts : got) out.push_back(at::cat(parts, 1));
  return out;
}

}  // namespace halo::test
