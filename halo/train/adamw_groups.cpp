// make_adamw: decay / no-decay parameter groups.
#include "halo/train/adamw_groups.h"

#include "common/error.h"
#include "halo/train/fused_adamw.h"

namespace halo::train {

std::unique_ptr<torch::optim::AdamW> make_adamw(
    const std::vector<std::pair<std::string, at::Tensor>>& params,
    const config::OptimizerConfig& o) {
  HALO_CHECK(!params.empty(), "the optimizer got no trainable parameters");
  std::vector<at::Tensor> decay, no_decay;
  bool all_cuda = true;
  for (const auto& [name, p] : params) {
    (p.dim() >= 2 ? decay : no_decay).push_back(p);
    all_cuda = all_cuda && p.is_cuda();
  }
  auto options = torch::optim::AdamWOptions(o.lr)
                     .betas(std::make_tuple(o.beta1, o.beta2))
                     .eps(o.eps)
                     .weight_decay(o.weight_decay);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty()) {
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
  }
  if (!no_decay.empty()) {
    auto nd = options;
    nd.weight_decay(0.0);
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(nd));
  }
  return std::make_unique<FusedAdamW>(std::move(groups), options, /*fused=*/all_cuda);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& g : optimizer.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  }
}

}  // namespace halo::train
