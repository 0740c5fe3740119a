// FusedAdamW against LibTorch's AdamW loop on twin parameters (test_trainer_parts.cpp on the CPU,
// test_trainer_cuda.cpp on the GPU): the same two parameter groups, the same random gradients.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adamw.h>

#include <cstdint>
#include <memory>
#include <tuple>
#include <vector>

namespace halo::test {

// Two AdamW groups (lr 1e-2, betas (0.9, 0.95), eps 1e-8): ps[0] and ps[2] with weight decay
// 0.1, ps[1] without.
inline std::vector<torch::optim::OptimizerParamGroup> two_adamw_groups(
    const std::vector<at::Tensor>& ps) {
  auto o = torch::optim::AdamWOptions(1e-2).betas(std::make_tuple(0.9, 0.95)).eps(1e-8);
  auto decay = o, none = o;
  decay.weight_decay(0.1);
  none.weight_decay(0.0);
  std::vector<torch::optim::OptimizerParamGroup> g;
  g.emplace_back(std::vector<at::Tensor>{ps[0], ps[2]},
                 std::make_unique<torch::optim::AdamWOptions>(decay));
  g.emplace_back(std::vector<at::Tensor>{ps[1]},
                 std::make_unique<torch::optim::AdamWOptions>(none));
  return g;
}

// `steps` steps of optimizers a (over pa) and b (over pb, twins of pa) with the same gradients:
// standard normal, drawn on the CPU from `seed`, moved to each parameter's device.
inline void step_twins(torch::optim::Optimizer& a, std::vector<at::Tensor>& pa,
                       torch::optim::Optimizer& b, std::vector<at::Tensor>& pb, int steps,
                       uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (int step = 0; step < steps; ++step) {
    for (size_t i = 0; i < pa.size(); ++i) {
      auto g = at::randn(pa[i].sizes(), gen).to(pa[i].device());
      pa[i].mutable_grad() = g.clone();
      pb[i].mutable_grad() = g.clone();
    }
    a.step();
    b.step();
  }
}

}  // namespace halo::test
