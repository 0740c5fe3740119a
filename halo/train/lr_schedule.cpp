// lr_at: warmup + cosine / wsd / constant.
#include "halo/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace halo::train {

double lr_at(const config::ScheduleConfig& s, double lr, int64_t step, int64_t total_steps) {
  const int64_t warmup = s.warmup_steps;
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (s.kind == "constant") return lr;
  // Steps after warmup: the last step reaches min_lr exactly.
  const int64_t span = std::max<int64_t>(1, total_steps - warmup - 1);
  const int64_t k = std::min(step - warmup, span);
  if (s.kind == "cosine") {
    const double p = static_cast<double>(k) / static_cast<double>(span);
    return s.min_lr + (lr - s.min_lr) * 0.5 * (1.0 + std::cos(M_PI * p));
  }
  // wsd: stable at lr, then linear to min_lr over the last decay_fraction of all steps.
  const int64_t decay = std::max<int64_t>(
      1, std::min(span, static_cast<int64_t>(std::llround(s.decay_fraction * total_steps))));
  const int64_t decay_start = span - decay;
  if (k <= decay_start) return lr;
  const double p = static_cast<double>(k - decay_start) / static_cast<double>(decay);
  return lr + (s.min_lr - lr) * p;
}

}  // namespace halo::train
