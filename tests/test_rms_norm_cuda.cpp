// [cuda] The fused RMSNorm kernels against the ATen reference: float32, bfloat16 and float16,
// odd row and column counts (vector and scalar paths; block-per-row and warp-per-row kernels),
// non-16-byte-aligned inputs, and outputs that must all be written (the allocator's memory is
// poisoned with NaN first).
#include <catch2/catch.hpp>

#include "hypenet/rms_norm.h"
#include "ops/rms_norm/rms_norm.h"
#include "ops/rms_norm/rms_norm_row_block.h"
#include "tests/test_util.h"

#include <c10/cuda/CUDACachingAllocator.h>

using namespace halo;

namespace {
// Fills free allocator memory with NaN so an output element the kernel forgets stays NaN.
void poison_allocator() {
  auto big = at::full({64 << 20}, std::numeric_limits<float>::quiet_NaN(),
                      at::TensorOptions().device(at::kCUDA));
  big.reset();
}
}  // namespace

TEST_CASE("rms_norm CUDA kernel matches the reference", "[cuda][ops][rms_norm]") {
  REQUIRE(ops::rms_norm_has_cuda_kernel());
  c10::InferenceMode guard;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
  // Row block on: up to 264 rows of >= 1024 columns take the block-per-row kernel, more the
  // warp-per-row one; off: the warp-per-row kernel for all.
  const bool row_block_before = ops::rms_norm_row_block_enabled();
  for (bool row_block : {false, true}) {
    ops::set_rms_norm_row_block_enabled(row_block);
    for (auto dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
      for (int64_t cols : {1, 5, 8, 128, 2048, 2050, 6144}) {
        for (int64_t rows : {1, 3, 33, 264, 265, 4099}) {
          auto x = (at::randn({rows, cols}, gen) * 3.0).to(dtype);
          auto w = (at::randn({cols}, gen) * 0.5 + 1.0).to(dtype);
          auto ref = ops::rms_norm_reference(x.to(at::kFloat), w.to(at::kFloat), 1e-6);
          poison_allocator();
          auto got = ops::rms_norm(x.cuda(), w.cuda(), 1e-6).cpu();
          INFO("row block " << row_block << " dtype " << dtype << " rows " << rows << " cols "
                            << cols);
          REQUIRE(got.scalar_type() == dtype);
          CHECK(got.isfinite().all().item<bool>());
          // float32: reduction order only; half types: the two roundings of the output.
          const double tol = dtype == at::kFloat ? 1e-5 : (dtype == at::kBFloat16 ? 1.6e-2 : 2e-3);
          CHECK(test::max_rel_error(got, ref) <= tol);
          // Same-dtype ATen reference on the GPU: nearly always bit-equal, never far.
          auto same = ops::rms_norm_reference(x.cuda(), w.cuda(), 1e-6).cpu();
          CHECK(test::max_rel_error(got, same) <= tol);
        }
      }
    }
  }
  ops::set_rms_norm_row_block_enabled(row_block_before);
}

TEST_CASE("rms_norm CUDA kernel handles a misaligned view", "[cuda][ops][rms_norm]") {
  c10::InferenceMode guard;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(22);
  auto base = at::randn({10 * 129 + 1}, gen).to(at::kBFloat16).cuda();
  auto x = base.narrow(0, 1, 10 * 129).view({10, 129});  // data pointer off by 2 bytes
  auto w = at::randn({129}, gen).to(at::kBFloat16).cuda();
  auto got = ops::rms_norm(x, w, 1e-5);
  auto ref = ops::rms_norm_reference(x, w, 1e-5);
  CHECK(test::max_rel_error(got, ref) <= 1.6e-2);
}

