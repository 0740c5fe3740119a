// The outputs of `halo-distill eval` besides the pictures: model names for results.json and the
// Markdown tables of results.md. results.json (format "halo-eval/1", docs/eval.md):
//   {"format", "seed", "created", "models": [{"name", "path"}], "task_order": [names as given],
//    "tasks": {"niah" | "niah-multikey" | "niah-multivalue":
//                {"lengths", "depths", "trials", "accuracy": {model: [[per depth] per length]}},
//              "passkey" | "kv": {"lengths", "trials", "accuracy": {model: [per length]}},
//              "ppl-by-position": {"bucket_edges", "train_length", "loss": {model: [per bucket]},
//                                  "tokens": {model: [per bucket]}},
//              "mc:NAME": {"file", "items", "acc": {model: x}, "acc_norm": {model: x}}}}
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace halo::eval {

// Each folder's basename (trailing slashes ignored); repeated names get "-2", "-3", ...
std::vector<std::string> unique_model_names(const std::vector<std::string>& folders);

// The task names in the order they were given (results["task_order"]; the keys of "tasks" in
// their stored order when it is absent).
std::vector<std::string> task_order(const nlohmann::json& results);

// results.md: one table per task in the given order, the models side by side.
std::string eval_results_markdown(const nlohmann::json& results);

}  // namespace halo::eval
