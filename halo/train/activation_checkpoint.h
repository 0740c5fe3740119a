// Activation checkpointing: run a block (a decoder layer) without keeping its intermediate
// activations; in backward, recompute it from its saved input with gradients on and backprop
// through the recomputation (the reentrant scheme of torch.utils.checkpoint). Memory drops to
// one [B, T, D] input per block, at the cost of a second forward. The blocks used here draw no
// random numbers (no dropout), so the recomputation is exact.
#pragma once

#include <ATen/ATen.h>

#include <functional>

namespace halo::train {

using BlockFn = std::function<at::Tensor(const at::Tensor&)>;

// fn(x) with its activations recomputed in backward. `fn` must stay valid until backward and
// be deterministic. Without grad mode it simply returns fn(x).
at::Tensor checkpointed(const BlockFn& fn, const at::Tensor& x);

}  // namespace halo::train
