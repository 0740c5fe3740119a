// [cuda] The chunked losses on the GPU against the float64 CPU computation: float32 and bfloat16
// inputs, a last partial chunk and masked rows, value and gradients (the same ATen path as on
// the CPU; this checks that every temporary lands on the inputs' device and dtype), and the
// peak memory of a larger problem against one full float32 logits tensor.
#include <catch2/catch.hpp>

#include "halo/losses/chunked_cross_entropy.h"
#include "halo/losses/chunked_kl.h"
#include "tests/test_util.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <torch/autograd.h>

#include <cmath>

using namespace halo;

TEST_CASE("chunked KL and cross-entropy on CUDA match float64 on the CPU", "[cuda][losses]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(77);
  const int64_t N = 301, V = 1003, D = 64, chunk = 128;  // last chunk: 45 rows
  auto sh = at::randn({N, D}, gen, at::kDouble), sw = at::randn({V, D}, gen, at::kDouble) * 0.3;
  auto th = at::randn({N, D}, gen, at::kDouble), tw = at::randn({V, D}, gen, at::kDouble) * 0.3;
  auto mask = at::rand({N}, gen, at::kDouble) > 0.2;
  auto labels = at::randint(V, {N}, gen, at::kLong);
  const double norm = mask.sum().item<double>();
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    CAPTURE(dt);
    // float64 reference on the same rounded inputs.
    auto r = [&](const at::Tensor& x) { return x.to(dt).to(at::kDouble); };
    auto rsh = r(sh).requires_grad_(true), rsw = r(sw).requires_grad_(true);
    auto ls = at::log_softmax(at::mm(rsh, rsw.t()), 1);
    auto lt = at::log_softmax(at::mm(r(th), r(tw).t()), 1);
    auto w = mask.to(at::kDouble);
    auto kl_ref = ((lt.exp() * (lt - ls)).sum(1) * w).sum() / norm;
    auto ce_ref = (-ls.gather(1, labels.unsqueeze(1)).squeeze(1) * w).sum() / norm;
    auto [gsh, gsw] = [&] {
      auto g = torch::autograd::grad({kl_ref + ce_ref}, {rsh, rsw});
      return std::make_pair(g[0], g[1]);
    }();

    auto csh = sh.to(dt).cuda().requires_grad_(true), csw = sw.to(dt).cuda().requires_grad_(true);
    auto kl = losses::chunked_kl_loss(csh, csw, th.to(dt).cuda(), tw.to(dt).cuda(), mask.cuda(),
                                      chunk, norm);
    auto ce = losses::chunked_cross_entropy_loss(csh, csw, labels.cuda(), mask.cuda(), chunk, norm);
    REQUIRE(kl.is_cuda());
    REQUIRE(kl.scalar_type() == at::kFloat);
    (kl + ce).backward();
    const double tol = dt == at::kFloat ? 1e-4 : 3e-2;
    CHECK(std::abs(kl.item<double>() - kl_ref.item<double>()) <= tol * kl_ref.item<double>());
    CHECK(std::abs(ce.item<double>() - ce_ref.item<double>()) <= tol * ce_ref.item<double>());
    CHECK(test::max_rel_error(csh.grad().cpu(), gsh) <= tol);
    CHECK(test::max_rel_error(csw.grad().cpu(), gsw) <= tol);
  }
}

TEST_CASE("chunked KL on CUDA never holds a full [N, V] float32 logits tensor", "[cuda][losses]") {
  namespace alloc = c10::cuda::CUDACachingAllocator;
  const int64_t N = 4096, V = 32000, D = 256, chunk = N / 32;
  auto opts = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  auto sh = at::randn({N, D}, opts).requires_grad_(true);
  auto sw = (at::randn({V, D}, opts) * 0.05).requires_grad_(true);
  auto th = at::randn({N, D}, opts), tw = at::randn({V, D}, opts) * 0.05;
  auto mask = at::ones({N}, opts.dtype(at::kBool));
  c10::cuda::device_synchronize();
  const auto device = sh.device().index();
  const int64_t before = alloc::getDeviceStats(device).allocated_bytes[0].current;
  alloc::resetPeakStats(device);
  auto loss = losses::chunked_kl_loss(sh, sw, th, tw, mask, chunk, double(N));
  loss.backward();
  c10::cuda::device_synchronize();
  const int64_t peak = alloc::getDeviceStats(device).allocated_bytes[0].peak - before;
  const int64_t full_logits = N * V * 4;  // one float32 [N, V] tensor: 524 MB
  INFO("peak extra bytes " << peak << ", one full float32 logits tensor " << full_logits);
  // A handful of [chunk, V] buffers (chunk = N/32) plus the float32 head-gradient accumulator.
  CHECK(peak < full_logits / 2);
  CHECK(std::isfinite(loss.item<double>()));
}
