// data_parallel_sync.h: the adapter between the trainer's hook and BucketedGradientSync.
#include "halo/distributed/data_parallel_sync.h"

namespace halo::distributed {

DataParallelSync::DataParallelSync(DistContext& context, DistOptions options)
    : context_(context), options_(std::move(options)) {
  options_.validate();
}

void DataParallelSync::all_reduce_gradients(const std::vector<at::Tensor>& params) {
  std::vector<const void*> key;
  for (const auto& p : params) key.push_back(p.unsafeGetTensorImpl());
  if (!sync_ || key != params_key_) {
    // A new stage (new parameters): new buckets. The trainer's loss is a mean per rank.
    sync_.reset();
    sync_ = std::make_unique<BucketedGradientSync>(context_, params, options_);
    sync_->set_scale(1.0 / context_.world_size());
    params_key_ = key;
  }
  sync_->all_reduce_after_backward();
}

double DataParallelSync::all_reduce_mean(double value) {
  return context_.all_reduce_mean(value, "mean over ranks");
}

}  // namespace halo::distributed
