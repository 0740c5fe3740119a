// [cuda] The fused RMSNorm + rotary kernel (ops/rms_norm_rotary) against the unfused path the
// attention layers run on a GPU (ops::rms_norm's kernel, then hypenet::apply_rotary's ATen ops),
// compared bitwise (at::equal): bfloat16, float16 and float32, head dims 8 to 256, decode and
// prefill shapes, per-token [T, d] and per-row [B, T, d] tables, strided views of x read in
// place, views that need a copy, misaligned x, weight and tables (the scalar paths), and outputs
// that must all be written (the allocator's memory is poisoned with NaN first).
#include <catch2/catch.hpp>

#include "hypenet/rotary.h"
#include "ops/rms_norm/rms_norm.h"
#include "ops/rms_norm_rotary/rms_norm_rotary.h"
#include "tests/test_util.h"

#include <vector>

using namespace halo;

namespace {

// What the attention layers compute today: q_norm / k_norm, then apply_rotary.
at::Tensor unfused(const at::Tensor& x, const at::Tensor& w, double eps, const at::Tensor& cos,
                   const at::Tensor& sin) {
  return hypenet::apply_rotary(ops::rms_norm(x, w, eps), hypenet::RotaryTables{cos, sin});
}

// Positions for B rows of T tokens: [T] (shared) or [B, T] (per row), far apart and unordered.
at::Tensor positions(int64_t B, int64_t T, bool per_row, at::Generator& gen) {
  auto shape = per_row ? std::vector<int64_t>{B, T} : std::vector<int64_t>{T};
  return at::randint(0, 40000, shape, gen, at::kLong).cuda();
}

// The kernel's result on x against the unfused path, bitwise, and both near the float32 CPU
// reference of the same rounded inputs (so a shared mistake would still show).
void check_bitwise(const at::Tensor& x, const at::Tensor& w, const at::Tensor& cos,
                   const at::Tensor& sin) {
  REQUIRE(ops::rms_norm_rotary_uses_kernel(x));
  auto want = unfused(x, w, 1e-6, cos, sin);
  test::poison_cuda_allocator();
  auto got = ops::rms_norm_rotary(x, w, 1e-6, cos, sin);
  REQUIRE(got.scalar_type() == x.scalar_type());
  REQUIRE(got.sizes() == x.sizes());
  CHECK(got.isfinite().all().item<bool>());
  CHECK(at::equal(got, want));
  if (!at::equal(got, want)) {
    auto diff = (got.to(at::kFloat) - want.to(at::kFloat)).abs();
    INFO("mismatches " << diff.ne(0).sum().item<int64_t>() << " of " << diff.numel()
                       << ", max abs diff " << diff.max().item<float>());
    CHECK(false);
  }
  const auto dt = x.scalar_type();
  auto ref = ops::rms_norm_rotary_reference(x.cpu().to(at::kFloat), w.cpu().to(at::kFloat), 1e-6,
                                            cos.cpu().to(at::kFloat), sin.cpu().to(at::kFloat));
  // float32: the reduction order; half types: the roundings of the norm and the rotation.
  const double tol = dt == at::kFloat ? 1e-5 : (dt == at::kBFloat16 ? 3e-2 : 4e-3);
  CHECK(test::max_rel_error(got.cpu(), ref) <= tol);
}

}  // namespace

TEST_CASE("rms_norm_rotary CUDA kernel is bitwise the unfused path",
          "[cuda][rms_norm_rotary]") {
  c10::InferenceMode guard;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(51);
  const std::vector<std::vector<int64_t>> shapes = {
      {1, 1, 16, 128}, {1, 1, 8, 64},  {3, 1, 8, 128}, {3, 1, 8, 64},  // decode
      {2, 37, 4, 64},  {2, 37, 4, 128}, {1, 300, 16, 128},             // prefill
      {2, 3, 5, 8},    {2, 3, 5, 10},  {2, 3, 5, 256},  {1, 7, 3, 2}};  // head dim edges
  for (auto dtype : {at::kBFloat16, at::kHalf, at::kFloat}) {
    for (const auto& s : shapes) {
      const int64_t B = s[0], T = s[1], d = s[3];
      for (bool per_row : {false, true}) {
        INFO("dtype " << dtype << " x " << at::IntArrayRef(s) << " per-row tables " << per_row);
        auto tables = hypenet::rotary_tables(positions(B, T, per_row, gen), d, 1e6, dtype);
        auto x = (at::randn(s, gen) * 3.0).to(dtype).cuda();
        auto w = (at::randn({d}, gen) * 0.5 + 1.0).to(dtype).cuda();
        check_bitwise(x, w, tables.cos, tables.sin);
      }
    }
  }
}

