// data_parallel_sync.h: the adapter between the trainer's hook and BucketedGradientSync.
#include "halo/distributed/data_parallel_sync.h"

#include "common/error.h"

#include <algorithm>

namespace halo::distributed {

DataParallelSync::DataParallelSync(DistContext& context, DistOptions options)
    : context_(context), options_(std::move(options)) {
  options_.validate();
}

void DataParallelSync::set_parameters(const std::vector<at::Tensor>& params) {
  std::vector<const void*> key;
  for (const auto& p : params) key.push_back(p.unsafeGetTensorImpl());
  if (sync_ && key == params_key_) return;
  sync_.reset();  // the old Reducer's autograd hooks go before the new one registers its own
  sync_ = std::make_unique<BucketedGradientSync>(context_, params, options_);
  // The trainer's loss is already divided by the global token count: the reduction only sums.
  sync_->set_scale(1.0);
  params_key_ = std::move(key);
}

void DataParallelSync::backward(const at::Tensor& loss, bool reduce) {
  HALO_CHECK(sync_ != nullptr,
             "data-parallel backward before set_parameters: the trainer must declare its trained "
             "parameters first");
  if (reduce) {
    sync_->backward(loss);
  } else {
    NoSync no_sync(*sync_);
    sync_->backward(loss);
  }
}

std::vector<double> DataParallelSync::all_reduce_sum(std::vector<double> values) {
  if (values.empty()) return values;
  auto t = at::tensor(values, at::TensorOptions().dtype(at::kDouble)).to(context_.device());
  context_.all_reduce(t, c10d::ReduceOp::SUM, "sum over ranks");
  t = t.cpu();
  const double* data = t.data_ptr<double>();
  return std::vector<double>(data, data + t.numel());
}

void DataParallelSync::broadcast(const std::vector<at::Tensor>& tensors, int root) {
  HALO_CHECK(root >= 0 && root < context_.world_size(), "broadcast from rank ", root,
             " outside the world of ", context_.world_size());
  at::NoGradGuard no_grad;
  // One flat buffer per dtype, in the order the dtypes first appear (the same on every rank).
  std::vector<at::ScalarType> dtypes;
  for (const auto& t : tensors) {
    if (std::find(dtypes.begin(), dtypes.end(), t.scalar_type()) == dtypes.end()) {
      dtypes.push_back(t.scalar_type());
    }
  }
  for (const auto dtype : dtypes) {
    std::vector<at::Tensor> parts;
    for (const auto& t : tensors) {
      if (t.scalar_type() == dtype) parts.push_back(t.detach().reshape({-1}).to(context_.device()));
    }
    at::Tensor flat = at::cat(parts);
    context_.broadcast(flat, root, "broadcast from rank " + std::to_string(root));
    int64_t offset = 0;
    for (const auto& t : tensors) {
      if (t.scalar_type() != dtype) continue;
      const int64_t n = t.numel();
      t.detach().copy_(flat.narrow(0, offset, n).view(t.sizes()));
      offset += n;
    }
  }
}

void DataParallelSync::wait_for_all(const std::string& what, double timeout_s,
                                    const std::string& timeout_key) {
  if (timeout_s > 0) {
    context_.wait_for_all(what, timeout_s, timeout_key);
  } else {
    context_.wait_for_all(what, 0);
  }
}

}  // namespace halo::distributed
