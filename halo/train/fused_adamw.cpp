// Implementation of fused_adamw.h.
#include "halo/train/fused_adamw.h"

#include "common/error.h"

#include <ATen/ops/_fused_adamw.h>

#include <algorithm>
#include <vector>

namespace halo::train {

FusedAdamW::FusedAdamW(const std::vector<torch::optim::OptimizerParamGroup>& groups,
                       torch::optim::AdamWOptions defaults, bool fused)
    : torch::optim::AdamW(groups, std::move(defaults)), fused_(fused) {}

torch::Tensor FusedAdamW::step(LossClosure closure) {
  if (!fused_) return torch::optim::AdamW::step(std::move(closure));
  HALO_CHECK(closure == nullptr, "FusedAdamW: closures are not supported");
  torch::NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
    HALO_CHECK(!o.amsgrad(), "FusedAdamW: amsgrad is not supported");
    // One launch per device (the kernel takes tensors of one device).
    struct Lists {
      std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
      std::vector<float> steps;
    };
    std::vector<std::pair<c10::Device, Lists>> by_device;  // in order of first appearance
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      HALO_CHECK(!p.grad().is_sparse(), "FusedAdamW: sparse gradients are not supported");
      auto it = state_.find(p.unsafeGetTensorImpl());
      if (it == state_.end()) {
        // As AdamW::step initialises it, so checkpoints of either load into the other.
        auto st = std::make_unique<torch::optim::AdamWParamState>();
        st->step(0);
        st->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
        st->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
        it = state_.emplace(p.unsafeGetTensorImpl(), std::move(st)).first;
      }
      auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
      st.step(st.step() + 1);
      auto at = std::find_if(by_device.begin(), by_device.end(),
                             [&](const auto& e) { return e.first == p.device(); });
      if (at == by_device.end()) at = by_device.insert(by_device.end(), {p.device(), Lists()});
      auto& l = at->second;
      l.params.push_back(p);
      l.grads.push_back(p.grad());
      l.exp_avgs.push_back(st.exp_avg());
      l.exp_avg_sqs.push_back(st.exp_avg_sq());
      l.steps.push_back(static_cast<float>(st.step()));
    }
    for (auto& [device, l] : by_device) {
      // The kernel reads each parameter's step count from a float32 scalar tensor on the
      // parameter's device (what torch.optim.AdamW(fused=True) keeps as state["step"]).
      auto steps = at::tensor(l.steps, at::kFloat).to(device).unbind(0);
      at::_fused_adamw_(l.params, l.grads, l.exp_avgs, l.exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps,
                        o.lr(), std::get<0>(o.betas()), std::get<1>(o.betas()), o.weight_decay(),
                        o.eps(), /*amsgrad=*/false, /*maximize=*/false);
    }
  }
  return {};
}

}  // namespace halo::train
