// What the evaluation tasks (passkey, key-value, the NIAH variants, ppl-by-position, multiple
// choice) need from a model, as one interface: greedy continuations of prompts and the
// log-probability of every next token of a sequence. LmTaskModel is the real one: a
// hypenet::CausalLM (teacher or HypeNet) decoded by the generation engine (chunked prefill, then
// cached decode; never the prefix again per token) and scored through a one-row inference cache
// in chunks, so memory stays bounded at any length. Tests implement fakes (a copying model).
#pragma once

#include "hypenet/causal_lm.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace halo::eval {

class TaskModel {
 public:
  virtual ~TaskModel() = default;
  // Greedy continuation of each prompt (token ids, at least one each): max_new_tokens[i] ids
  // for prompt i (one budget per prompt), in prompt order; no stop at EOS. The ids may include
  // ids of padded embedding rows (>= the tokenizer's vocabulary), which have no text. Prompts
  // given together may be decoded together (a batch), so callers that want a prompt's result
  // not to depend on others pass the same group every time.
  virtual std::vector<std::vector<int64_t>> greedy_continue(
      const std::vector<std::vector<int64_t>>& prompts,
      const std::vector<int64_t>& max_new_tokens) = 0;
  // ids [T] (T >= 2) -> [T - 1] float64 on the CPU: entry t is log p(ids[t + 1] | ids[0..t]).
  virtual at::Tensor next_token_log_probs(const std::vector<int64_t>& ids) = 0;
  // The same for several sequences (lengths may differ), in order; a model may score them
  // together. The default scores them one by one.
  virtual std::vector<at::Tensor> next_token_log_probs_batch(
      const std::vector<std::vector<int64_t>>& seqs);
};

struct LmTaskOptions {
  int64_t batch_size = 8;        // sequences decoded together (engine cache rows)
  int64_t prefill_chunk = 2048;  // prompt tokens per forward, decoding and scoring
  // false: greedy_continue re-runs the whole prefix for every new token (greedy_decode_uncached,
  // prompts of one length per batch), the reference the engine is tested against.
  bool use_cache = true;
  bool cuda_graph = true;  // EngineOptions::cuda_graph
};

class LmTaskModel : public TaskModel {
 public:
  // Keeps a reference: `model` must outlive this object.
  LmTaskModel(hypenet::CausalLM& model, LmTaskOptions options = {});
  std::vector<std::vector<int64_t>> greedy_continue(
      const std::vector<std::vector<int64_t>>& prompts,
      const std::vector<int64_t>& max_new_tokens) override;
  at::Tensor next_token_log_probs(const std::vector<int64_t>& ids) override;
  // Up to batch_size sequences share a cache and each forward (ragged chunks of at most
  // prefill_chunk tokens per sequence, packed when their lengths differ).
  std::vector<at::Tensor> next_token_log_probs_batch(
      const std::vector<std::vector<int64_t>>& seqs) override;

 private:
  hypenet::CausalLM& model_;
  LmTaskOptions options_;
};

// Greedy continuation without a cache: prompts [S, T] int64 -> [S, max_new_tokens] int64, each
// step one full forward over the prefix (O(T^2) per token). The reference for the engine.
at::Tensor greedy_decode_uncached(hypenet::CausalLM& model, const at::Tensor& prompts,
                                  int64_t max_new_tokens);

}  // namespace halo::eval
