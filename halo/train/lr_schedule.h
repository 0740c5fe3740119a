// Learning rate per optimizer step (HALO_NOTES 3 recipes): linear warmup, then cosine to a
// minimum, warmup-stable-decay (constant, then a linear decay over the last fraction of the
// steps), or constant. A pure function of the step, so resuming needs only the step.
#pragma once

#include "halo/config/train_sections.h"

#include <cstdint>

namespace halo::train {

// The learning rate of step `step` in [0, total_steps) for peak `lr`.
double lr_at(const config::ScheduleConfig& schedule, double lr, int64_t step, int64_t total_steps);

}  // namespace halo::train
