// Fake evaluation models (halo::eval::TaskModel) for the task tests: a model that copies its
// input (induction: continue after the longest earlier match of the text's end), one that reads
// the NIAH needles out of the prompt text and answers with some of the values, and one whose
// log-probabilities are a known function of the position.
#pragma once

#include "data/tokenizer.h"
#include "halo/eval/task_model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

namespace halo::test {

// Greedy continuation by copying: the next token is the one that followed the longest earlier
// occurrence of the sequence's end (the latest on ties). Log-probabilities are uniform.
class CopyModel : public eval::TaskModel {
 public:
  std::vector<std::vector<int64_t>> greedy_continue(
      const std::vector<std::vector<int64_t>>& prompts,
      const std::vector<int64_t>& max_new_tokens) override {
    std::vector<std::vector<int64_t>> out;
    for (size_t r = 0; r < prompts.size(); ++r) {
      const auto& p = prompts[r];
      seen.push_back(p);
      auto seq = p;
      std::vector<int64_t> added;
      for (int64_t i = 0; i < max_new_tokens[r]; ++i) {
        const auto n = seq.size();
        size_t best_len = 0, best_end = 0;
        for (size_t j = 0; j + 1 < n; ++j) {  // seq[..j] against seq[..n-1]
          size_t k = 0;
          while (k <= j && seq[j - k] == seq[n - 1 - k]) ++k;
          if (k > 0 && k >= best_len) best_len = k, best_end = j;
        }
        const int64_t next = best_len > 0 ? seq[best_end + 1] : 0;
        seq.push_back(next);
        added.push_back(next);
      }
      out.push_back(added);
    }
    return out;
  }
  at::Tensor next_token_log_probs(const std::vector<int64_t>& ids) override {
    return at::full({static_cast<int64_t>(ids.size()) - 1}, -std::log(300.0), at::kDouble);
  }
  std::vector<std::vector<int64_t>> seen;  // every prompt, in the order given
};

// A model that answers each prompt with a text of its own (answer()), encoded and padded with
// spaces to the asked length. Log-probabilities are zero.
class AnsweringModel : public eval::TaskModel {
 public:
  explicit AnsweringModel(const data::Tokenizer& tok) : tok_(tok) {}
  std::vector<std::vector<int64_t>> greedy_continue(
      const std::vector<std::vector<int64_t>>& prompts,
      const std::vector<int64_t>& max_new_tokens) override {
    std::vector<std::vector<int64_t>> out;
    for (size_t r = 0; r < prompts.size(); ++r) {
      auto ids = tok_.encode(answer(prompts[r]));
      ids.resize(static_cast<size_t>(max_new_tokens[r]), tok_.encode(" ")[0]);
      out.push_back(ids);
    }
    return out;
  }
  at::Tensor next_token_log_probs(const std::vector<int64_t>& ids) override {
    return at::zeros({static_cast<int64_t>(ids.size()) - 1}, at::kDouble);
  }

 protected:
  virtual std::string answer(const std::vector<int64_t>& prompt) = 0;
  const data::Tokenizer& tok_;
};

// " V1, V2, ...": group 1 of the first `max_count` matches of `needle` in `text`; empty if none.
inline std::string list_matches(const std::string& text, const std::regex& needle,
                                size_t max_count = SIZE_MAX) {
  std::string list;
  size_t count = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), needle), end;
       it != end && count < max_count; ++it, ++count) {
    list += (list.empty() ? " " : ", ") + (*it)[1].str();
  }
  return list;
}

// Reads "The special magic number for KEY is: V" needles of the asked KEY out of the decoded
// prompt and answers " V1, V2, ..." with the first `answer_count` of them.
class NeedleReader : public AnsweringModel {
 public:
  NeedleReader(const data::Tokenizer& tok, size_t answer_count)
      : AnsweringModel(tok), answer_count_(answer_count) {}

 protected:
  std::string answer(const std::vector<int64_t>& prompt) override {
    const std::string text = tok_.decode(prompt);
    std::smatch asked;
    std::regex question("magic numbers? for ([A-Z]+) mentioned in the provided text\\?");
    if (!std::regex_search(text, asked, question)) return ".";
    return list_matches(text, std::regex("magic number for " + asked[1].str() + " is: ([0-9]+)"),
                        answer_count_) +
           ".";
  }

 private:
  size_t answer_count_;
};

// log p of the token after position t is -(t + 1) / 100: the loss at position t is known.
class PositionalLossModel : public eval::TaskModel {
 public:
  std::vector<std::vector<int64_t>> greedy_continue(const std::vector<std::vector<int64_t>>& p,
                                                    const std::vector<int64_t>& n) override {
    std::vector<std::vector<int64_t>> out;
    for (size_t i = 0; i < p.size(); ++i) out.emplace_back(n[i], 0);
    return out;
  }
  at::Tensor next_token_log_probs(const std::vector<int64_t>& ids) override {
    return -(at::arange(static_cast<int64_t>(ids.size()) - 1, at::kDouble) + 1) / 100.0;
  }
};

}  // namespace halo::test
