// Implementation of swiglu_mlp.h.
#include "hypenet/swiglu_mlp.h"

#include "hypenet/linear_forward.h"

namespace halo::hypenet {

SwiGLUMLPImpl::SwiGLUMLPImpl(int64_t hidden_size, int64_t intermediate_size) {
  auto linear = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  gate_proj = register_module("gate_proj", linear(hidden_size, intermediate_size));
  up_proj = register_module("up_proj", linear(hidden_size, intermediate_size));
  down_proj = register_module("down_proj", linear(intermediate_size, hidden_size));
  gate_up_ = FusedProjection({gate_proj, up_proj});
}

at::Tensor SwiGLUMLPImpl::forward(const at::Tensor& x) {
  const auto gu = gate_up_.forward(x);  // [B, T, I] each (views of one [B, T, 2I] once fused)
  return linear_forward(down_proj, at::silu(gu[0]) * gu[1]);
}

bool SwiGLUMLPImpl::fuse_input_projections() {
  return gate_up_.fuse();
}

}  // namespace halo::hypenet
