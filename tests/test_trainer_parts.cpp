// Trainer parts on a tiny model: activation checkpointing gives the same loss and gradients as
// the plain forward; AdamW puts weight decay on 2-D parameters only; the batch fingerprint does
// not depend on how rows are split over ranks but does on their order; FusedAdamW's fused
// kernel (ATen's CPU build of it here) follows LibTorch's AdamW loop and shares its state.
#include <catch2/catch.hpp>

#include "halo/stages/lm_loss.h"
#include "halo/stages/stage3_long_context.h"
#include "halo/stages/student_builder.h"
#include "halo/train/adamw_groups.h"
#include "halo/train/batch_fingerprint.h"
#include "halo/train/fused_adamw.h"
#include "halo/train/grad_clip.h"
#include "hypenet/parameter_init.h"
#include "hypenet/weight_transfer.h"
#include "tests/adamw_pair.h"
#include "tests/test_util.h"

#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize.h>

#include <cmath>
#include <optional>
#include <sstream>

using namespace halo;

namespace {

hypenet::Qwen3Config tiny_teacher_config() {
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
  return t;
}

hypenet::HypeNetForCausalLM tiny_hybrid() {
  const auto t = tiny_teacher_config();
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

TEST_CASE("FusedAdamW: the fused kernel follows LibTorch's AdamW, state interchangeable",
          "[train]") {
  // Two groups (decay on 2-D only) of random parameters, 5 steps of random gradients.
  auto make_params = [] {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
    return std::vector<at::Tensor>{at::randn({7, 5}, gen), at::randn({5}, gen),
                                   at::randn({3, 4}, gen)};
  };
  auto loop_params = make_params(), fused_params = make_params();
  for (auto& p : loop_params) p.set_requires_grad(true);
  for (auto& p : fused_params) p.set_requires_grad(true);
  torch::optim::AdamW loop(test::two_adamw_groups(loop_params), torch::optim::AdamWOptions(1e-2));
  train::FusedAdamW fused(test::two_adamw_groups(fused_params), torch::optim::AdamWOptions(1e-2),
                          true);
  REQUIRE(fused.fused());
  test::step_twins(loop, loop_params, fused, fused_params, 5, 12);
  for (size_t i = 0; i < loop_params.size(); ++i) {
    CAPTURE(i);
    CHECK(at::allclose(fused_params[i], loop_params[i], 1e-6, 1e-7));
    CHECK_FALSE(at::equal(fused_params[i], make_params()[i]));  // it did move
  }
  // The fused optimizer's state loads into LibTorch's AdamW (and the steps counted agree).
  std::stringstream buf;
  {
    torch::serialize::OutputArchive out;
    fused.save(out);
    out.save_to(buf);
  }
  torch::optim::AdamW reloaded(test::two_adamw_groups(fused_params),
                               torch::optim::AdamWOptions(1e-2));
  {
    torch::serialize::InputArchive in;
    in.load_from(buf);
    reloaded.load(in);
  }
  for (auto& p : fused_params) {
    const auto& a = static_cast<const torch::optim::AdamWParamState&>(
        *fused.state().at(p.unsafeGetTensorImpl()));
    const auto& b = static_cast<const torch::optim::AdamWParamState&>(
        *reloaded.state().at(p.unsafeGetTensorImpl()));
    CHECK(a.step() == 5);
    CHECK(b.step() == 5);
    CHECK(at::equal(a.exp_avg(), b.exp_avg()));
    CHECK(at::equal(a.exp_avg_sq(), b.exp_avg_sq()));
  }
  // make_adamw keeps LibTorch's loop for CPU parameters.
  std::vector<std::pair<std::string, at::Tensor>> named{{"w", loop_params[0]}};
  auto made = train::make_adamw(named, config::OptimizerConfig());
  REQUIRE(dynamic_cast<train::FusedAdamW*>(made.get()) != nullptr);
  CHECK_FALSE(static_cast<train::FusedAdamW&>(*made).fused());
}

TEST_CASE(
    "student.lightning_recurrence reaches every Lightning layer, on the CPU tf32 changes nothing "
    "and autocast only what it hands the op",
    "[train]") {
  // The builders apply the pipeline option to every Lightning layer. What the choices compute on
  // the CUDA kernels (bfloat16 tensor cores, TF32 products): [cuda] tests in
  // test_hypenet_cuda.cpp. On the CPU the op takes its ATen path, which computes in float32
  // whatever its input dtype (ops/lightning_attention.h); this test pins down, exactly, what each
  // choice does there:
  //   - tf32 is ignored (TF32 exists on the CUDA kernels only): float32's bits, always;
  //   - autocast outside autocast is float32 (hypenet/lightning_mixer.h): float32's bits;
  //   - autocast under (CPU) autocast hands the op bfloat16 q, k, v. Without a gradient the
  //     norms hand q and k on in float32, so the op sees other values than float32's recurrence
  //     does: the result differs, within bfloat16 rounding, once the state crosses a chunk
  //     (within one chunk every product goes through a bfloat16 matmul either way). In training
  //     (a gradient flows) the norms already hand on bfloat16 (hypenet/rms_norm.cpp), the cast
  //     changes no value, and the ATen path gives float32's bits.
  const auto t = tiny_teacher_config();
  hypenet::Qwen3ForCausalLM teacher(t);
  hypenet::init_parameters_like_hf(*teacher, 0.2, 5);
  config::StudentSection options;
  options.lightning_recurrence = config::LightningRecurrence::kAutocast;
  auto student = stages::all_rnn_student(teacher, options);
  for (size_t i = 0; i < 3; ++i) {
    REQUIRE(student->layer(i).lightning);
    CHECK(student->layer(i).lightning->recurrence() == hypenet::LightningRecurrence::kAutocast);
  }
  options.lightning_recurrence = config::LightningRecurrence::kTf32;
  auto tf32_student = stages::all_rnn_student(teacher, options);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(tf32_student->layer(i).lightning->recurrence() == hypenet::LightningRecurrence::kTf32);
  }
  options.lightning_recurrence = config::LightningRecurrence::kFloat32;
  auto plain_student = stages::all_rnn_student(teacher, options);
  CHECK(plain_student->layer(0).lightning->recurrence() ==
        hypenet::LightningRecurrence::kFloat32);

  // 70 positions: two chunks of the ATen path (64 each), so a chunk's state reaches the next.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  auto ids = at::randint(0, 61, {2, 70}, gen, at::TensorOptions().dtype(at::kLong));
  hypenet::ForwardOptions fo;
  fo.training = true;
  fo.return_hidden = true;
  fo.skip_logits = true;
  for (const bool autocast : {false, true}) {
    for (const bool grad : {false, true}) {
      INFO("CPU autocast " << autocast << ", gradients " << grad);
      auto hidden = [&](hypenet::HypeNetForCausalLM& m) {
        at::AutoGradMode grad_mode(grad);
        std::optional<test::Autocast> scope;
        if (autocast) scope.emplace(at::kCPU);
        return m->forward(ids, fo).hidden.detach().to(at::kFloat);
      };
      const auto plain = hidden(plain_student);
      CHECK(at::equal(hidden(tf32_student), plain));
      const auto bf16 = hidden(student);
      if (!autocast || grad) {
        CHECK(at::equal(bf16, plain));
      } else {
        CHECK_FALSE(at::equal(bf16, plain));
        const double e = test::max_rel_error(bf16, plain);
        INFO("autocast recurrence against float32 recurrence: max relative error " << e);
        CHECK(e <= 5e-2);
      }
    }
  }
}

TEST_CASE("foreach gradient clipping equals LibTorch's clip_grad_norm_", "[train]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(17);
  for (double max_norm : {0.5, 1e3, 0.0}) {
    CAPTURE(max_norm);
    std::vector<at::Tensor> a, b;
    for (auto shape : {std::vector<int64_t>{7, 5}, {5}, {3, 4, 2}}) {
      auto p = at::randn(shape, gen).requires_grad_(true);
      p.mutable_grad() = at::randn(shape, gen) * 3.0;
      auto q = p.detach().clone().requires_grad_(true);
      q.mutable_grad() = p.grad().clone();
      a.push_back(p);
      b.push_back(q);
    }
    auto no_grad = at::randn({4}, gen).requires_grad_(true);  // skipped, as LibTorch does
    a.push_back(no_grad);
    b.push_back(no_grad.detach().clone().requires_grad_(true));
    const double mine = train::clip_grad_norm(a, max_norm);
    const double theirs = torch::nn::utils::clip_grad_norm_(b, max_norm > 0 ? max_norm : 1e30);
    CHECK(mine == Approx(theirs).epsilon(1e-6));
    if (max_norm > 0 && max_norm < theirs) CHECK(mine > max_norm);  // it did clip
    for (size_t i = 0; i + 1 < a.size(); ++i) {
      CHECK(at::allclose(a[i].grad(), b[i].grad(), 1e-6, 1e-7));
    }
  }
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
