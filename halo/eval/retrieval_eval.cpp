// Implementation of retrieval_eval.h.
#include "halo/eval/retrieval_eval.h"

#include "common/error.h"

#include <algorithm>

namespace halo::eval {

nlohmann::json RetrievalScore::to_json() const {
  return {{"task", task},
          {"context_length", context_length},
          {"samples", samples},
          {"correct", correct},
          {"accuracy", accuracy()}};
}

std::string continuation_text(const data::Tokenizer& tokenizer, std::vector<int64_t> ids) {
  ids.erase(std::remove_if(ids.begin(), ids.end(),
                           [&](int64_t t) { return t < 0 || t >= tokenizer.vocab_size(); }),
            ids.end());  // padded embedding rows have no text
  return tokenizer.decode(ids);
}

std::vector<RetrievalScore> evaluate_retrieval(TaskModel& model, const data::Tokenizer& tokenizer,
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
      std::vector<std::vector<int64_t>> prompts;
      size_t max_answer_tokens = 0;
      for (size_t i = begin; i < end; ++i) {
        prompts.push_back(samples[i].prompt);
        max_answer_tokens =
            std::max(max_answer_tokens, tokenizer.encode(" " + samples[i].answer).size());
      }
      // The answer's own tokens, plus two so that a trailing extra digit is seen (no match).
      const auto new_tokens = static_cast<int64_t>(max_answer_tokens) + 2;
      const auto out =
          model.greedy_continue(prompts, std::vector<int64_t>(prompts.size(), new_tokens));
      for (size_t i = begin; i < end; ++i) {
        score.correct += retrieval_answer_matches(continuation_text(tokenizer, out[i - begin]),
                                                  samples[i].answer);
        ++score.samples;
      }
    }
    scores.push_back(score);
  }
  return scores;
}

std::vector<RetrievalScore> evaluate_retrieval(hypenet::CausalLM& model,
                                               const data::Tokenizer& tokenizer,
                                               const std::vector<int64_t>& filler,
                                               const RetrievalOptions& o) {
  LmTaskOptions lo;
  lo.batch_size = o.batch_size;
  lo.prefill_chunk = o.prefill_chunk;
  lo.use_cache = o.use_cache;
  LmTaskModel lm(model, lo);
  return evaluate_retrieval(lm, tokenizer, filler, o);
}

double mean_accuracy(const std::vector<RetrievalScore>& scores) {
  if (scores.empty()) return 0.0;
  double sum = 0.0;
  for (const auto& s : scores) sum += s.accuracy();
  return sum / static_cast<double>(scores.size());
}

}  // namespace halo::eval
