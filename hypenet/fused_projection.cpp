// Implementation of fused_projection.h.
#include "hypenet/fused_projection.h"

#include "common/error.h"
#include "hypenet/lightning_mixer.h"
#include "hypenet/linear_forward.h"
#include "hypenet/qwen3_attention.h"
#include "hypenet/swiglu_mlp.h"
#include "ops/decode_linear/decode_linear.h"

#include <torch/torch.h>

namespace halo::hypenet {

bool FusedProjection::fuse() {
  if (fused()) return false;
  HALO_CHECK(!layers_.empty(), "fused projection: no layers");
  const auto& w0 = layers_.front()->weight;
  const bool with_bias = layers_.front()->bias.defined();
  std::vector<at::Tensor> weights, biases;
  for (const auto& l : layers_) {
    HALO_CHECK(l->weight.size(1) == w0.size(1) && l->weight.scalar_type() == w0.scalar_type() &&
                   l->weight.device() == w0.device(),
               "fused projection: the layers differ in input size, dtype or device");
    HALO_CHECK(l->bias.defined() == with_bias,
               "fused projection: some layers have a bias and some do not");
    weights.push_back(l->weight);
    if (with_bias) biases.push_back(l->bias);
    sizes_.push_back(l->weight.size(0));
  }
  torch::NoGradGuard no_grad;
  weight_ = at::cat(weights, 0);  // [sum(out), in]
  if (with_bias) bias_ = at::cat(biases, 0);
  int64_t row = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->weight.set_data(weight_.narrow(0, row, sizes_[i]));
    if (with_bias) layers_[i]->bias.set_data(bias_.narrow(0, row, sizes_[i]));
    row += sizes_[i];
  }
  return true;
}

std::vector<at::Tensor> FusedProjection::forward(const at::Tensor& x) const {
  if (!fused()) {
    std::vector<at::Tensor> out;
    for (const auto& l : layers_) out.push_back(linear_forward(l, x));
    return out;
  }
  // A host-side pointer check (no device work): each layer's weight still lies in the buffer.
  const auto* base = static_cast<const char*>(weight_.data_ptr());
  const int64_t row_bytes = weight_.size(1) * static_cast<int64_t>(weight_.element_size());
  int64_t row = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    HALO_CHECK(layers_[i]->weight.data_ptr() == base + row * row_bytes, "fused projection: layer ",
               i,
               "'s weight is no longer a view of the fused buffer (replaced after "
               "fuse_projections_for_inference, e.g. by Module::to); fuse again");
    row += sizes_[i];
  }
  auto y = ops::decode_linear(x, weight_, bias_);  // at::linear but for a decode step's rows
  return y.split_with_sizes(sizes_, -1);
}

int64_t fuse_projections_for_inference(torch::nn::Module& root) {
  int64_t fused = 0;
  for (const auto& m : root.modules(/*include_self=*/true)) {
    if (auto* a = dynamic_cast<Qwen3AttentionImpl*>(m.get())) {
      fused += a->fuse_input_projections() ? 1 : 0;
    } else if (auto* l = dynamic_cast<LightningMixerImpl*>(m.get())) {
      fused += l->fuse_input_projections() ? 1 : 0;
    } else if (auto* p = dynamic_cast<SwiGLUMLPImpl*>(m.get())) {
      fused += p->fuse_input_projections() ? 1 : 0;
    }
  }
  return fused;
}

}  // namespace halo::hypenet
