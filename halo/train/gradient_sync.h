// GradientSync: the hook through which data parallelism plugs into the trainer (the dist
// branch implements it with process groups). The trainer calls all_reduce_gradients after the
// backward of the last micro-batch of a step, before clipping, and all_reduce_mean for the
// logged loss; with no GradientSync (one process) neither happens.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace halo::train {

class GradientSync {
 public:
  virtual ~GradientSync() = default;
  // Averages the .grad() of `params` over all ranks, in place.
  virtual void all_reduce_gradients(const std::vector<at::Tensor>& params) = 0;
  // The mean of `value` over all ranks.
  virtual double all_reduce_mean(double value) = 0;
};

}  // namespace halo::train
