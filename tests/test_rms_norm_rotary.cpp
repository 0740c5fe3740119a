// rms_norm_rotary (ops/rms_norm_rotary) on the CPU: its reference against the unfused path of the
// attention layers (ops::rms_norm_reference, then hypenet::apply_rotary on hypenet::rotary_tables)
// with per-token [T, d] and per-row [B, T, d] tables at arbitrary positions, float32 and
// bfloat16; the dispatcher's unfused path (bfloat16 x with float32 weight and tables under
// autocast, gradients); the argument checks' messages.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "hypenet/rotary.h"
#include "ops/rms_norm/rms_norm.h"
#include "ops/rms_norm_rotary/rms_norm_rotary.h"
#include "tests/require_halo_error.h"
#include "tests/test_util.h"

#include <torch/autograd.h>

using namespace halo;
using Catch::Matchers::Contains;

TEST_CASE("rms_norm_rotary reference is rms_norm_reference then apply_rotary",
          "[ops][rms_norm_rotary]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(41);
  const int64_t B = 2, T = 5, H = 3;
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    for (int64_t d : {8, 64, 128}) {
      // Positions out of order and far apart; [T] shared by the batch, [B, T] per row, and
      // [1, T] (a [1, T, d] table broadcast over the batch).
      std::vector<at::Tensor> positions = {
          at::tensor(std::vector<int64_t>{7, 3, 1000, 0, 42}),
          at::randint(0, 40000, {B, T}, gen, at::kLong),
          at::randint(0, 40000, {1, T}, gen, at::kLong)};
      for (const auto& pos : positions) {
        INFO("dtype " << dt << " d " << d << " positions " << pos.sizes());
        auto tables = hypenet::rotary_tables(pos, d, 1e6, dt);
        auto x = (at::randn({B, T, H, d}, gen) * 3.0).to(dt);
        auto w = (at::randn({d}, gen) * 0.5 + 1.0).to(dt);
        auto unfused = hypenet::apply_rotary(ops::rms_norm_reference(x, w, 1e-6), tables);
        auto ref = ops::rms_norm_rotary_reference(x, w, 1e-6, tables.cos, tables.sin);
        REQUIRE(ref.scalar_type() == dt);
        REQUIRE(ref.sizes() == x.sizes());
        CHECK(at::equal(ref, unfused));
        // The dispatcher on the CPU runs the same two steps.
        CHECK(at::equal(ops::rms_norm_rotary(x, w, 1e-6, tables.cos, tables.sin), unfused));
        // Also for a strided x (a head slice of a fused projection).
        auto wide = (at::randn({B, T, H + 2, d}, gen) * 3.0).to(dt);
        auto xs = wide.narrow(2, 1, H);
        CHECK(at::equal(ops::rms_norm_rotary(xs, w, 1e-6, tables.cos, tables.sin),
                        hypenet::apply_rotary(ops::rms_norm_reference(xs, w, 1e-6), tables)));
      }
    }
  }
}

TEST_CASE("rms_norm_rotary without the kernel is the unfused path, autocast and gradients "
          "included",
          "[ops][rms_norm_rotary]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(42);
  const int64_t B = 2, T = 4, H = 3, d = 16;
  auto pos = at::randint(0, 5000, {B, T}, gen, at::kLong);
  SECTION("bfloat16 q with float32 weight and tables under autocast, with gradients") {
    // A float32 student under bfloat16 autocast. Since e650fbd the ops apply no autocast policy
    // (the model's RMSNorm module does, hypenet::RMSNormImpl::forward): ops::rms_norm returns
    // what it returns outside autocast, float32 here (a bfloat16 x times a float32 weight), and
    // the fused op must return the same dtype and values.
    auto tables = hypenet::rotary_tables(pos, d, 1e6, at::kFloat);
    auto x0 = (at::randn({B, T, H, d}, gen) * 2.0).to(at::kBFloat16);
    auto w0 = at::randn({d}, gen) * 0.5 + 1.0;
    auto probe = at::randn({B, T, H, d}, gen);
    auto xa = x0.clone().requires_grad_(true), wa = w0.clone().requires_grad_(true);
    auto xb = x0.clone().requires_grad_(true), wb = w0.clone().requires_grad_(true);
    at::Tensor got, want;
    {
      test::Autocast autocast(at::kCPU);
      got = ops::rms_norm_rotary(xa, wa, 1e-6, tables.cos, tables.sin);
      want = hypenet::apply_rotary(ops::rms_norm(xb, wb, 1e-6), tables);
    }
    REQUIRE(got.scalar_type() == want.scalar_type());
    CHECK(got.scalar_type() == at::kFloat);
    CHECK(got.scalar_type() == ops::rms_norm_rotary(x0, w0, 1e-6, tables.cos, tables.sin)
                                   .scalar_type());  // the same outside autocast
    CHECK(at::equal(got, want));
    (got.to(at::kFloat) * probe).sum().backward();
    (want.to(at::kFloat) * probe).sum().backward();
    CHECK(at::equal(xa.grad(), xb.grad()));
    CHECK(at::equal(wa.grad(), wb.grad()));
  }
  SECTION("float64 gradients against central differences") {
    auto tables = hypenet::rotary_tables(pos, d, 1e4, at::kDouble);
    auto x = at::randn({B, T, H, d}, gen, at::kDouble).requires_grad_(true);
    auto w = (at::randn({d}, gen, at::kDouble) * 0.5 + 1.0).requires_grad_(true);
    auto probe = at::randn({B, T, H, d}, gen, at::kDouble);
    auto loss = [&] {
      return (ops::rms_norm_rotary(x, w, 1e-6, tables.cos, tables.sin) * probe).sum();
    };
    auto grads = torch::autograd::grad({loss()}, {x, w});
    const double h = 1e-6;
    for (int which = 0; which < 2; ++which) {
      auto flat = (which == 0 ? x : w).detach().view(-1);
      for (int64_t i = 0; i < flat.numel(); i += 7) {
        at::NoGradGuard ng;
        const double orig = flat[i].item<double>();
        flat[i] = orig + h;
        const double up = loss().item<double>();
        flat[i] = orig - h;
        const double down = loss().item<double>();
        flat[i] = orig;
        CHECK(grads[which].view(-1)[i].item<double>() ==
              Approx((up - down) / (2 * h)).epsilon(1e-6).margin(1e-8));
      }
    }
  }
}

