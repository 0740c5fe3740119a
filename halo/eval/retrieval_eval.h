// Scoring the built-in recall tasks (retrieval_prompts.h): for each context length, build the
// samples, greedily decode a few tokens after each prompt with the generation engine (prefill
// once, cached decode; halo/inference), and count exact matches of the answer's digits.
#pragma once

#include "halo/eval/retrieval_prompts.h"
#include "hypenet/causal_lm.h"

#include <nlohmann/json.hpp>

#include <vector>

namespace halo::eval {

struct RetrievalOptions {
  RetrievalTask task = RetrievalTask::kPasskey;
  std::vector<int64_t> context_lengths;  // prompt lengths in tokens, each > the fixed text
  int64_t samples_per_length = 8;        // prompts per length
  uint64_t seed = 0;                     // fixes every sample (see retrieval_sample_seed)
  int64_t batch_size = 8;                // prompts decoded together
  int64_t num_kv_pairs = 4;              // key-value task: pairs in the haystack
  int64_t prefill_chunk = 2048;          // prompt tokens per forward (bounded memory)
  // false: re-run the whole prefix for every new token (greedy_decode_uncached), the reference
  // the cached engine is timed and tested against.
  bool use_cache = true;
};

struct RetrievalScore {
  std::string task;  // "passkey" or "key_value"
  int64_t context_length = 0;
  int64_t samples = 0;
  int64_t correct = 0;
  double accuracy() const { return samples ? double(correct) / double(samples) : 0.0; }
  nlohmann::json to_json() const;
};

// One score per context length, in the order given.
std::vector<RetrievalScore> evaluate_retrieval(hypenet::CausalLM& model,
                                               const data::Tokenizer& tokenizer,
                                               const std::vector<int64_t>& filler,
                                               const RetrievalOptions& options);

// Greedy continuation without a cache: prompts [S, T] int64 -> [S, max_new_tokens] int64, each
// step one full forward over the prefix (O(T^2) per token). The reference for the engine.
at::Tensor greedy_decode_uncached(hypenet::CausalLM& model, const at::Tensor& prompts,
                                  int64_t max_new_tokens);

// Mean accuracy over a list of scores (0 for an empty list).
double mean_accuracy(const std::vector<RetrievalScore>& scores);

}  // namespace halo::eval
