// HALO's two signals for one single-swap model (HALO_NOTES 3 step 2), measured with the eval
// tasks of halo/eval (one implementation of each task; EvalSuite runs them):
//   R  recall: the mean over the recall tasks (niah, niah-multikey, niah-multivalue, passkey,
//      kv) of each task's mean score over its lengths (and depths), at long lengths;
//   C  commonsense: multiple-choice accuracy on an mc JSONL file (mc_task.h) when one is given,
//      else next-token accuracy on validation batches (validation_loss.h, needs a CausalLM).
// Each comes with its standard error. A task's cells (a length, or a length x depth for NIAH)
// are strata of `trials` prompts each; a cell's variance is taken as p (1 - p) / trials (exact
// for 0/1 scores; an upper bound for niah-multivalue's fractions, which lie in [0, 1]). So a
// signal that is 0 or 1 in every cell has a standard error of 0: it is exact on its prompts,
// and layers that all score 1 tie exactly (layer_ranking.h reports it).
#pragma once

#include "data/tokenizer.h"
#include "halo/eval/eval_suite.h"
#include "halo/eval/task_model.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace halo::selection {

// The recall tasks R may use (EvalSuite's names).
const std::vector<std::string>& recall_task_kinds();

struct HaloSignalOptions {
  std::vector<std::string> recall_tasks = {"niah", "passkey", "kv"};  // recall_task_kinds()
  std::vector<int64_t> recall_lengths = {4096};                       // prompt lengths (tokens)
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};           // niah*: needle depths
  int64_t trials = 16;            // prompts per length (passkey, kv) or length x depth (niah*)
  uint64_t seed = 0;              // fixes every prompt (the same prompts for every layer)
  int64_t batch_size = 4;         // passkey / kv prompts handed to the model together
  std::filesystem::path mc_file;  // C from this mc JSONL file; empty: next-token accuracy
};

struct SignalScore {
  double mean = 0.0;       // in [0, 1]
  double std_error = 0.0;  // standard error of `mean`
  int64_t items = 0;       // prompts, items or tokens it was measured on
};

// Next-token accuracy as a SignalScore: std_error = sqrt(p (1 - p) / tokens).
SignalScore accuracy_signal(double accuracy, double tokens);

class HaloSignal {
 public:
  // Checks every recall prompt (each length against each prompt's overhead) and reads the mc
  // file now, before any model runs; errors name the task and the setting. `tokenizer` must
  // outlive this object.
  HaloSignal(HaloSignalOptions options, const data::Tokenizer& tokenizer,
             std::vector<int64_t> filler);

  SignalScore recall(eval::TaskModel& model) const;
  bool has_mc() const { return mc_ != nullptr; }
  // Multiple-choice accuracy (acc) on the mc file; has_mc() must be true.
  SignalScore commonsense_mc(eval::TaskModel& model) const;

  // The largest standard error R can have with these trials (every cell at p = 0.5).
  double worst_recall_std_error() const;
  // Prompts one model decodes for R.
  int64_t recall_prompts() const;
  // "niah, passkey, kv at 4096 tokens; 16 trials per length (niah: per length x 5 depths)".
  std::string recall_description() const;
  // "mc:arc (120 items, acc)" or "next-token accuracy on validation batches".
  std::string commonsense_description() const;

 private:
  HaloSignalOptions options_;
  std::unique_ptr<eval::EvalSuite> recall_, mc_;
};

}  // namespace halo::selection
