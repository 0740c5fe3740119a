// The generation engine: runs a Qwen3 teacher or a HypeNet student (hypenet::CausalLM) on a
// HybridCache. Each request's prompt is prefilled in chunks (bounded activation memory at any
// context), then one token per live sequence is decoded per step. Up to `batch_size` sequences
// share the cache; prompts of different lengths never see each other's padding (ragged steps,
// hybrid_cache.h), a sequence that finishes (EOS, a stop string, max_new_tokens) leaves the batch
// at once and the next waiting request takes its row.
#pragma once

#include "halo/inference/sampling.h"
#include "hypenet/causal_lm.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace halo::inference {

struct GenerationRequest {
  std::vector<int64_t> prompt;  // token ids, at least one
  int64_t max_new_tokens = 16;  // >= 1
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings (EngineOptions::detokenize needed)
  std::string source;             // names the request in errors, e.g. "prompts.jsonl:3"
};

enum class FinishReason { kLength, kEos, kStop };
std::string finish_reason_name(FinishReason reason);  // "length", "eos", "stop"

struct GenerationResult {
  std::vector<int64_t> tokens;  // generated ids: with the EOS that ended it; up to the token
                                // that completed a stop string
  std::string text;             // the tokens' text (EOS left out, cut before a stop string);
                                // empty without a detokenizer
  FinishReason finish = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0;  // from taking a cache row to the first new token
  double decode_seconds = 0;   // from the first new token to the last
};

struct EngineOptions {
  int64_t batch_size = 8;        // cache rows: sequences in flight together
  int64_t prefill_chunk = 512;   // prompt tokens per sequence per forward
  int64_t capacity = 0;          // tokens per row; 0: the longest prompt + max_new_tokens
  std::vector<int64_t> eos_ids;  // any of these ends a sequence
  // ids -> text: for stop strings and GenerationResult::text (null: neither).
  std::function<std::string(const std::vector<int64_t>&)> detokenize;
  bool check_memory = true;  // plan the memory first (memory_plan.h)
  // On a GPU, decode steps replay one captured CUDA graph (decode_graph.h) instead of launching
  // every kernel from the host; off: every step eager (the same kernels and results).
  bool cuda_graph = true;
};

// One new token of request `request` (streaming, progress bars).
struct TokenEvent {
  size_t request = 0;
  int64_t token = 0;
  bool finished = false;
  const GenerationResult* result = nullptr;  // the finished result (when `finished`)
};
using TokenCallback = std::function<void(const TokenEvent&)>;

class GenerationEngine {
 public:
  GenerationEngine(hypenet::CausalLM& model, EngineOptions options);
  // Results in request order. Every request is validated before anything is allocated; errors
  // name the request's source and the value against its limit.
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests,
                                         const TokenCallback& on_token = {});
  const EngineOptions& options() const { return options_; }
  // Tokens per row the requests need (longest prompt + its max_new_tokens).
  static int64_t needed_capacity(const std::vector<GenerationRequest>& requests);

 private:
  void validate(const std::vector<GenerationRequest>& requests, int64_t capacity) const;
  hypenet::CausalLM& model_;
  EngineOptions options_;
};

// Greedy continuation of equal-length prompts [S, T] int64 -> [S, max_new_tokens] int64 on the
// CPU, through the engine (prefill once, cached decode; no EOS).
at::Tensor greedy_generate(hypenet::CausalLM& model, const at::Tensor& prompts,
                           int64_t max_new_tokens, int64_t batch_size = 8,
                           int64_t prefill_chunk = 512);

}  // namespace halo::inference
