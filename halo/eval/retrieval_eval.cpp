// Implementation of retrieval_eval.h.
#include "halo/eval/retrieval_eval.h"

#include "halo/common/error.h"
#include "halo/eval/language_model.h"
#include "halo/inference/generation_engine.h"

#include <algorithm>

namespace halo::eval {

nlohmann::json RetrievalScore::to_json() const {
  return {{"task", task},
          {"context_length", context_length},
          {"samples", samples},
          {"correct", correct},
          {"accuracy", accuracy()}};
}

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

std::vector<RetrievalScore> evaluate_retrieval(hypenet::CausalLM& model,
                                               const data::Tokenizer& tokenizer,
                                               const std::vector<int64_t>& filler,
                                               const RetrievalOptions& o) {
  HALO_CHECK(o.samples_per_length >= 1, "retrieval: samples_per_length must be >= 1, got ",
             o.samples_per_length);
  HALO_CHECK(o.batch_size >= 1, "retrieval: batch_size must be >= 1, got ", o.batch_size);
  std::vector<RetrievalScore> scores;
  for (int64_t length : o.context_lengths) {
    std::vector<RetrievalSample> samples;
    for (int64_t k = 0; k < o.samples_per_length; ++k) {
      samples.push_back(make_retrieval_sample(o.task, tokenizer, filler, length,
                                              retrieval_sample_seed(o.seed, length, k),
                                              o.num_kv_pairs));
    }
    RetrievalScore score{retrieval_task_name(o.task), length, 0, 0};
    for (size_t begin = 0; begin < samples.size(); begin += o.batch_size) {
      const size_t end = std::min(samples.size(), begin + static_cast<size_t>(o.batch_size));
      std::vector<at::Tensor> rows;
      size_t max_answer_tokens = 0;
      for (size_t i = begin; i < end; ++i) {
        rows.push_back(at::tensor(samples[i].prompt, at::kLong));
        max_answer_tokens =
            std::max(max_answer_tokens, tokenizer.encode(" " + samples[i].answer).size());
      }
      // The answer's own tokens, plus two so that a trailing extra digit is seen (no match).
      const auto new_tokens = static_cast<int64_t>(max_answer_tokens) + 2;
      auto out = o.use_cache ? inference::greedy_generate(model, at::stack(rows), new_tokens,
                                                          o.batch_size, o.prefill_chunk)
                             : greedy_decode_uncached(model, at::stack(rows), new_tokens);
      for (size_t i = begin; i < end; ++i) {
        auto row = out[static_cast<int64_t>(i - begin)].contiguous();
        std::vector<int64_t> ids(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
        ids.erase(std::remove_if(ids.begin(), ids.end(),
                                 [&](int64_t t) { return t >= tokenizer.vocab_size(); }),
                  ids.end());  // padded embedding rows have no text
        score.correct += retrieval_answer_matches(tokenizer.decode(ids), samples[i].answer);
        ++score.samples;
      }
    }
    scores.push_back(score);
  }
  return scores;
}

double mean_accuracy(const std::vector<RetrievalScore>& scores) {
  if (scores.empty()) return 0.0;
  double sum = 0.0;
  for (const auto& s : scores) sum += s.accuracy();
  return sum / static_cast<double>(scores.size());
}

}  // namespace halo::eval
