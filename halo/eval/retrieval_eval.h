// Scoring the built-in recall tasks (retrieval_prompts.h), the one implementation used by the
// quality gate, layer selection and `halo-distill eval`'s passkey and kv tasks: for each context
// length, build the samples, greedily decode a few tokens after each prompt (TaskModel: the
// generation engine, prefill once, cached decode), and count exact matches of the answer's
// digits.
#pragma once

#include "data/tokenizer.h"
#include "halo/eval/retrieval_prompts.h"
#include "halo/eval/task_model.h"
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

// One score per context length, in the order given. Prompts go to `model` in groups of
// options.batch_size (use_cache and prefill_chunk are the TaskModel's business).
std::vector<RetrievalScore> evaluate_retrieval(TaskModel& model, const data::Tokenizer& tokenizer,
                                               const std::vector<int64_t>& filler,
                                               const RetrievalOptions& options);

// The same on a CausalLM, through LmTaskModel with options' batch_size, prefill_chunk and
// use_cache.
std::vector<RetrievalScore> evaluate_retrieval(hypenet::CausalLM& model,
                                               const data::Tokenizer& tokenizer,
                                               const std::vector<int64_t>& filler,
                                               const RetrievalOptions& options);

// The text of generated ids, without ids the tokenizer does not have (padded embedding rows).
std::string continuation_text(const data::Tokenizer& tokenizer, std::vector<int64_t> ids);

// Mean accuracy over a list of scores (0 for an empty list).
double mean_accuracy(const std::vector<RetrievalScore>& scores);

}  // namespace halo::eval
