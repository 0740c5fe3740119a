// Implementation of task_model.h.
#include "halo/eval/task_model.h"

#include "common/error.h"
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

std::vector<at::Tensor> TaskModel::next_token_log_probs_batch(
    const std::vector<std::vector<int64_t>>& seqs) {
  std::vector<at::Tensor> out;
  for (const auto& ids : seqs) out.push_back(next_token_log_probs(ids));
  return out;
}

at::Tensor LmTaskModel::next_token_log_probs(const std::vector<int64_t>& ids) {
  return next_token_log_probs_batch(std::vector<std::vector<int64_t>>{ids}).front();
}

std::vector<at::Tensor> LmTaskModel::next_token_log_probs_batch(
    const std::vector<std::vector<int64_t>>& seqs) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> out;
  const auto w = model_.output_embedding();  // [V, D]: the model's device and dtype
  for (size_t first = 0; first < seqs.size(); first += options_.batch_size) {
    const size_t count = std::min(seqs.size() - first, static_cast<size_t>(options_.batch_size));
    int64_t longest = 0;
    std::vector<at::Tensor> all, logp;  // per sequence: ids [T_i], result [T_i - 1] float64
    for (size_t i = first; i < first + count; ++i) {
      HALO_CHECK(seqs[i].size() >= 2, "next_token_log_probs: need at least 2 tokens, got ",
                 seqs[i].size());
      all.push_back(at::tensor(seqs[i], at::kLong));
      logp.push_back(at::empty({all.back().numel() - 1}, at::kDouble));
      longest = std::max(longest, all.back().numel());
    }
    hypenet::HybridCache cache(model_.cache_layout(), static_cast<int64_t>(count), longest,
                               w.scalar_type(), w.device());
    // Positions 0..T_i-2 predict; the last token of each sequence is only a target.
    std::vector<int64_t> fed(count, 0);
    for (;;) {
      std::vector<int64_t> slots, starts, lens;
      std::vector<at::Tensor> pieces;
      for (size_t r = 0; r < count; ++r) {
        const int64_t n = std::min(options_.prefill_chunk, all[r].numel() - 1 - fed[r]);
        if (n <= 0) continue;
        slots.push_back(static_cast<int64_t>(r));
        starts.push_back(fed[r]);
        lens.push_back(n);
        pieces.push_back(all[r].narrow(0, fed[r], n).unsqueeze(0));  // [1, n]
      }
      if (slots.empty()) break;
      auto step = hypenet::make_cache_step(slots, starts, lens, w.device());
      // uniform: ids [N, n], logits [N, n, V]; packed: ids [1, sum n], logits [1, sum n, V]
      auto ids = (step.packed ? at::cat(pieces, 1) : at::cat(pieces, 0)).to(w.device());
      auto logits = model_.forward(ids, {}, &cache, &step).logits;
      for (size_t k = 0, col = 0; k < slots.size(); ++k) {
        const auto r = static_cast<size_t>(slots[k]);
        const int64_t n = lens[k];
        auto rows = step.packed ? logits.select(0, 0).narrow(0, static_cast<int64_t>(col), n)
                                : logits.select(0, static_cast<int64_t>(k));  // [n, V]
        col += static_cast<size_t>(n);
        // float32 softmax (float64 models stay float64: the test reference).
        auto lp = at::log_softmax(rows.scalar_type() == at::kDouble ? rows : rows.to(at::kFloat),
                                  -1);                                               // [n, V]
        auto targets = all[r].narrow(0, fed[r] + 1, n).to(w.device()).unsqueeze(1);  // [n, 1]
        logp[r].narrow(0, fed[r], n).copy_(lp.gather(1, targets).squeeze(1).to(at::kCPU));
        fed[r] += n;
      }
    }
    for (auto& t : logp) out.push_back(t);
  }
  return out;
}

}  // namespace halo::eval
