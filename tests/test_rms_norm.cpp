// RMSNorm op on the CPU: the reference against a float64 formula, the dispatcher on CPU, and
// gradients of the reference against central differences in float64.
#include <catch2/catch.hpp>

#include "ops/rms_norm/rms_norm.h"
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
