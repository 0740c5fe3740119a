// The trainer's GradientSync hook (halo/train/gradient_sync.h) implemented with the
// distributed layer: backward through BucketedGradientSync (c10d Reducer; each bucket is summed
// over ranks as soon as its gradients are ready on the reducing micro-batch, NoSync on the
// others), float64 sums of scalars over ranks, and a store barrier with its own timeout.
// Failures name the rank at fault.
#pragma once

#include "halo/distributed/dist_context.h"
#include "halo/distributed/bucketed_gradient_sync.h"
#include "halo/train/gradient_sync.h"

#include <memory>
#include <string>
#include <vector>

namespace halo::distributed {

class DataParallelSync : public train::GradientSync {
 public:
  DataParallelSync(DistContext& context, DistOptions options);
  // New parameters (a new stage) get new buckets; the same list again keeps them.
  void set_parameters(const std::vector<at::Tensor>& params) override;
  void backward(const at::Tensor& loss, bool reduce) override;
  std::vector<double> all_reduce_sum(std::vector<double> values) override;
  void broadcast(const std::vector<at::Tensor>& tensors, int root) override;
  void wait_for_all(const std::string& what, double timeout_s,
                    const std::string& timeout_key) override;

 private:
  DistContext& context_;
  DistOptions options_;
  std::vector<const void*> params_key_;  // the parameters sync_ was built for
  std::unique_ptr<BucketedGradientSync> sync_;
};

}  // namespace halo::distributed
