// Implementation of task_model.h.
#include "halo/eval/task_model.h"

#include "halo/common/error.h"
#include "halo/eval/language_model.h"
#include "halo/inference/generation_engine.h"
#include "hypenet/hybrid_cache.h"

#include <algorithm>

namespace halo::eval {

at::Tensor greedy_decode_uncached(hypenet::CausalLM& model, const at::Tensor& prompts,
                                  int64_t max_new_tokens) {
  HALO_CHECK(prompts.dim() == 2 && prompts.scalar_type() == at::kLong,
             "greedy_decode_uncached: prompts must be int64 [S, T], got ", prompts.sizes());
  at::NoGradGuard no_grad;
  hypenet::ForwardOptions opt;
  opt.logits_to_keep = 1;
  auto ids = prompts.to(output_embedding(model).device());
  std::vector<at::Tensor> steps;
  for (int64_t i = 0; i < max_new_tokens; ++i) {
    auto logits = model.forward(ids, opt).logits;      // [S, 1, V]
    auto next = logits.select(1, 0).argmax(-1, true);  // [S, 1]
    steps.push_back(next);
    ids = at::cat({ids, next}, 1);
  }
  if (steps.empty()) return at::empty({prompts.size(0), 0}, prompts.options());
  return at::cat(steps, 1).to(at::kCPU);  // [S, max_new_tokens]
}

LmTaskModel::LmTaskModel(hypenet::CausalLM& model, LmTaskOptions options)
    : model_(model), options_(options) {
  HALO_CHECK(options_.batch_size >= 1, "evaluation: batch_size must be >= 1, got ",
             options_.batch_size);
  HALO_CHECK(options_.prefill_chunk >= 1, "evaluation: prefill_chunk must be >= 1, got ",
             options_.prefill_chunk);
}

std::vector<std::vector<int64_t>> LmTaskModel::greedy_continue(
    const std::vector<std::vector<int64_t>>& prompts, const std::vector<int64_t>& max_new_tokens) {
  HALO_CHECK(max_new_tokens.size() == prompts.size(), "greedy_continue: ", prompts.size(),
             " prompts but ", max_new_tokens.size(), " token budgets");
  for (auto n : max_new_tokens) {
    HALO_CHECK(n >= 1, "greedy_continue: max_new_tokens must be >= 1, got ", n);
  }
  std::vector<std::vector<int64_t>> out;
  if (prompts.empty()) return out;
  if (!options_.use_cache) {
    const auto batch = static_cast<size_t>(options_.batch_size);
    for (size_t begin = 0; begin < prompts.size(); begin += batch) {
      const size_t end = std::min(prompts.size(), begin + batch);
      std::vector<at::Tensor> rows;
      int64_t longest = 0;
      for (size_t i = begin; i < end; ++i) {
        HALO_CHECK(prompts[i].size() == prompts[begin].size(),
                   "greedy_continue without a cache: prompts decoded together must have one "
                   "length, got ",
                   prompts[begin].size(), " and ", prompts[i].size());
        rows.push_back(at::tensor(prompts[i], at::kLong));
        longest = std::max(longest, max_new_tokens[i]);
      }
      // Greedy: a shorter budget is a prefix of the longest one's continuation.
      auto ids = greedy_decode_uncached(model_, at::stack(rows), longest).contiguous();
      for (size_t i = begin; i < end; ++i) {
        const int64_t* p = ids[static_cast<int64_t>(i - begin)].data_ptr<int64_t>();
        out.emplace_back(p, p + max_new_tokens[i]);
      }
    }
    return out;
  }
  std::vector<inference::GenerationRequest> requests(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    requests[i].prompt = prompts[i];
    requests[i].max_new_tokens = max_new_tokens[i];
    requests[i].source = "evaluation prompt " + std::to_string(i);
  }
  inference::EngineOptions o;
  o.batch_size = options_.batch_size;
  o.prefill_chunk = options_.prefill_chunk;
  o.cuda_graph = options_.cuda_graph;
  inference::GenerationEngine engine(model_, o);
  for (auto& r : engine.generate(requests)) out.push_back(std::move(r.tokens));
  return out;
}

at::Tensor LmTaskModel::next_token_log_probs(const std::vector<int64_t>& ids) {
  HALO_CHECK(ids.size() >= 2, "next_token_log_probs: need at least 2 tokens, got ", ids.size());
  at::NoGradGuard no_grad;
  const auto w = model_.output_embedding();  // [V, D]: the model's device and dtype
  const auto T = static_cast<int64_t>(ids.size());
  auto all = at::tensor(ids, at::kLong);  // [T]
  hypenet::HybridCache cache(model_.cache_layout(), 1, T, w.scalar_type(), w.device());
  auto out = at::empty({T - 1}, at::kDouble);  // [T - 1]
  // Positions 0..T-2 predict; the last token is only a target.
  for (int64_t begin = 0; begin < T - 1; begin += options_.prefill_chunk) {
    const int64_t n = std::min(options_.prefill_chunk, T - 1 - begin);
    auto step = hypenet::make_cache_step({0}, {begin}, {n}, w.device());
    auto chunk = all.narrow(0, begin, n).unsqueeze(0).to(w.device());            // [1, n]
    auto logits = model_.forward(chunk, {}, &cache, &step).logits.select(0, 0);  // [n, V]
    // float32 softmax (float64 models stay float64: the test reference).
    auto logp = at::log_softmax(
        logits.scalar_type() == at::kDouble ? logits : logits.to(at::kFloat), -1);  // [n, V]
    auto targets = all.narrow(0, begin + 1, n).to(w.device()).unsqueeze(1);         // [n, 1]
    out.narrow(0, begin, n).copy_(logp.gather(1, targets).squeeze(1).to(at::kCPU));
  }
  return out;
}

}  // namespace halo::eval
