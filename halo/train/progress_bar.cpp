// ProgressBar: formatted progress lines.
#include "halo/train/progress_bar.h"

#include <cmath>
#include <cstdio>

namespace halo::train {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  }
  return buf;
}

std::string format_count(double v) {
  char buf[32];
  if (v >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1fK", v / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  }
  return buf;
}

ProgressBar::ProgressBar(std::string stage, int64_t total_steps)
    : stage_(std::move(stage)), total_(total_steps) {}

double ProgressBar::tokens_per_second() const {
  return seconds_ > 0 ? static_cast<double>(tokens_) / seconds_ : 0.0;
}

void ProgressBar::update(int64_t step, double loss, double lr, int64_t tokens, double seconds,
                         bool print) {
  seconds_ += seconds;
  tokens_ += tokens;
  ++steps_;
  if (!print) return;
  const int width = 20;
  const int filled = static_cast<int>(width * step / std::max<int64_t>(1, total_));
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(width, '-');
  const double eta = seconds_ / static_cast<double>(steps_) * static_cast<double>(total_ - step);
  std::fprintf(stderr, "[%s] %lld/%lld [%s] loss %.4f lr %.2e %s tok/s ETA %s\n", stage_.c_str(),
               static_cast<long long>(step), static_cast<long long>(total_), bar.c_str(), loss, lr,
               format_count(tokens_per_second()).c_str(), format_duration(eta).c_str());
}

}  // namespace halo::train