TEST_CASE("rms_norm_rotary CUDA kernel on strided and misaligned inputs is bitwise the unfused "
          "path",
          "[cuda][rms_norm_rotary]") {
  c10::InferenceMode guard;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(52);
  for (auto dtype : {at::kBFloat16, at::kHalf, at::kFloat}) {
    for (int64_t d : {64, 128}) {
      const int64_t B = 2, T = 5, H = 4, Hkv = 2;
      auto opts = at::TensorOptions().dtype(dtype).device(at::kCUDA);
      auto tables = hypenet::rotary_tables(positions(B, T, true, gen), d, 1e6, dtype);
      auto w = (at::randn({d}, gen) * 0.5 + 1.0).to(opts);
      auto randn = [&](at::IntArrayRef shape) { return (at::randn(shape, gen) * 3.0).to(opts); };
      INFO("dtype " << dtype << " d " << d);
      {
        INFO("q and k heads of a fused qkv projection (read in place)");
        auto qkv = randn({B, T, (H + 2 * Hkv) * d}).view({B, T, H + 2 * Hkv, d});
        auto q = qkv.narrow(2, 0, H), k = qkv.narrow(2, H, Hkv);
        REQUIRE(!q.is_contiguous());
        check_bitwise(q, w, tables.cos, tables.sin);
        check_bitwise(k, w, tables.cos, tables.sin);
      }
      {
        INFO("a [B, H, T, d] tensor transposed to [B, T, H, d] (read in place)");
        check_bitwise(randn({B, H, T, d}).transpose(1, 2), w, tables.cos, tables.sin);
      }
      {
        INFO("a padded head dim (rows not on 16 bytes: a contiguous copy)");
        check_bitwise(randn({B, T, H, d + 2}).narrow(3, 0, d), w, tables.cos, tables.sin);
      }
      {
        INFO("a contiguous x off 16 bytes (the scalar path, as rms_norm's)");
        auto x = randn({B * T * H * d + 1}).narrow(0, 1, B * T * H * d).view({B, T, H, d});
        check_bitwise(x, w, tables.cos, tables.sin);
      }
      {
        INFO("a weight off 16 bytes (the scalar path, as rms_norm's)");
        auto wm = (at::randn({d + 1}, gen) * 0.5 + 1.0).to(opts).narrow(0, 1, d);
        check_bitwise(randn({B, T, H, d}), wm, tables.cos, tables.sin);
      }
      {
        INFO("tables off 16 bytes (scalar table loads, vector x)");
        auto wide_cos = at::cat({tables.cos.flatten(), tables.cos.flatten().narrow(0, 0, 1)});
        auto wide_sin = at::cat({tables.sin.flatten(), tables.sin.flatten().narrow(0, 0, 1)});
        auto cos = wide_cos.narrow(0, 1, B * T * d).view({B, T, d});
        auto sin = wide_sin.narrow(0, 1, B * T * d).view({B, T, d});
        check_bitwise(randn({B, T, H, d}), w, cos, sin);
      }
      {
        INFO("a [1, T, d] table broadcast over the batch");
        check_bitwise(randn({B, T, H, d}), w, tables.cos.narrow(0, 1, 1),
                      tables.sin.narrow(0, 1, 1));
      }
    }
  }
}

TEST_CASE("rms_norm_rotary on CUDA outside the kernel is the unfused path",
          "[cuda][rms_norm_rotary]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(53);
  const int64_t B = 2, T = 3, H = 2;
  SECTION("head dim over 256") {
    c10::InferenceMode guard;
    auto x = at::randn({B, T, H, 258}, gen).to(at::kBFloat16).cuda();
    auto w = at::randn({258}, gen).to(at::kBFloat16).cuda();
    auto tables = hypenet::rotary_tables(at::arange(T).cuda(), 258, 1e6, at::kBFloat16);
    CHECK(!ops::rms_norm_rotary_uses_kernel(x));
    CHECK(at::equal(ops::rms_norm_rotary(x, w, 1e-6, tables.cos, tables.sin),
                    unfused(x, w, 1e-6, tables.cos, tables.sin)));
  }
  SECTION("bfloat16 x with a float32 weight and float32 tables") {
    c10::InferenceMode guard;
    auto x = at::randn({B, T, H, 64}, gen).to(at::kBFloat16).cuda();
    auto w = at::randn({64}, gen).cuda();
    auto tables = hypenet::rotary_tables(at::arange(T).cuda(), 64, 1e6, at::kFloat);
    CHECK(ops::rms_norm_rotary_uses_kernel(x));
    auto got = ops::rms_norm_rotary(x, w, 1e-6, tables.cos, tables.sin);
    auto want = unfused(x, w, 1e-6, tables.cos, tables.sin);
    CHECK(got.scalar_type() == want.scalar_type());
    CHECK(at::equal(got, want));
  }
  SECTION("x that needs a gradient") {
    auto x = at::randn({B, T, H, 64}, gen).cuda().requires_grad_(true);
    auto w = at::randn({64}, gen).cuda();
    auto tables = hypenet::rotary_tables(at::arange(T).cuda(), 64, 1e6, at::kFloat);
    CHECK(!ops::rms_norm_rotary_uses_kernel(x));
    auto got = ops::rms_norm_rotary(x, w, 1e-6, tables.cos, tables.sin);
    CHECK(got.requires_grad());
    CHECK(at::equal(got, unfused(x, w, 1e-6, tables.cos, tables.sin)));
  }
}
