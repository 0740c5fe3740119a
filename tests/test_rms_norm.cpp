// RMSNorm op on the CPU: the reference against a float64 formula, the dispatcher on CPU,
// gradients of the reference against central differences in float64, and where the autocast
// policy lives (the model's RMSNorm module, not the op).
#include <catch2/catch.hpp>

#include "hypenet/rms_norm.h"
#include "ops/rms_norm/rms_norm.h"
#include "ops/rms_norm_rotary/rms_norm_rotary.h"
#include "tests/test_util.h"

#include <torch/autograd.h>

using namespace halo;

TEST_CASE("rms_norm reference matches the float64 formula", "[ops][rms_norm]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  for (int64_t cols : {1, 7, 64, 130}) {
    auto x = at::randn({3, 5, cols}, gen, at::kDouble);
    auto w = at::randn({cols}, gen, at::kDouble);
    auto expect = w * x / at::sqrt(x.pow(2).mean(-1, true) + 1e-6);
    auto got = ops::rms_norm(x.to(at::kFloat), w.to(at::kFloat), 1e-6);
    CHECK(test::max_rel_error(got, expect) < 1e-5);
    CHECK(at::equal(got, ops::rms_norm_reference(x.to(at::kFloat), w.to(at::kFloat), 1e-6)));
  }
}

TEST_CASE("rms_norm gradients match central differences", "[ops][rms_norm]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  auto x = at::randn({2, 6}, gen, at::kDouble).requires_grad_(true);
  auto w = at::randn({6}, gen, at::kDouble).requires_grad_(true);
  auto probe = at::randn({2, 6}, gen, at::kDouble);
  auto loss = (ops::rms_norm(x, w, 1e-6) * probe).sum();
  auto grads = torch::autograd::grad({loss}, {x, w});
  const double h = 1e-6;
  for (int which = 0; which < 2; ++which) {
    auto param = which == 0 ? x : w;
    auto flat = param.detach().view(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      at::NoGradGuard ng;
      const double orig = flat[i].item<double>();
      flat[i] = orig + h;
      const double up = (ops::rms_norm(x, w, 1e-6) * probe).sum().item<double>();
      flat[i] = orig - h;
      const double down = (ops::rms_norm(x, w, 1e-6) * probe).sum().item<double>();
      flat[i] = orig;
      const double numeric = (up - down) / (2 * h);
      CHECK(grads[which].view(-1)[i].item<double>() == Approx(numeric).epsilon(1e-6).margin(1e-9));
    }
  }
}

TEST_CASE("rms_norm with ATen's fused normalisation: reference values and gradients",
          "[ops][rms_norm]") {
  // The training path on CUDA (rms_norm_fused_normalize), run here on the CPU: same values and
  // gradients as the reference for float32 and for bfloat16 inputs with a float32 weight (the
  // autocast case: the normalised x is rounded to bfloat16 before the weight, as transformers
  // does), and float64 gradients against central differences through the reference test above.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(13);
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    CAPTURE(dt);
    auto x0 = at::randn({4, 3, 96}, gen).to(dt);
    auto w0 = at::randn({96}, gen);
    auto probe = at::randn({4, 3, 96}, gen);
    auto xr = x0.clone().requires_grad_(true), wr = w0.clone().requires_grad_(true);
    auto xf = x0.clone().requires_grad_(true), wf = w0.clone().requires_grad_(true);
    auto yr = ops::rms_norm_reference(xr, wr, 1e-6);
    auto yf = ops::rms_norm_fused_normalize(xf, wf, 1e-6);
    REQUIRE(yf.scalar_type() == yr.scalar_type());
    CHECK(test::max_rel_error(yf.to(at::kDouble), yr.to(at::kDouble)) < 1e-5);
    (yr * probe).sum().backward();
    (yf * probe).sum().backward();
    REQUIRE(xf.grad().scalar_type() == dt);
    const double tol = dt == at::kFloat ? 1e-4 : 2e-2;
    CHECK(test::max_rel_error(xf.grad().to(at::kDouble), xr.grad().to(at::kDouble)) < tol);
    CHECK(test::max_rel_error(wf.grad().to(at::kDouble), wr.grad().to(at::kDouble)) < 1e-4);
  }
}

TEST_CASE("autocast: the op keeps its dtype, the model's RMSNorm casts in training",
          "[ops][rms_norm][hypenet]") {
  // The autocast policy lives in hypenet::RMSNormImpl (the model), not in ops::rms_norm: under
  // CPU autocast with gradients the op returns float32 bit for bit as outside autocast, and the
  // module hands its consumers that result cast to bfloat16; without gradients (inference) it
  // stays float32. norm_rotary rotates the module's (cast) result.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(17);
  hypenet::RMSNorm norm(16, 1e-6);
  {
    at::NoGradGuard no_grad;
    norm->weight.copy_(at::randn({16}, gen));
  }
  const auto x = at::randn({2, 5, 3, 16}, gen);
  const auto plain = ops::rms_norm(x, norm->weight, 1e-6);  // float32, needs a gradient
  REQUIRE(plain.scalar_type() == at::kFloat);
  REQUIRE(plain.requires_grad());
  const auto rope =
      hypenet::rotary_tables(at::arange(5, at::kLong), 16, 10000.0, at::kFloat);  // [T, 16]
  {
    test::Autocast autocast(at::kCPU);
    auto op = ops::rms_norm(x, norm->weight, 1e-6);
    CHECK(op.scalar_type() == at::kFloat);
    CHECK(at::equal(op, plain));
    auto module = norm->forward(x);
    CHECK(module.scalar_type() == at::kBFloat16);
    CHECK(at::equal(module, plain.to(at::kBFloat16)));
    auto rotated = hypenet::norm_rotary(*norm, x, &rope);
    CHECK(rotated.scalar_type() == at::kBFloat16);
    CHECK(at::equal(rotated, ops::rotary_reference(plain.to(at::kBFloat16), rope.cos, rope.sin)));
    at::NoGradGuard no_grad;
    CHECK(norm->forward(x).scalar_type() == at::kFloat);
    CHECK(hypenet::norm_rotary(*norm, x, &rope).scalar_type() == at::kFloat);
  }
  CHECK(at::equal(norm->forward(x), plain));
  CHECK(at::equal(hypenet::norm_rotary(*norm, x, &rope),
                  ops::rotary_reference(plain, rope.cos, rope.sin)));
}
