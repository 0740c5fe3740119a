// zero1.h: the parameter partition, the shard optimizer, the owner broadcasts and the
// checkpoint gather / scatter of AdamW state.
#include "halo/train/zero1.h"

#include "common/error.h"
#include "halo/train/adamw_groups.h"

#include <cmath>

namespace halo::train {

std::vector<ParamRange> partition_by_numel(const std::vector<int64_t>& numels, int world_size) {
  HALO_CHECK(world_size >= 1, "ZeRO-1 partition over ", world_size, " ranks");
  const size_t n = numels.size();
  std::vector<double> prefix(n + 1, 0.0);  // prefix[i] = elements of parameters [0, i)
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + static_cast<double>(numels[i]);
  std::vector<ParamRange> ranges(static_cast<size_t>(world_size));
  size_t begin = 0;
  for (int r = 0; r < world_size; ++r) {
    size_t end = n;
    if (r + 1 < world_size) {
      const double target = prefix[n] * (r + 1) / world_size;
      end = begin;
      while (end < n && prefix[end] < target) ++end;
      // The boundary nearest to the target (ties to the earlier one).
      if (end > begin && target - prefix[end - 1] <= prefix[end] - target) --end;
    }
    ranges[static_cast<size_t>(r)] = {begin, end};
    begin = end;
  }
  return ranges;
}

std::unique_ptr<torch::optim::AdamW> make_shard_adamw(
    const std::vector<std::pair<std::string, at::Tensor>>& params, ParamRange range,
    const config::OptimizerConfig& optimizer) {
  if (range.size() == 0) return nullptr;
  std::vector<std::pair<std::string, at::Tensor>> own(params.begin() + range.begin,
                                                      params.begin() + range.end);
  return make_adamw(own, optimizer);
}

void broadcast_from_owners(GradientSync& sync, const std::vector<at::Tensor>& params,
                           const std::vector<ParamRange>& ranges) {
  for (size_t r = 0; r < ranges.size(); ++r) {
    if (ranges[r].size() == 0) continue;
    std::vector<at::Tensor> own(params.begin() + ranges[r].begin, params.begin() + ranges[r].end);
    sync.broadcast(own, static_cast<int>(r));
  }
}

void gather_adamw_state(GradientSync& sync, int rank, const std::vector<at::Tensor>& params,
                        const std::vector<ParamRange>& ranges, torch::optim::AdamW* shard,
                        torch::optim::AdamW* full) {
  HALO_CHECK((rank == 0) == (full != nullptr),
             "gather_adamw_state: rank 0 and only rank 0 passes the full optimizer");
  at::NoGradGuard no_grad;
  for (size_t r = 0; r < ranges.size(); ++r) {
    const ParamRange range = ranges[r];
    if (range.size() == 0) continue;
    const bool owner = static_cast<size_t>(rank) == r;
    HALO_CHECK(!owner || shard != nullptr, "gather_adamw_state: rank ", rank,
               " owns parameters but has no optimizer");
    // The owner's step counts first (0: no state yet), then the moments of the parameters that
    // have state, one parameter at a time (at most one parameter's moments in flight).
    auto steps = at::zeros({static_cast<int64_t>(range.size())}, at::kLong);
    if (owner) {
      for (size_t i = range.begin; i < range.end; ++i) {
        auto it = shard->state().find(params[i].unsafeGetTensorImpl());
        if (it == shard->state().end()) continue;
        steps[static_cast<int64_t>(i - range.begin)] =
            static_cast<torch::optim::AdamWParamState&>(*it->second).step();
      }
    }
    sync.broadcast({steps}, static_cast<int>(r));
    for (size_t i = range.begin; i < range.end; ++i) {
      const int64_t step = steps[static_cast<int64_t>(i - range.begin)].item<int64_t>();
      if (step == 0) continue;
      at::Tensor exp_avg, exp_avg_sq;
      if (owner) {
        auto& st = static_cast<torch::optim::AdamWParamState&>(
            *shard->state().at(params[i].unsafeGetTensorImpl()));
        exp_avg = st.exp_avg();
        exp_avg_sq = st.exp_avg_sq();
      } else {
        exp_avg = at::empty_like(params[i], at::MemoryFormat::Preserve);
        exp_avg_sq = at::empty_like(params[i], at::MemoryFormat::Preserve);
      }
      sync.broadcast({exp_avg, exp_avg_sq}, static_cast<int>(r));
      if (full == nullptr) continue;
      auto st = std::make_unique<torch::optim::AdamWParamState>();
      st->step(step);
      st->exp_avg(owner ? exp_avg.clone() : exp_avg);
      st->exp_avg_sq(owner ? exp_avg_sq.clone() : exp_avg_sq);
      full->state()[params[i].unsafeGetTensorImpl()] = std::move(st);
    }
  }
  if (full != nullptr && shard != nullptr && !shard->param_groups().empty()) {
    set_learning_rate(*full, shard->param_groups()[0].options().get_lr());
  }
}

void keep_own_state(torch::optim::AdamW& full, torch::optim::AdamW& shard,
                    const std::vector<at::Tensor>& params, ParamRange own) {
  for (size_t i = own.begin; i < own.end; ++i) {
    void* key = params[i].unsafeGetTensorImpl();
    auto it = full.state().find(key);
    if (it == full.state().end()) {
      shard.state().erase(key);
    } else {
      shard.state()[key] = std::move(it->second);
    }
  }
}

}  // namespace halo::train
