// [cuda] The decode linear kernel (ops/decode_linear) against float64 and against cuBLAS's
// at::linear in the same dtype: 1-8 rows, bf16 and fp16, with and without a bias, odd output
// sizes, the largest shared-memory case, rows that are a strided view, every output written
// (NaN-poisoned allocator); and the cases that must take at::linear instead.
#include <catch2/catch.hpp>

#include "ops/decode_linear/decode_linear.h"
#include "tests/test_util.h"

#include <c10/core/InferenceMode.h>

using namespace halo;

namespace {
// The kernel is off by default (decode_linear.h); each test switches it on and restores it.
struct KernelOn {
  bool before = ops::decode_linear_kernel_enabled();
  KernelOn() { ops::set_decode_linear_kernel_enabled(true); }
  ~KernelOn() { ops::set_decode_linear_kernel_enabled(before); }
};

void poison_allocator() {
  auto big = at::full({64 << 20}, std::numeric_limits<float>::quiet_NaN(),
                      at::TensorOptions().device(at::kCUDA));
  big.reset();
}
}  // namespace

TEST_CASE("decode_linear kernel matches float64 and cuBLAS", "[cuda][ops][decode_linear]") {
  KernelOn on;
  c10::InferenceMode guard;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(31);
  struct Shape {
    int64_t rows, in, out;
  };
  // Qwen3-1.7B's products (q 2048, kv 1024, fused qkv+gate 6144, gate+up 12288, down from 6144),
  // odd sizes, and 8 x 8192 (128 KiB of x in shared memory, the most the kernel takes).
  const std::vector<Shape> shapes = {
      {1, 2048, 2048},  {1, 2048, 1024}, {1, 2048, 6144}, {1, 2048, 12288}, {1, 6144, 2048},
      {1, 2048, 50001}, {2, 8, 5},       {3, 24, 1003},   {4, 2048, 2048},  {5, 6144, 2048},
      {7, 1024, 777},   {8, 6144, 2048}, {8, 8192, 513}};
  for (auto dtype : {at::kBFloat16, at::kHalf}) {
    for (const auto& s : shapes) {
      for (bool with_bias : {false, true}) {
        INFO("dtype " << dtype << " rows " << s.rows << " in " << s.in << " out " << s.out
                      << " bias " << with_bias);
        auto x = at::randn({s.rows, s.in}, gen).to(dtype).cuda();
        auto w = (at::randn({s.out, s.in}, gen) / std::sqrt(double(s.in))).to(dtype).cuda();
        auto b = with_bias ? at::randn({s.out}, gen).to(dtype).cuda() : at::Tensor();
        REQUIRE(ops::decode_linear_uses_kernel(x, w, b));
        auto ref = ops::decode_linear_reference(x.to(at::kDouble), w.to(at::kDouble),
                                                with_bias ? b.to(at::kDouble) : at::Tensor());
        poison_allocator();
        auto got = ops::decode_linear(x, w, b);
        REQUIRE(got.scalar_type() == dtype);
        REQUIRE(got.sizes() == ref.sizes());
        CHECK(got.isfinite().all().item<bool>());
        // The one rounding of the output (bf16: 2^-8 relative) plus float32 sums in another order.
        const double tol = dtype == at::kBFloat16 ? 8e-3 : 1e-3;
        CHECK(test::max_rel_error(got, ref) <= tol);
        auto cublas = ops::decode_linear_reference(x, w, b);
        CHECK(test::max_rel_error(got, cublas.to(at::kDouble)) <= tol);
      }
    }
  }
}

TEST_CASE("decode_linear kernel takes strided and batched rows", "[cuda][ops][decode_linear]") {
  KernelOn on;
  c10::InferenceMode guard;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(32);
  auto w = (at::randn({300, 512}, gen) * 0.05).to(at::kBFloat16).cuda();
  // Rows of a wider product ([4, 528] narrowed to its first 512 columns: row stride 528).
  auto wide = at::randn({4, 528}, gen).to(at::kBFloat16).cuda();
  auto x = wide.narrow(1, 0, 512);
  REQUIRE(!x.is_contiguous());
  REQUIRE(ops::decode_linear_uses_kernel(x, w, {}));
  auto ref = ops::decode_linear_reference(x.to(at::kDouble), w.to(at::kDouble), {});
  CHECK(test::max_rel_error(ops::decode_linear(x, w, {}), ref) <= 8e-3);
  // [B, T, in] with B * T = 6 rows: the result keeps the leading dims.
  auto x3 = at::randn({3, 2, 512}, gen).to(at::kBFloat16).cuda();
  REQUIRE(ops::decode_linear_uses_kernel(x3, w, {}));
  auto y3 = ops::decode_linear(x3, w, {});
  REQUIRE(y3.sizes() == at::IntArrayRef({3, 2, 300}));
  CHECK(test::max_rel_error(
            y3, ops::decode_linear_reference(x3.to(at::kDouble), w.to(at::kDouble), {})) <= 8e-3);
}

TEST_CASE("decode_linear leaves everything else to at::linear", "[cuda][ops][decode_linear]") {
  KernelOn on;
  auto opts = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  auto w = at::randn({64, 512}, opts);
  CHECK_FALSE(ops::decode_linear_uses_kernel(at::randn({9, 512}, opts), w, {}));  // > 8 rows
  CHECK_FALSE(ops::decode_linear_uses_kernel(at::randn({1, 512}, opts.dtype(at::kFloat)),
                                             w.to(at::kFloat), {}));  // float32
  CHECK_FALSE(ops::decode_linear_uses_kernel(at::randn({1, 12}, opts), at::randn({64, 12}, opts),
                                             {}));  // in not a multiple of 8
  CHECK_FALSE(ops::decode_linear_uses_kernel(at::randn({8, 8200}, opts), at::randn({4, 8200}, opts),
                                             {}));  // > 128 KiB of x
  CHECK_FALSE(ops::decode_linear_uses_kernel(at::randn({1, 512}, opts), w.t().contiguous().t(),
                                             {}));  // a transposed weight
  CHECK_FALSE(ops::decode_linear_uses_kernel(at::randn({1, 512}).to(at::kBFloat16), w.cpu(), {}));
  {
    at::AutoGradMode grad(true);  // a gradient to compute: at::linear, differentiable
    auto x = at::randn({1, 512}, opts).requires_grad_();
    CHECK_FALSE(ops::decode_linear_uses_kernel(x, w, {}));
    auto y = ops::decode_linear(x, w, {});
    y.sum().backward();
    CHECK(x.grad().defined());
  }
  ops::set_decode_linear_kernel_enabled(false);
  CHECK_FALSE(ops::decode_linear_uses_kernel(at::randn({1, 512}, opts), w, {}));
  ops::set_decode_linear_kernel_enabled(true);
  CHECK(ops::decode_linear_uses_kernel(at::randn({1, 512}, opts), w, {}));
}
