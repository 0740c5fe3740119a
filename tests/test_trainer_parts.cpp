// Trainer parts on a tiny model: activation checkpointing gives the same loss and gradients as
// the plain forward; AdamW puts weight decay on 2-D parameters only; the batch fingerprint does
// not depend on how rows are split over ranks but does on their order.
#include <catch2/catch.hpp>

#include "halo/stages/lm_loss.h"
#include "halo/stages/stage3_long_context.h"
#include "halo/train/adamw_groups.h"
#include "halo/train/batch_fingerprint.h"
#include "hypenet/parameter_init.h"
#include "hypenet/weight_transfer.h"

#include <cmath>

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

TEST_CASE("batch fingerprint: any split over ranks sums to the same, moved rows change it",
          "[train]") {
  auto ids = at::randint(0, 1000, {6, 9}, at::TensorOptions().dtype(at::kLong));  // [G, T]
  auto rows = [&](int64_t begin, int64_t end) {
    data::Batch b;
    b.input_ids = ids.slice(0, begin, end).contiguous();
    return b;
  };
  const double whole = train::batch_rows_fingerprint(rows(0, 6), 0, 0);
  CHECK(whole == std::floor(whole));
  CHECK(whole < 9007199254740992.0);  // 2^53: float64 sums stay exact
  for (int64_t ranks : {2, 3, 6}) {
    const int64_t b = 6 / ranks;
    double sum = 0;
    for (int64_t r = ranks - 1; r >= 0; --r) {
      sum += train::batch_rows_fingerprint(rows(r * b, (r + 1) * b), 0, r * b);
    }
    INFO(ranks << " ranks");
    CHECK(sum == whole);
  }
  data::Batch swapped;
  swapped.input_ids = at::cat({ids.slice(0, 1, 2), ids.slice(0, 0, 1), ids.slice(0, 2, 6)});
  CHECK(train::batch_rows_fingerprint(swapped, 0, 0) != whole);
  CHECK(train::batch_rows_fingerprint(rows(0, 6), 1, 0) != whole);  // another micro-batch
  auto changed = ids.clone();
  changed[4][7] = changed[4][7].item<int64_t>() + 1;
  data::Batch one_token;
  one_token.input_ids = changed;
  CHECK(train::batch_rows_fingerprint(one_token, 0, 0) != whole);
}
