// ProgressBar: one line per logged step on stderr: stage, step/total, a bar, loss, learning
// rate, tokens/s and ETA (from the mean step time so far, checkpoint and eval time excluded).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace halo::train {

class ProgressBar {
 public:
  ProgressBar(std::string stage, int64_t total_steps);
  // Records a finished step that took `seconds` and processed `tokens`; prints when `print`.
  void update(int64_t step, double loss, double lr, int64_t tokens, double seconds, bool print);
  double tokens_per_second() const;  // over the steps of this process

 private:
  std::string stage_;
  int64_t total_;
  double seconds_ = 0;
  int64_t tokens_ = 0, steps_ = 0;
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);
// "950", "12.3K", "4.56M".
std::string format_count(double value);

}  // namespace halo::train
