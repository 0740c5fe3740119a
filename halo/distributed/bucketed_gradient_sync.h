// Data-parallel gradient synchronisation with c10d's Reducer (the engine behind PyTorch's
// DistributedDataParallel): the trained parameters are split into buckets of
// dist.bucket_mb MiB in reverse registration order (the order backward produces gradients,
// first bucket dist.first_bucket_mb), and each bucket is all-reduced as soon as all its
// gradients have been accumulated, while backward goes on. Accumulation micro-steps run with
// sync off (no communication; gradients accumulate locally in .grad); the step that turns it
// on reduces the accumulated sum. The reduced gradient is scale * (sum over ranks), where the
// trainer passes scale = 1 / (global token count) for a loss summed over this rank's tokens.
#pragma once

#include "halo/distributed/dist_context.h"

#include <ATen/ATen.h>

#include <memory>
#include <vector>

namespace c10d {
class Reducer;
}

namespace halo::distributed {

class BucketedGradientSync {
 public:
  // `params`: the trained parameters (leaf tensors with requires_grad, on the backend's device,
  // the same list in the same order on every rank). Every one of them must receive a gradient
  // in each synchronised backward.
  BucketedGradientSync(DistContext& context, std::vector<at::Tensor> params,
                       const DistOptions& options);
  ~BucketedGradientSync();
  BucketedGradientSync(const BucketedGradientSync&) = delete;
  BucketedGradientSync& operator=(const BucketedGradientSync&) = delete;

  // Whether the next backward() all-reduces (off during gradient-accumulation micro-steps).
  void set_sync(bool sync) { sync_ = sync; }
  bool sync() const { return sync_; }
  // Multiplier applied to the summed gradients of the next synchronised backward.
  void set_scale(double scale);
  double scale() const { return *scale_; }

  // loss.backward(). With sync on, the buckets are all-reduced during it and afterwards every
  // parameter's .grad holds scale * sum over ranks of its accumulated gradient. A failed or
  // timed-out all-reduce throws HaloError naming the rank at fault. The second synchronised
  // backward first rebuilds the buckets once in the gradient order the first one observed
  // (c10d's rebuild, a broadcast from rank 0, as DDP does after its first iteration).
  void backward(const at::Tensor& loss);

  // For a trainer that runs backward itself (no overlap): all-reduces the current .grad of the
  // parameters bucket by bucket (all buckets in flight at once), multiplied by scale, in place.
  // Use either this after a plain loss.backward() or backward() with sync on, never both for
  // the same step.
  void all_reduce_after_backward();

  // The initial buckets as indices into `params`, in reduction order (all_reduce_after_backward
  // keeps them; backward() rebuilds its own after the first synchronised step).
  const std::vector<std::vector<size_t>>& buckets() const { return buckets_; }

 private:
  DistContext& context_;
  std::vector<at::Tensor> params_;
  std::vector<std::vector<size_t>> buckets_;
  std::shared_ptr<double> scale_;
  bool sync_ = true;
  std::unique_ptr<c10d::Reducer> reducer_;
};

// Turns sync off for its lifetime (gradient-accumulation micro-steps), like DDP's no_sync().
class NoSync {
 public:
  explicit NoSync(BucketedGradientSync& sync) : sync_(sync), was_(sync.sync()) {
    sync_.set_sync(false);
  }
  ~NoSync() { sync_.set_sync(was_); }
  NoSync(const NoSync&) = delete;
  NoSync& operator=(const NoSync&) = delete;

 private:
  BucketedGradientSync& sync_;
  bool was_;
};

}  // namespace halo::distributed
