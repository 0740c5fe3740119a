// Implementation of parameter_init.h.
#include "hypenet/parameter_init.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/utils.h>

namespace halo::hypenet {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void init_parameters_like_hf(torch::nn::Module& module, double std, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& item : module.named_parameters()) {
    auto& p = item.value();
    // Drawn on the CPU in float32 so the values do not depend on the module's device or dtype.
    auto cpu = at::empty(p.sizes(), at::TensorOptions().dtype(at::kFloat));
    if (ends_with(item.key(), "norm.weight")) {
      cpu.fill_(1.0);
    } else if (ends_with(item.key(), ".bias")) {
      cpu.zero_();
    } else {
      cpu.normal_(0.0, std, gen);
    }
    p.copy_(cpu);
  }
}

}  // namespace halo::hypenet
