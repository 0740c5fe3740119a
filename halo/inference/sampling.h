// Choosing the next token from a model's logits: greedy (temperature 0), or sampling with
// temperature, top-k and top-p (nucleus) as Hugging Face's generate applies them (temperature,
// then top-k, then top-p keeping the smallest prefix whose probability reaches p, at least one
// token). Sampling draws from a per-sequence generator seeded from (seed, sequence index), on the
// CPU in float32, so a sequence's tokens do not depend on its batch, device or neighbours.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace halo::inference {

struct SamplingParams {
  double temperature = 0.0;  // 0: greedy (argmax); > 0: sample from softmax(logits / t)
  int64_t top_k = 0;         // 0: off; k: only the k most likely tokens
  double top_p = 1.0;        // in (0, 1]; 1: off
  uint64_t seed = 0;         // with the sequence index, fixes the draws

  bool greedy() const { return temperature == 0.0; }
  // Errors name `where` (e.g. "--temperature", "prompts.jsonl:3") and the valid range.
  void validate(const std::string& where) const;
};

// One sequence's draws.
class TokenSampler {
 public:
  TokenSampler(const SamplingParams& params, uint64_t sequence_index);
  // logits: [V] (any float dtype, any device) -> the chosen token id.
  int64_t next(const at::Tensor& logits);
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  at::Generator generator_;
};

// The probabilities sampling draws from (after temperature, top-k, top-p): logits [V] ->
// float32 [V] on the CPU, zero outside the kept set. Exposed for tests.
at::Tensor sampling_distribution(const at::Tensor& logits, const SamplingParams& params);

}  // namespace halo::inference
