// Linear layers that read the same input, computed as one matrix product at inference: a decode
// step at batch 1 is a chain of GEMVs, and an H100 profile of one (docs/benchmarks.md,
// 2026-12-07) shows 7-8 of them per layer (q, k, v, output gate; MLP gate and up apart) at about
// 60% of the memory bandwidth a larger one reaches. fuse() moves the layers' weights (and
// biases) into one [sum(out), in] buffer and makes each layer's parameter a view of its rows, so
// nothing is held twice and the layers and their checkpoints are unchanged; forward() returns
// each layer's output as a view of one result. Off by default (bench decode --fuse-projections);
// see fuse_projections_for_inference.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <vector>

namespace halo::hypenet {

// Linear layers that read the same input: one product per layer until fuse(), one product for
// all of them after.
class FusedProjection {
 public:
  FusedProjection() = default;
  explicit FusedProjection(std::vector<torch::nn::Linear> layers) : layers_(std::move(layers)) {}
  // Moves the weights into one buffer. The layers must have the same in_features, device and
  // dtype, and all a bias or none (HaloError otherwise). False if already fused.
  bool fuse();
  bool fused() const { return weight_.defined(); }
  // x: [..., in] -> one [..., out_i] per layer, in the order given (views of one product once
  // fused). Fused, it throws when a layer's weight is no longer a view of the fused buffer
  // (something replaced its data, e.g. Module::to after fuse): the fused product would
  // silently use stale weights.
  std::vector<at::Tensor> forward(const at::Tensor& x) const;

 private:
  at::Tensor weight_, bias_;  // [sum(out), in], [sum(out)] or undefined
  std::vector<int64_t> sizes_;
  std::vector<torch::nn::Linear> layers_;
};

// Fuses, in every Qwen3 attention, Lightning mixer and SwiGLU MLP under `root`: q, k, v and the
// output gate (those with the same bias setting), and the MLP's gate and up projections. For
// inference only (a fused layer's weight is a view; training such a model would update the
// shared buffer, which is correct, but nothing here was tested for it). Returns the number of
// modules fused. Calling it again is a no-op.
int64_t fuse_projections_for_inference(torch::nn::Module& root);

}  // namespace halo::hypenet
