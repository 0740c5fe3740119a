// Trainer parts on a tiny model: activation checkpointing gives the same loss and gradients as
// the plain forward; AdamW puts weight decay on 2-D parameters only.
#include <catch2/catch.hpp>

#include "halo/stages/lm_loss.h"
#include "halo/stages/stage3_long_context.h"
#include "halo/train/adamw_groups.h"
#include "hypenet/parameter_init.h"
#include "hypenet/weight_transfer.h"

using namespace halo;

namespace {

hypenet::HypeNetForCausalLM tiny_hybrid() {
  hypenet::Qwen3Config t;
  t.vocab_size = 61;
  t.hidden_size = 24;
  t.intermediate_size = 40;
  t.num_hidden_layers = 3;
  t.num_attention_heads = 4;
  t.num_key_value_heads = 2;
  t.head_dim = 6;
  t.tie_word_embeddings = false;
  t.dtype = "float32";
  auto c = hypenet::hypenet_config_like_release(
      t, {hypenet::MixerType::kLightning, hypenet::MixerType::kAttention,
          hypenet::MixerType::kLightning});
  hypenet::HypeNetForCausalLM m(c);
  hypenet::init_parameters_like_hf(*m, 0.2, 3);
  return m;
}

}  // namespace

TEST_CASE("activation checkpointing: same loss and gradients as the plain forward", "[train]") {
  auto model = tiny_hybrid();
  auto ids = at::randint(0, 61, {2, 13}, at::TensorOptions().dtype(at::kLong));
  auto labels = at::randint(0, 61, {2, 13}, at::TensorOptions().dtype(at::kLong));

  hypenet::ForwardOptions fo;
  fo.training = true;
  fo.return_hidden = true;
  fo.skip_logits = true;
  const double tokens = static_cast<double>(labels.numel());  // the mean over the tokens
  auto plain = stages::causal_lm_loss(model->forward(ids, fo).hidden, model->output_embedding(),
                                      labels, 7, tokens);
  plain.backward();
  std::vector<at::Tensor> plain_grads;
  for (auto& p : model->parameters()) {
    REQUIRE(p.grad().defined());
    plain_grads.push_back(p.grad().clone());
    p.mutable_grad() = at::Tensor();
  }
  auto ckpt = stages::causal_lm_loss(stages::hypenet_hidden_checkpointed(model, ids),
                                     model->output_embedding(), labels, 7, tokens);
  ckpt.backward();
  CHECK(ckpt.item<double>() == plain.item<double>());
  size_t i = 0;
  for (auto& p : model->parameters()) {
    REQUIRE(p.grad().defined());
    CHECK(at::allclose(p.grad(), plain_grads[i++], 1e-5, 1e-7));
  }
}

TEST_CASE("AdamW groups: weight decay on 2-D weights only", "[train]") {
  auto model = tiny_hybrid();
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (const auto& p : model->named_parameters()) params.emplace_back(p.key(), p.value());
  config::OptimizerConfig o;
  o.weight_decay = 0.1;
  auto opt = train::make_adamw(params, o);
  REQUIRE(opt->param_groups().size() == 2);
  const auto& decay = opt->param_groups()[0];
  const auto& no_decay = opt->param_groups()[1];
  CHECK(static_cast<const torch::optim::AdamWOptions&>(decay.options()).weight_decay() == 0.1);
  CHECK(static_cast<const torch::optim::AdamWOptions&>(no_decay.options()).weight_decay() == 0.0);
  for (const auto& p : decay.params()) CHECK(p.dim() == 2);
  for (const auto& p : no_decay.params()) CHECK(p.dim() < 2);
  CHECK(decay.params().size() + no_decay.params().size() == params.size());
  CHECK(!no_decay.params().empty());  // the norms
}
