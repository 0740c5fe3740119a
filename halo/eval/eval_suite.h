// `halo-distill eval`'s task list and its run: parsing --tasks (niah, niah-multikey,
// niah-multivalue, passkey, kv, ppl-by-position, mc:FILE.jsonl), checking every task against
// the settings before any model is loaded (lengths against each prompt's overhead, the
// multiple-choice files read), and running every task on one model after another with the same
// prompts, into the results.json tree (eval_results.h documents its keys).
#pragma once

#include "data/tokenizer.h"
#include "halo/eval/mc_task.h"
#include "halo/eval/task_model.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace halo::eval {

struct EvalTask {
  std::string kind;            // niah, niah-multikey, niah-multivalue, passkey, kv,
                               // ppl-by-position, mc
  std::string name;            // the key in results.json: the kind, or "mc:" + file stem
  std::filesystem::path file;  // mc: the JSONL file
  std::vector<McItem> items;   // mc: its items (read by EvalSuite)
};

// "niah,passkey,mc:arc.jsonl" -> tasks in the given order. Errors name an unknown task and list
// the known ones; a task given twice is an error.
std::vector<EvalTask> parse_eval_tasks(const std::string& list);

struct EvalSettings {
  std::vector<int64_t> lengths;  // niah*, passkey, kv: prompt lengths in tokens
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};  // niah*: needle depths
  int64_t trials = 4;                                        // prompts per grid cell / length
  uint64_t seed = 0;                                         // fixes every prompt and window
  int64_t kv_pairs = 4;                                      // kv: key-value pairs in the haystack
  int64_t niah_keys = 4;                                     // niah-multikey: keys in the haystack
  int64_t niah_values = 4;              // niah-multivalue: values of the asked key
  int64_t ppl_length = 0;               // ppl-by-position: tokens per window (> 1)
  int64_t ppl_buckets = 16;             // ppl-by-position: position buckets
  int64_t ppl_sequences = 4;            // ppl-by-position: windows
  std::optional<int64_t> train_length;  // the models' training length (marked in the chart)
  int64_t batch_size = 8;               // passkey / kv: prompts handed to the model together
};

class EvalSuite {
 public:
  // Checks every task now (no model needed): errors name the task and the setting to change.
  // `warn` receives warnings (validation text shorter than a prompt: it repeats).
  EvalSuite(std::vector<EvalTask> tasks, EvalSettings settings, const data::Tokenizer& tokenizer,
            std::vector<int64_t> filler, const std::function<void(const std::string&)>& warn = {});

  // {"format", "seed", "created", "models": [{name, path}], "task_order": [task names as
  // given], "tasks": {name: settings, with empty per-model maps}}.
  nlohmann::json empty_results(const std::vector<std::pair<std::string, std::string>>& models,
                               const std::string& created) const;

  // Runs every task on `model`, writing its entries under `model_name` into results["tasks"].
  // `progress` receives one line per finished task.
  void run_model(TaskModel& model, const std::string& model_name, nlohmann::json& results,
                 const std::function<void(const std::string&)>& progress = {}) const;

  const std::vector<EvalTask>& tasks() const { return tasks_; }
  const EvalSettings& settings() const { return settings_; }

 private:
  std::vector<EvalTask> tasks_;
  EvalSettings settings_;
  const data::Tokenizer& tokenizer_;
  std::vector<int64_t> filler_;
};

}  // namespace halo::eval
