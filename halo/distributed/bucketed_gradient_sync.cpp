// bucketed_gradient_sync.h: bucket assignment, the scaling all-reduce comm hook and backward with
// c10d::Reducer.
#include "halo/distributed/bucketed_gradient_sync.h"

#include "common/error.h"

#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <cmath>

namespace halo::distributed {

namespace {

// The Reducer calls this once per bucket when all its gradients are ready: scale the flat
// bucket, then start the all-reduce (sum) asynchronously; the Reducer waits for the futures at
// the end of backward and copies the results back into .grad.
class ScaledAllReduceHook
    : public c10d::CppCommHookInterface<c10::intrusive_ptr<c10d::ProcessGroup>> {
 public:
  ScaledAllReduceHook(DistContext& context, std::shared_ptr<double> scale)
      : CppCommHookInterface(context.process_group()),
        context_(context),
        scale_(std::move(scale)) {}

  c10::intrusive_ptr<c10::ivalue::Future> runHook(c10d::GradBucket& bucket) override {
    at::Tensor& buffer = bucket.getBufferRef();
    if (*scale_ != 1.0) buffer.mul_(*scale_);
    context_.note_collective();
    std::vector<at::Tensor> tensors{buffer};
    return state_->allreduce(tensors)->getFuture();
  }

 private:
  DistContext& context_;
  std::shared_ptr<double> scale_;
};

size_t mib_to_bytes(double mib) {
  return static_cast<size_t>(std::llround(mib * 1024 * 1024));
}

}  // namespace

BucketedGradientSync::BucketedGradientSync(DistContext& context, std::vector<at::Tensor> params,
                                           const DistOptions& options)
    : context_(context), params_(std::move(params)), scale_(std::make_shared<double>(1.0)) {
  options.validate();
  HALO_CHECK(!params_.empty(), "gradient sync: no trained parameters were given");
  const auto device = context_.device();
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    HALO_CHECK(p.defined() && p.requires_grad() && p.is_leaf(), "gradient sync: parameter ", i,
               " is not a leaf tensor that requires grad; pass only the trained parameters");
    HALO_CHECK(p.device() == device, "gradient sync: parameter ", i, " is on ", p.device(),
               " but this rank reduces tensors on ", device,
               " (dist.backend=", context_.backend_name(),
               "). HINT: dist.backend=auto picks the backend of the "
               "model's device; with NCCL the model belongs on cuda:LOCAL_RANK");
  }
  // Reverse registration order approximates the order backward produces gradients (last layer
  // first), so the first bucket can be reduced while the earlier layers are still computing.
  std::vector<at::Tensor> reversed(params_.rbegin(), params_.rend());
  std::vector<int64_t> indices;
  for (size_t i = params_.size(); i-- > 0;) indices.push_back(static_cast<int64_t>(i));
  const std::vector<size_t> limits{mib_to_bytes(options.first_bucket_mb),
                                   mib_to_bytes(options.bucket_mb)};
  std::vector<size_t> per_bucket_limits;
  std::tie(buckets_, per_bucket_limits) = c10d::compute_bucket_assignment_by_size(
      reversed, limits, std::vector<bool>(params_.size(), false), indices);
  std::vector<int64_t> limit_list(per_bucket_limits.begin(), per_bucket_limits.end());

  reducer_ = std::make_unique<c10d::Reducer>(
      params_, buckets_, context_.process_group(), std::vector<bool>(params_.size(), false),
      static_cast<int64_t>(mib_to_bytes(options.bucket_mb)),
      /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
      std::unordered_map<size_t, std::string>{},
      static_cast<int64_t>(mib_to_bytes(options.first_bucket_mb)),
      /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false, limit_list);
  reducer_->register_comm_hook(std::make_unique<ScaledAllReduceHook>(context_, scale_));
}

BucketedGradientSync::~BucketedGradientSync() = default;

void BucketedGradientSync::set_scale(double scale) {
  HALO_CHECK(std::isfinite(scale) && scale > 0, "gradient sync: scale is ", scale,
             "; expected a positive finite number (1 / global token count)");
  *scale_ = scale;
}

void BucketedGradientSync::backward(const at::Tensor& loss) {
  if (!sync_) {
    // The Reducer's autograd hooks act only after prepare_for_backward; without it the
    // gradients just accumulate in .grad (no_sync).
    loss.backward();
    return;
  }
  try {
    // As DDP does before each forward: the first call after a synchronised backward rebuilds
    // the buckets in the order that backward produced the gradients (rank 0's order, broadcast)
    // and empties the Reducer's record of that order, which otherwise grows by one entry per
    // parameter in every synchronised backward; later calls do nothing.
    reducer_->rebuild_buckets();
    reducer_->prepare_for_backward({loss});
    loss.backward();
  } catch (const HaloError&) {
    throw;
  } catch (const std::exception& e) {
    context_.fail("gradient all-reduce", e.what());
  }
}

void BucketedGradientSync::all_reduce_after_backward() {
  std::vector<at::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    std::vector<at::Tensor> grads;
    for (size_t i : buckets_[b]) {
      const auto& g = params_[i].grad();
      HALO_CHECK(g.defined(), "gradient sync: parameter ", i,
                 " has no gradient; every trained "
                 "parameter must get one before the all-reduce");
      grads.push_back(g.reshape({-1}));
    }
    auto flat = at::cat(grads);  // [sum of numels]
    if (*scale_ != 1.0) flat.mul_(*scale_);
    context_.note_collective();
    std::vector<at::Tensor> tensors{flat};
    try {
      works.push_back(context_.process_group()->allreduce(tensors));
    } catch (const std::exception& e) {
      context_.fail("gradient all-reduce (bucket " + std::to_string(b) + ")", e.what());
    }
    flats.push_back(flat);
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    context_.wait(works[b], "gradient all-reduce (bucket " + std::to_string(b) + ")");
    int64_t offset = 0;
    for (size_t i : buckets_[b]) {
      auto& g = params_[i].mutable_grad();
      const int64_t n = g.numel();
      g.copy_(flats[b].narrow(0, offset, n).view_as(g));
      offset += n;
    }
  }
}

}  // namespace halo::distributed