TEST_CASE("rms_norm_rotary argument checks name the argument and the expected shape",
          "[ops][rms_norm_rotary]") {
  const int64_t B = 2, T = 3, H = 4, d = 8;
  auto x = at::randn({B, T, H, d});
  auto w = at::ones({d});
  auto tables = hypenet::rotary_tables(at::arange(T), d, 1e6, at::kFloat);
  const auto &cos = tables.cos, &sin = tables.sin;
  REQUIRE_NOTHROW(ops::rms_norm_rotary(x, w, 1e-6, cos, sin));

  REQUIRE_HALO_ERROR(ops::rms_norm_rotary(x.view({B, T, H * d}), w, 1e-6, cos, sin),
                     Contains("x must be [B, T, H, d]"));
  REQUIRE_HALO_ERROR(ops::rms_norm_rotary(at::randn({B, T, H, 7}), at::ones({7}), 1e-6,
                                          at::ones({T, 7}), at::ones({T, 7})),
                     Contains("must be even") && Contains("[2, 3, 4, 7]"));
  REQUIRE_HALO_ERROR(ops::rms_norm_rotary(x, at::ones({d + 1}), 1e-6, cos, sin),
                     Contains("weight must be [d] = [8]") && Contains("got [9]"));
  REQUIRE_HALO_ERROR(ops::rms_norm_rotary(x, at::ones({1, d}), 1e-6, cos, sin),
                     Contains("weight must be [d] = [8]"));
  REQUIRE_HALO_ERROR(ops::rms_norm_rotary(x, w, 1e-6, cos, sin.narrow(0, 0, T - 1)),
                     Contains("cos and sin must have the same shape") && Contains("[3, 8]") &&
                         Contains("[2, 8]"));
  auto bad_t = hypenet::rotary_tables(at::arange(T + 1), d, 1e6, at::kFloat);
  REQUIRE_HALO_ERROR(ops::rms_norm_rotary(x, w, 1e-6, bad_t.cos, bad_t.sin),
                     Contains("cos and sin must be [T, d] = [3, 8] or [B, T, d] = [2, 3, 8]") &&
                         Contains("got [4, 8]"));
  auto bad_b = hypenet::rotary_tables(at::zeros({B + 1, T}, at::kLong), d, 1e6, at::kFloat);
  REQUIRE_HALO_ERROR(ops::rms_norm_rotary(x, w, 1e-6, bad_b.cos, bad_b.sin),
                     Contains("[B, T, d] = [2, 3, 8]") && Contains("got [3, 3, 8]"));
  auto bad_d = hypenet::rotary_tables(at::arange(T), d * 2, 1e6, at::kFloat);
  REQUIRE_HALO_ERROR(ops::rms_norm_rotary(x, w, 1e-6, bad_d.cos, bad_d.sin),
                     Contains("got [3, 16]"));
  REQUIRE_HALO_ERROR(ops::rms_norm_rotary(x, w, 1e-6, cos, at::Tensor()),
                     Contains("x, weight, cos and sin are required"));
}