TEST_CASE("rms_norm with gradients on CUDA (ATen's fused normalisation) matches the CPU reference",
          "[cuda][ops][rms_norm]") {
  // The training path: x needs a gradient, so rms_norm takes rms_norm_fused_normalize. float32
  // x and weight (the residual-stream norms), bfloat16 x with a float32 weight (q/k norms under
  // autocast): values and both gradients against the CPU reference.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(23);
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    for (int64_t cols : {128, 2048}) {
      INFO("dtype " << dt << " cols " << cols);
      auto x0 = (at::randn({37, cols}, gen) * 2.0).to(dt);
      auto w0 = at::randn({cols}, gen) * 0.5 + 1.0;
      auto probe = at::randn({37, cols}, gen);
      auto xr = x0.clone().requires_grad_(true), wr = w0.clone().requires_grad_(true);
      auto xg = x0.cuda().requires_grad_(true), wg = w0.cuda().requires_grad_(true);
      auto yr = ops::rms_norm_reference(xr, wr, 1e-6);
      auto yg = ops::rms_norm(xg, wg, 1e-6);
      REQUIRE(yg.scalar_type() == yr.scalar_type());
      (yr * probe).sum().backward();
      (yg * probe.cuda()).sum().backward();
      const double tol = dt == at::kFloat ? 1e-4 : 2e-2;
      CHECK(test::max_rel_error(yg.cpu().to(at::kDouble), yr.to(at::kDouble)) <= tol);
      CHECK(test::max_rel_error(xg.grad().cpu().to(at::kDouble), xr.grad().to(at::kDouble)) <= tol);
      CHECK(test::max_rel_error(wg.grad().cpu().to(at::kDouble), wr.grad().to(at::kDouble)) <=
            1e-3);
    }
  }
}

TEST_CASE("RMSNorm with gradients under CUDA autocast returns the autocast dtype",
          "[cuda][ops][rms_norm]") {
  // A float32 student's residual-stream norm under bfloat16 autocast: one bfloat16 output (the
  // matmuls it feeds would cast it anyway), float32 gradients for the float32 x and weight,
  // all close to the float32 reference. Since e650fbd the model's RMSNorm module applies that
  // policy (hypenet::RMSNormImpl::forward); the op returns float32 under autocast as outside it.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(24);
  auto x0 = at::randn({37, 2048}, gen) * 2.0;
  auto w0 = at::randn({2048}, gen) * 0.5 + 1.0;
  auto probe = at::randn({37, 2048}, gen);
  auto xr = x0.clone().requires_grad_(true), wr = w0.clone().requires_grad_(true);
  auto yr = ops::rms_norm_reference(xr, wr, 1e-6);
  (yr * probe).sum().backward();

  hypenet::RMSNorm norm(2048, 1e-6);
  norm->to(at::kCUDA);
  {
    at::NoGradGuard no_grad;
    norm->weight.copy_(w0.cuda());
  }
  auto xg = x0.cuda().requires_grad_(true);
  at::Tensor yg, op_out;
  {
    test::Autocast autocast(at::kCUDA);
    yg = norm->forward(xg);
    op_out = ops::rms_norm(xg, norm->weight, 1e-6);
  }
  REQUIRE(yg.scalar_type() == at::kBFloat16);
  CHECK(op_out.scalar_type() == at::kFloat);
  (yg.to(at::kFloat) * probe.cuda()).sum().backward();
  REQUIRE(xg.grad().scalar_type() == at::kFloat);
  CHECK(test::max_rel_error(yg.cpu().to(at::kDouble), yr.to(at::kDouble)) <= 1.6e-2);
  CHECK(test::max_rel_error(xg.grad().cpu().to(at::kDouble), xr.grad().to(at::kDouble)) <= 2e-2);
  CHECK(test::max_rel_error(norm->weight.grad().cpu().to(at::kDouble),
                            wr.grad().to(at::kDouble)) <= 1e-2);

  auto plain = norm->forward(x0.cuda().requires_grad_(true));  // no autocast: float32
  CHECK(plain.scalar_type() == at::kFloat);
}
