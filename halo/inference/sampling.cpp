// Implementation of sampling.h.
#include "halo/inference/sampling.h"

#include "common/error.h"
#include "common/splitmix64.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace halo::inference {

void SamplingParams::validate(const std::string& where) const {
  HALO_CHECK(std::isfinite(temperature) && temperature >= 0.0, where, ": temperature is ",
             temperature, "; expected a number >= 0 (0 = greedy)");
  HALO_CHECK(top_k >= 0, where, ": top_k is ", top_k, "; expected >= 0 (0 = off)");
  HALO_CHECK(std::isfinite(top_p) && top_p > 0.0 && top_p <= 1.0, where, ": top_p is ", top_p,
             "; expected a number in (0, 1] (1 = off)");
}

TokenSampler::TokenSampler(const SamplingParams& params, uint64_t sequence_index)
    : params_(params),
      generator_(at::make_generator<at::CPUGeneratorImpl>(
          splitmix64(params.seed ^ splitmix64(sequence_index)))) {}

at::Tensor sampling_distribution(const at::Tensor& logits, const SamplingParams& p) {
  auto x = logits.detach().to(at::kCPU, at::kFloat).reshape({-1});  // [V]
  x = x / p.temperature;
  const int64_t V = x.size(0);
  if (p.top_k > 0 && p.top_k < V) {
    auto kth = std::get<0>(x.topk(p.top_k)).min();  // the k-th largest logit
    x = x.masked_fill(x < kth, -INFINITY);
  }
  auto probs = at::softmax(x, 0);
  if (p.top_p < 1.0) {
    // Sorted ascending as transformers' TopPLogitsWarper: drop the low tail whose mass is
    // <= 1 - p, always keep the most likely token.
    auto [sorted, order] = probs.sort(/*dim=*/0, /*descending=*/false);
    auto tail = sorted.cumsum(0) <= (1.0 - p.top_p);
    tail.index_put_({V - 1}, false);
    auto drop = at::zeros_like(tail).scatter(0, order, tail);
    probs = probs.masked_fill(drop, 0.0);
    probs = probs / probs.sum();
  }
  return probs;
}

int64_t TokenSampler::next(const at::Tensor& logits) {
  if (params_.greedy()) return logits.reshape({-1}).argmax().item<int64_t>();
  auto probs = sampling_distribution(logits, params_);
  return at::multinomial(probs, 1, /*replacement=*/false, generator_).item<int64_t>();
}

}  // namespace halo::inference
