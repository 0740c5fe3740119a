// The trainer's GradientSync hook (halo/train/gradient_sync.h) implemented with the
// distributed layer: gradients all-reduced in dist.bucket_mb buckets after the last backward of
// a step and averaged over ranks; scalars averaged over ranks. Failures name the rank at fault.
#pragma once

#include "halo/distributed/dist_context.h"
#include "halo/distributed/gradient_sync.h"
#include "halo/train/gradient_sync.h"

#include <memory>
#include <vector>

namespace halo::distributed {

class DataParallelSync : public train::GradientSync {
 public:
  DataParallelSync(DistContext& context, DistOptions options);
  void all_reduce_gradients(const std::vector<at::Tensor>& params) override;
  double all_reduce_mean(double value) override;

 private:
  DistContext& context_;
  DistOptions options_;
  std::vector<const void*> params_key_;  // the parameters sync_ was built for
  std::unique_ptr<BucketedGradientSync> sync_;
};

}  // namespace halo::distributed
