// [cuda] The trainer's GPU paths against their reference on the same GPU: FusedAdamW's fused
// kernel against LibTorch's AdamW loop, foreach clipping against clip_grad_norm_, and the chunked
// KL under CUDA autocast against explicitly bfloat16 inputs (backward included).
#include <catch2/catch.hpp>

#include "halo/losses/chunked_kl.h"
#include "halo/train/fused_adamw.h"
#include "halo/train/grad_clip.h"
#include "tests/adamw_pair.h"
#include "tests/test_util.h"

#include <torch/nn/utils/clip_grad.h>

using namespace halo;

namespace {

std::vector<at::Tensor> cuda_params(uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<at::Tensor> out;
  for (auto shape : {std::vector<int64_t>{257, 129}, {129}, {64, 3, 5}}) {
    out.push_back(at::randn(shape, gen).cuda().requires_grad_(true));
  }
  return out;
}

}  // namespace

TEST_CASE("FusedAdamW on CUDA follows LibTorch's AdamW loop", "[cuda][train]") {
  auto loop_p = cuda_params(3), fused_p = cuda_params(3);
  torch::optim::AdamW loop(test::two_adamw_groups(loop_p), torch::optim::AdamWOptions(1e-2));
  train::FusedAdamW fused(test::two_adamw_groups(fused_p), torch::optim::AdamWOptions(1e-2), true);
  test::step_twins(loop, loop_p, fused, fused_p, 5, 4);
  for (size_t i = 0; i < loop_p.size(); ++i) {
    CAPTURE(i);
    CHECK(at::allclose(fused_p[i].cpu(), loop_p[i].cpu(), 1e-5, 1e-6));
  }
}

TEST_CASE("foreach clipping on CUDA equals clip_grad_norm_", "[cuda][train]") {
  auto a = cuda_params(5), b = cuda_params(5);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(6);
  for (size_t i = 0; i < a.size(); ++i) {
    auto g = (at::randn(a[i].sizes(), gen) * 2.0).cuda();
    a[i].mutable_grad() = g.clone();
    b[i].mutable_grad() = g.clone();
  }
  const double mine = train::clip_grad_norm(a, 1.0);
  const double theirs = torch::nn::utils::clip_grad_norm_(b, 1.0);
  CHECK(mine == Approx(theirs).epsilon(1e-5));
  for (size_t i = 0; i < a.size(); ++i) CHECK(at::allclose(a[i].grad(), b[i].grad(), 1e-5, 1e-7));
}

TEST_CASE("chunked KL under CUDA autocast runs forward and backward in bfloat16",
          "[cuda][losses]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(8);
  const int64_t N = 300, V = 1001, D = 64;
  auto sh0 = at::randn({N, D}, gen).cuda(), sw0 = (at::randn({V, D}, gen) * 0.3).cuda();
  auto th = at::randn({N, D}, gen).cuda(), tw = (at::randn({V, D}, gen) * 0.3).cuda();
  auto mask = (at::rand({N}, gen) > 0.2).cuda();
  auto sh = sh0.clone().requires_grad_(true), sw = sw0.clone().requires_grad_(true);
  at::Tensor loss;
  {
    test::Autocast autocast(at::kCUDA);
    loss = losses::chunked_kl_loss(sh, sw, th, tw, mask, 128, double(N));
  }
  loss.backward();
  auto bh = sh0.to(at::kBFloat16).requires_grad_(true),
       bw = sw0.to(at::kBFloat16).requires_grad_(true);
  auto ref = losses::chunked_kl_loss(bh, bw, th.to(at::kBFloat16), tw.to(at::kBFloat16), mask, 128,
                                     double(N));
  ref.backward();
  REQUIRE(sh.grad().scalar_type() == at::kFloat);
  CHECK(loss.item<float>() == ref.item<float>());
  CHECK(at::equal(sh.grad(), bh.grad().to(at::kFloat)));
  CHECK(at::equal(sw.grad(), bw.grad().to(at::kFloat)));
}
