// [cuda] The split-KV decode attention kernels (ops/decode_attention) against the float64
// reference on the same values: contexts 1, 63, 64, 65, 4095 and 100000 (slice and warp-block
// edges), ragged lengths and rows out of order in one batch, GQA groups 1, 2, 4, 8, head dims 64
// and 128, bfloat16 / float16 / float32 caches, forced split counts, HyPE's per-row scale, large
// logits, and lengths outside the cache.
#include <catch2/catch.hpp>

#include "ops/decode_attention/decode_attention.h"

#include <ATen/ATen.h>

using halo::ops::decode_attention;
using halo::ops::decode_attention_reference;

namespace {

struct Case {
  int64_t R, C, Hkv, G, D;
  std::vector<int64_t> rows, lens;
  at::ScalarType dtype = at::kBFloat16;
  double q_std = 1.0;
};

// Max abs error of the kernel (on CUDA, for each split setting) against the float64 reference
// of the same rounded values.
void check_case(const Case& c, const std::vector<int64_t>& splits_list = {0, 1, 7}) {
  const int64_t N = static_cast<int64_t>(c.rows.size()), Hq = c.Hkv * c.G;
  auto k = at::randn({c.R, c.C, c.Hkv, c.D}).to(c.dtype);
  auto v = at::randn({c.R, c.C, c.Hkv, c.D}).to(c.dtype);
  auto q = (at::randn({N, Hq, c.D}) * c.q_std).to(c.dtype);
  auto qs = at::rand({N}) + 0.75;  // HyPE-like factors around 1
  const double scale = 1.0 / std::sqrt(double(c.D));
  auto rows = at::tensor(c.rows), lens = at::tensor(c.lens);
  auto want = decode_attention_reference(q.to(at::kDouble), k.to(at::kDouble), v.to(at::kDouble),
                                         rows, lens, scale, qs);
  auto qc = q.cuda(), kc = k.cuda(), vc = v.cuda();
  const double tol = c.dtype == at::kFloat ? 2e-5 : (c.dtype == at::kHalf ? 4e-3 : 2e-2);
  for (int64_t splits : splits_list) {
    auto got = decode_attention(qc, kc, vc, rows.cuda(), lens.cuda(), scale, qs.cuda(), splits);
    REQUIRE(got.scalar_type() == c.dtype);
    const double err = (got.cpu().to(at::kDouble) - want).abs().max().item<double>();
    INFO("R " << c.R << " C " << c.C << " Hkv " << c.Hkv << " G " << c.G << " D " << c.D
              << " dtype " << c.dtype << " splits " << splits << " lens " << lens
              << ": max abs error " << err);
    CHECK(err <= tol);
  }
}

}  // namespace

TEST_CASE("decode attention kernel: contexts at the edges, batch 1", "[cuda][decode_attention]") {
  REQUIRE(halo::ops::decode_attention_uses_kernel(
      at::empty({1, 1, 8, 128}, at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA)), 2));
  at::manual_seed(11);
  for (int64_t len : {1, 63, 64, 65, 4095}) {
    check_case({1, 4096, 8, 2, 128, {0}, {len}});
  }
  check_case({1, 100000, 8, 2, 128, {0}, {100000}}, {0, 1, 333});
}

TEST_CASE("decode attention kernel: ragged lengths, rows out of order",
          "[cuda][decode_attention]") {
  at::manual_seed(12);
  // Rows 3, 0, 2, 5, 1 of a 6-row cache: lengths across one warp block, one slice, many slices.
  check_case({6, 4096, 8, 2, 128, {3, 0, 2, 5, 1}, {1, 64, 65, 4095, 3000}});
  check_case({6, 4096, 8, 2, 128, {3, 0, 2, 5, 1}, {1, 64, 65, 4095, 3000}, at::kHalf});
  check_case({6, 512, 4, 2, 128, {3, 0, 2, 5, 1}, {5, 511, 512, 100, 33}, at::kFloat});
}

TEST_CASE("decode attention kernel: GQA groups, head dims, large logits",
          "[cuda][decode_attention]") {
  at::manual_seed(13);
  for (int64_t G : {1, 2, 4, 8}) {
    for (int64_t D : {64, 128}) {
      check_case({3, 700, 4, G, D, {2, 1, 0}, {700, 1, 257}});
    }
  }
  check_case({2, 2048, 8, 4, 128, {1, 0}, {2048, 999}, at::kBFloat16, /*q_std=*/8.0});
  check_case({2, 2048, 8, 4, 128, {1, 0}, {2048, 999}, at::kFloat, /*q_std=*/8.0});
}

TEST_CASE("decode attention kernel: lengths and rows outside the cache",
          "[cuda][decode_attention]") {
  at::manual_seed(14);
  // Length 0 and a row past the cache give 0; a length past the capacity reads the whole row.
  check_case({3, 300, 8, 2, 128, {0, 9, 1, 2}, {0, 10, 5000, 300}});
}
