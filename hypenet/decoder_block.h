// The pre-norm residual block that every decoder layer of both models runs (HALO_NOTES 1):
// y = x + mixer(input_layernorm(x)), then y + mlp(post_attention_layernorm(y)). The layers differ
// only in their token mixer (Qwen3: attention; HypeNet: attention or Lightning).
#pragma once

#include "hypenet/rms_norm.h"
#include "hypenet/swiglu_mlp.h"

#include <ATen/ATen.h>

namespace halo::hypenet {

// `mixer(h)` computes the token mixer's output for its normalised input h. mixer_in and
// mixer_out, when not null, receive h and that output (the captures of stage 1 and selection).
template <class Mixer>
at::Tensor pre_norm_block(const at::Tensor& x, RMSNorm& input_layernorm, Mixer&& mixer,
                          RMSNorm& post_attention_layernorm, SwiGLUMLP& mlp, at::Tensor* mixer_in,
                          at::Tensor* mixer_out) {
  auto h = input_layernorm(x);
  auto a = mixer(h);
  if (mixer_in) *mixer_in = h;
  if (mixer_out) *mixer_out = a;
  auto y = x + a;
  return y + mlp(post_attention_layernorm(y));
}

}  // namespace halo::hypenet
