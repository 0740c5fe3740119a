// MetricsLog: one JSON object per line (metrics.jsonl of a stage): training steps ({"step",
// "loss", "lr", "grad_norm", "tokens", "seq_len", "tokens_per_s", "batch_hash"}) and validation
// ({"step", "val_loss"}). On resume the lines past the resumed step are dropped, so the file
// always describes one uninterrupted run. In a data-parallel run rank 0 alone writes it.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace halo::train {

class MetricsLog {
 public:
  // Opens `path` for appending after removing records whose "step" exceeds `keep_up_to_step`.
  MetricsLog(std::filesystem::path path, int64_t keep_up_to_step);
  void write(const nlohmann::json& record);

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace halo::train
