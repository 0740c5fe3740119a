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
}

at::Tensor SwiGLUMLPImpl::forward(const at::Tensor& x) {
  if (gate_up_.defined()) {
    const auto gu = gate_up_.forward(x);  // [B, T, I] each, views of one [B, T, 2I]
    return linear_forward(down_proj, at::silu(gu[0]) * gu[1]);
  }
  return linear_forward(down_proj,
                        at::silu(linear_forward(gate_proj, x)) * linear_forward(up_proj, x));
}

bool SwiGLUMLPImpl::fuse_input_projections() {
  if (gate_up_.defined()) return false;
  gate_up_ = FusedProjection::fuse({gate_proj, up_proj});
  return true;
}

}  // namespace halo::hypenet
