// decode_attention (ops/decode_attention) on the CPU: its ATen reference against
// scaled_dot_product_attention in float64 row by row (GQA, per-row logit scale, rows taken out of
// order, ragged lengths, lengths past the capacity clamped, a row outside the cache giving 0),
// and the argument checks' messages.
#include <catch2/catch.hpp>

#include "ops/decode_attention/decode_attention.h"

#include <ATen/ATen.h>

using halo::ops::decode_attention;
using halo::ops::decode_attention_reference;

namespace {

// o[b] by SDPA over the first len keys of cache row rows[b] (float64), 0 for an empty row.
at::Tensor sdpa_rows(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const std::vector<int64_t>& rows, const std::vector<int64_t>& lens,
                     double scale, const std::vector<double>& qs) {
  std::vector<at::Tensor> outs;
  for (size_t b = 0; b < rows.size(); ++b) {
    const int64_t len = std::min(lens[b], k.size(1));
    if (rows[b] < 0 || rows[b] >= k.size(0) || len <= 0) {
      outs.push_back(at::zeros({q.size(1), q.size(2)}, at::kDouble));
      continue;
    }
    auto Q = q[b].to(at::kDouble).unsqueeze(0).unsqueeze(2);                // [1, Hq, 1, D]
    auto K = k[rows[b]].narrow(0, 0, len).to(at::kDouble).transpose(0, 1);  // [Hkv, len, D]
    auto V = v[rows[b]].narrow(0, 0, len).to(at::kDouble).transpose(0, 1);
    auto o = at::scaled_dot_product_attention(Q, K.unsqueeze(0), V.unsqueeze(0), std::nullopt, 0.0,
                                              false, scale * qs[b], /*enable_gqa=*/true);
    outs.push_back(o.squeeze(0).squeeze(1));  // [Hq, D]
  }
  return at::stack(outs);
}

}  // namespace

TEST_CASE("decode attention reference equals SDPA row by row", "[ops][decode_attention]") {
  at::manual_seed(3);
  const int64_t R = 4, C = 50, Hkv = 2, D = 16;
  for (int64_t G : {1, 3}) {
    const int64_t Hq = Hkv * G;
    auto k = at::randn({R, C, Hkv, D}, at::kFloat);
    auto v = at::randn({R, C, Hkv, D}, at::kFloat);
    std::vector<int64_t> rows = {2, 0, 3, 1, 7}, lens = {1, 50, 17, 80, 5};
    std::vector<double> qs = {1.0, 1.5, 0.5, 2.0, 1.0};
    auto q = at::randn({5, Hq, D}, at::kFloat) * 2.0;
    const double scale = 1.0 / std::sqrt(double(D));
    auto got = decode_attention(q, k, v, at::tensor(rows), at::tensor(lens), scale,
                                at::tensor(std::vector<float>(qs.begin(), qs.end())));
    auto want = sdpa_rows(q, k, v, rows, lens, scale, qs);
    INFO("G " << G);
    CHECK(got.sizes() == q.sizes());
    CHECK(got.scalar_type() == at::kFloat);
    CHECK(at::allclose(got.to(at::kDouble), want, 1e-5, 1e-5));
    CHECK(at::equal(got[4], at::zeros_like(got[4])));  // row 7 is outside the cache
    // float64 in, float64 math out.
    auto got64 = decode_attention_reference(q.to(at::kDouble), k.to(at::kDouble), v.to(at::kDouble),
                                            at::tensor(rows), at::tensor(lens), scale,
                                            at::tensor(std::vector<float>(qs.begin(), qs.end())));
    CHECK(at::allclose(got64, want, 1e-6, 1e-6));
  }
}

TEST_CASE("decode attention names the argument it refuses", "[ops][decode_attention]") {
  auto k = at::zeros({2, 8, 2, 16});
  auto q = at::zeros({3, 4, 16});
  auto rows = at::zeros({3}, at::kLong), lens = at::ones({3}, at::kLong);
  auto fails_with = [](auto&& f, const std::string& text) {
    try {
      f();
    } catch (const std::exception& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(text) != std::string::npos);
      return;
    }
    FAIL("no error; expected one containing \"" << text << "\"");
  };
  fails_with(
      [&] {
        decode_attention(q.view({3, 64}), k, k, rows, lens, 1.0);
      },
      "q must be [N, Hq, D]");
  fails_with(
      [&] {
        decode_attention(at::zeros({3, 3, 16}), k, k, rows, lens, 1.0);
      },
      "must be a multiple of the caches' 2 KV heads");
  fails_with([&] { decode_attention(q, k, k, rows.to(at::kInt), lens, 1.0); },
             "rows must be int64 [N] = [3]");
  fails_with([&] { decode_attention(q, k, k, rows, lens.narrow(0, 0, 2), 1.0); },
             "seqlens must be int64 [N] = [3]");
  fails_with([&] { decode_attention(q, k, k.to(at::kDouble), rows, lens, 1.0); },
             "must share a dtype");
  fails_with([&] { decode_attention(q, k, k, rows, lens, 1.0, at::ones({2})); },
             "query_scale must be float32 or float64 with N = 3");
  fails_with([&] { decode_attention(q, k, k, rows, lens, 1.0, {}, -1); }, "splits must be >= 0");
}
