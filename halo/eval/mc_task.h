// mc:FILE.jsonl: multiple-choice tasks scored by log-likelihood, as lm-eval-harness scores
// HellaSwag, ARC or PIQA. One item per line:
//   {"context": "Question: ... Answer:", "choices": [" Paris", " Rome"], "label": 0}
// (optional "id"; other keys are ignored). Each choice's text is appended to the context as
// given (put the separating space in the choices, as the harness's target_delimiter does); the
// context and the choice are tokenized separately. The score of a choice is the sum of the log-
// probabilities of its tokens after the context; acc takes the best sum, acc_norm the best sum
// divided by the choice's length in bytes (the harness's acc_norm).
#pragma once

#include "data/tokenizer.h"
#include "halo/eval/task_model.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace halo::eval {

struct McItem {
  std::string context;
  std::vector<std::string> choices;  // at least two
  int64_t label = 0;                 // index of the right choice
  std::string source;                // "file.jsonl:12" for messages
};

// Reads and checks every line; errors name the file and the line. Blank lines are skipped.
std::vector<McItem> read_mc_file(const std::filesystem::path& path);

// The task's name in results: "mc:" + the file's stem ("mc:mc_sample").
std::string mc_task_name(const std::filesystem::path& path);

struct McScore {
  int64_t items = 0;
  double acc = 0.0;       // fraction of items whose best log-likelihood is the label's
  double acc_norm = 0.0;  // the same with log-likelihood / choice bytes
};

// Sum of log p(choice token | context, earlier choice tokens) over the choice's tokens.
// context_ids and choice_ids must each be non-empty.
double choice_log_likelihood(TaskModel& model, const std::vector<int64_t>& context_ids,
                             const std::vector<int64_t>& choice_ids);

McScore evaluate_mc(TaskModel& model, const data::Tokenizer& tokenizer,
                    const std::vector<McItem>& items);

}  // namespace halo::eval
