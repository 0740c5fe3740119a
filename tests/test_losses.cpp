// Chunked full-vocabulary losses (halo/losses) against direct float64 computations: value and
// gradients (autograd on the direct version), with a last partial chunk, masked positions,
// whole chunks masked, one-row chunks and chunks larger than N; checks that the data would
// expose the two known bugs (a dropped last chunk, padded positions counted); non-finite
// values in masked rows; the global normalizer; bfloat16 and float32 inputs; argument errors.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "halo/losses/chunked_cross_entropy.h"
#include "halo/losses/chunked_kl.h"
#include "tests/test_util.h"

#include <torch/autograd.h>

#include <limits>
#include <vector>

using namespace halo;

namespace {

// Sizes chosen so that N = 37 is no multiple of the chunk sizes tried and V, D are odd.
constexpr int64_t kN = 37, kV = 29, kD = 6;

struct KlProblem {
  at::Tensor sh, sw, th, tw;  // [N, D], [V, D], [N, D], [V, D] float64
  at::Tensor mask;            // [N] bool
  at::Tensor labels;          // [N] int64, -100 where mask is false
};

// Masked rows: every 5th row, and all of rows [8, 16) (a whole chunk when chunk = 8).
KlProblem make_problem(uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  KlProblem p;
  p.sh = at::randn({kN, kD}, gen, at::kDouble);
  p.sw = at::randn({kV, kD}, gen, at::kDouble);
  p.th = at::randn({kN, kD}, gen, at::kDouble);
  p.tw = at::randn({kV, kD}, gen, at::kDouble);
  p.mask = at::ones({kN}, at::kBool);
  for (int64_t n = 0; n < kN; n += 5) p.mask[n] = false;
  p.mask.narrow(0, 8, 8).fill_(false);
  p.labels = at::randint(kV, {kN}, gen, at::kLong);
  p.labels.masked_fill_(p.mask.logical_not(), -100);
  return p;
}

// Per-row KL(p_t || p_s) [N] in float64, straight from the definition.
at::Tensor kl_rows_direct(const at::Tensor& sh, const at::Tensor& sw, const at::Tensor& th,
                          const at::Tensor& tw) {
  auto ls = at::log_softmax(at::mm(sh, sw.t()), 1);  // [N, V]
  auto lt = at::log_softmax(at::mm(th, tw.t()), 1);  // [N, V]
  return (lt.exp() * (lt - ls)).sum(1);
}

// Per-row -log p_s[label] [N] in float64 (label 0 where ignored: masked out by the caller).
at::Tensor ce_rows_direct(const at::Tensor& h, const at::Tensor& w, const at::Tensor& labels,
                          const at::Tensor& mask) {
  auto ls = at::log_softmax(at::mm(h, w.t()), 1);
  auto safe = at::where(mask, labels, at::zeros({}, labels.options()));
  return -ls.gather(1, safe.unsqueeze(1)).squeeze(1);
}

at::Tensor masked_sum(const at::Tensor& rows, const at::Tensor& mask) {
  return (rows * mask.to(rows.scalar_type())).sum();
}

at::Tensor leaf(const at::Tensor& x, at::ScalarType dt = at::kDouble) {
  return x.to(dt, false, true).requires_grad_(true);
}

double count(const at::Tensor& mask) {
  return mask.sum().item<double>();
}

}  // namespace

TEST_CASE("chunked KL equals the direct float64 KL, value and gradients, for every chunking",
          "[losses]") {
  auto p = make_problem(1);
  const double norm = count(p.mask);
  // Reference: autograd through the direct computation.
  auto rsh = leaf(p.sh), rsw = leaf(p.sw);
  auto ref = masked_sum(kl_rows_direct(rsh, rsw, p.th, p.tw), p.mask) / norm;
  (ref * 1.7).backward();

  // The data exposes both known bugs: the last partial chunk (rows 32..36 for chunk 8) and the
  // masked rows each change the loss by far more than the tolerance below.
  auto rows = kl_rows_direct(p.sh, p.sw, p.th, p.tw);
  const double full = ref.item<double>();
  const double dropped_last =
      masked_sum(rows.narrow(0, 0, 32), p.mask.narrow(0, 0, 32)).item<double>() / norm;
  const double padded_counted = rows.sum().item<double>() / norm;
  REQUIRE(std::abs(dropped_last - full) > 1e-2 * full);
  REQUIRE(std::abs(padded_counted - full) > 1e-2 * full);

  for (int64_t chunk : {8, 1, 5, 36, 37, 100}) {
    CAPTURE(chunk);
    auto sh = leaf(p.sh), sw = leaf(p.sw);
    auto loss = losses::chunked_kl_loss(sh, sw, p.th, p.tw, p.mask, chunk, norm);
    REQUIRE(loss.scalar_type() == at::kDouble);
    REQUIRE(loss.dim() == 0);
    CHECK(loss.item<double>() == Approx(full).epsilon(1e-12));
    (loss * 1.7).backward();
    CHECK(test::max_rel_error(sh.grad(), rsh.grad()) < 1e-12);
    CHECK(test::max_rel_error(sw.grad(), rsw.grad()) < 1e-12);
    // Masked rows get exactly zero gradient.
    auto masked_grad = sh.grad().index({p.mask.logical_not()});
    CHECK(masked_grad.abs().max().item<double>() == 0.0);
  }
}

TEST_CASE("chunked KL: float32 and bfloat16 inputs compute in float32 close to float64",
          "[losses]") {
  auto p = make_problem(2);
  const double norm = count(p.mask);
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    CAPTURE(dt);
    // The reference sees the same rounded inputs.
    auto sh64 = leaf(p.sh.to(dt).to(at::kDouble)), sw64 = leaf(p.sw.to(dt).to(at::kDouble));
    auto th64 = p.th.to(dt).to(at::kDouble), tw64 = p.tw.to(dt).to(at::kDouble);
    auto ref = masked_sum(kl_rows_direct(sh64, sw64, th64, tw64), p.mask) / norm;
    ref.backward();
    auto sh = leaf(p.sh, dt), sw = leaf(p.sw, dt);
    auto loss = losses::chunked_kl_loss(sh, sw, p.th.to(dt), p.tw.to(dt), p.mask, 8, norm);
    REQUIRE(loss.scalar_type() == at::kFloat);
    loss.backward();
    REQUIRE(sh.grad().scalar_type() == dt);
    REQUIRE(sw.grad().scalar_type() == dt);
    // float32: float32 rounding only; bf16: logits rounded to bf16 by the bf16 matmul, then
    // the gradients rounded to bf16 (about 2^-8 relative).
    const double tol = dt == at::kFloat ? 1e-5 : 3e-2;
    CHECK(std::abs(loss.item<double>() - ref.item<double>()) < tol * ref.item<double>());
    CHECK(test::max_rel_error(sh.grad(), sh64.grad()) < tol);
    CHECK(test::max_rel_error(sw.grad(), sw64.grad()) < tol);
  }
}

namespace {

// CPU autocast to bfloat16 for the scope (the trainer turns CUDA autocast on the same way).

}  // namespace

TEST_CASE("chunked losses under autocast: float32 inputs run forward and backward as bfloat16",
          "[losses]") {
  // The backward runs on the autograd thread, where autocast is off; the losses cast their
  // float32 inputs to the autocast dtype before the Function, so forward and backward matmuls
  // both run in bfloat16 and the gradients come back in float32. Checked against the same
  // losses called on explicitly bfloat16 inputs (bit for bit) and against float64.
  auto p = make_problem(7);
  const double norm = count(p.mask);
  auto sh = leaf(p.sh, at::kFloat), sw = leaf(p.sw, at::kFloat);
  at::Tensor kl, ce;
  {
    test::Autocast autocast(at::kCPU);
    kl = losses::chunked_kl_loss(sh, sw, p.th.to(at::kFloat), p.tw.to(at::kFloat), p.mask, 8, norm);
  }
  kl.backward();
  REQUIRE(sh.grad().scalar_type() == at::kFloat);
  REQUIRE(sw.grad().scalar_type() == at::kFloat);

  auto bh = leaf(p.sh, at::kBFloat16), bw = leaf(p.sw, at::kBFloat16);
  auto kl_bf16 = losses::chunked_kl_loss(bh, bw, p.th.to(at::kBFloat16), p.tw.to(at::kBFloat16),
                                         p.mask, 8, norm);
  kl_bf16.backward();
  CHECK(kl.item<float>() == kl_bf16.item<float>());
  CHECK(at::equal(sh.grad(), bh.grad().to(at::kFloat)));
  CHECK(at::equal(sw.grad(), bw.grad().to(at::kFloat)));
  // And the bfloat16 run differs from the float32 one (the cast did happen), within bf16 error.
  auto fh = leaf(p.sh, at::kFloat), fw = leaf(p.sw, at::kFloat);
  losses::chunked_kl_loss(fh, fw, p.th.to(at::kFloat), p.tw.to(at::kFloat), p.mask, 8, norm)
      .backward();
  CHECK_FALSE(at::equal(sh.grad(), fh.grad()));
  CHECK(test::max_rel_error(sh.grad().to(at::kDouble), fh.grad().to(at::kDouble)) < 3e-2);

  auto ch = leaf(p.sh, at::kFloat), cw = leaf(p.sw, at::kFloat);
  {
    test::Autocast autocast(at::kCPU);
    ce = losses::chunked_cross_entropy_loss(ch, cw, p.labels, p.mask, 8, norm);
  }
  ce.backward();
  auto ceh = leaf(p.sh, at::kBFloat16), cew = leaf(p.sw, at::kBFloat16);
  auto ce_bf16 = losses::chunked_cross_entropy_loss(ceh, cew, p.labels, p.mask, 8, norm);
  ce_bf16.backward();
  CHECK(ce.item<float>() == ce_bf16.item<float>());
  CHECK(ch.grad().scalar_type() == at::kFloat);
  CHECK(at::equal(ch.grad(), ceh.grad().to(at::kFloat)));
  CHECK(at::equal(cw.grad(), cew.grad().to(at::kFloat)));

  // A float32 model's final norm under CUDA autocast hands the losses bfloat16 hidden states
  // with the float32 head: accepted, and the same as both in bfloat16.
  auto mh = leaf(p.sh, at::kBFloat16), mw = leaf(p.sw, at::kFloat);
  at::Tensor kl_mixed, ce_mixed;
  {
    test::Autocast autocast(at::kCPU);
    kl_mixed = losses::chunked_kl_loss(mh, mw, p.th.to(at::kBFloat16), p.tw.to(at::kFloat),
                                       p.mask, 8, norm);
    ce_mixed = losses::chunked_cross_entropy_loss(mh, mw, p.labels, p.mask, 8, norm);
  }
  CHECK(kl_mixed.item<float>() == kl_bf16.item<float>());
  CHECK(ce_mixed.item<float>() == ce_bf16.item<float>());
  kl_mixed.backward();
  CHECK(mw.grad().scalar_type() == at::kFloat);
  CHECK(at::equal(mh.grad(), bh.grad()));
  CHECK(at::equal(mw.grad(), bw.grad().to(at::kFloat)));
  // Outside autocast the mismatch is still an error that names both dtypes.
  CHECK_THROWS_WITH(losses::chunked_kl_loss(mh, mw, p.th, p.tw, p.mask, 8, norm),
                    Catch::Contains("student_head must have student_hidden's dtype BFloat16"));
}

TEST_CASE("chunked KL: non-finite values in masked rows stay out of the loss and gradients",
          "[losses]") {
  auto p = make_problem(3);
  const double norm = count(p.mask);
  auto ref = masked_sum(kl_rows_direct(p.sh, p.sw, p.th, p.tw), p.mask).item<double>() / norm;
  auto bad_sh = p.sh.clone(), bad_th = p.th.clone();
  bad_sh[0][0] = std::numeric_limits<double>::quiet_NaN();  // row 0 is masked
  bad_th[10][1] = std::numeric_limits<double>::infinity();  // row 10 is masked
  auto sh = leaf(bad_sh), sw = leaf(p.sw);
  auto loss = losses::chunked_kl_loss(sh, sw, bad_th, p.tw, p.mask, 8, norm);
  CHECK(loss.item<double>() == Approx(ref).epsilon(1e-12));
  loss.backward();
  CHECK(at::isfinite(sh.grad()).all().item<bool>());
  CHECK(at::isfinite(sw.grad()).all().item<bool>());
}

TEST_CASE("chunked KL: the global normalizer makes per-rank or per-micro-batch losses add up",
          "[losses]") {
  auto p = make_problem(4);
  const double norm = count(p.mask);
  auto whole = losses::chunked_kl_loss(p.sh, p.sw, p.th, p.tw, p.mask, 8, norm);
  // Two "ranks" holding rows [0, 20) and [20, 37), each divided by the global count.
  auto a = losses::chunked_kl_loss(p.sh.narrow(0, 0, 20), p.sw, p.th.narrow(0, 0, 20), p.tw,
                                   p.mask.narrow(0, 0, 20), 8, norm);
  auto b = losses::chunked_kl_loss(p.sh.narrow(0, 20, 17), p.sw, p.th.narrow(0, 20, 17), p.tw,
                                   p.mask.narrow(0, 20, 17), 8, norm);
  CHECK((a + b).item<double>() == Approx(whole.item<double>()).epsilon(1e-12));
  // An all-masked input is a valid zero.
  auto none = losses::chunked_kl_loss(p.sh, p.sw, p.th, p.tw, at::zeros({kN}, at::kBool), 8, 1.0);
  CHECK(none.item<double>() == 0.0);
  // KL of a model against itself is zero.
  auto self = losses::chunked_kl_loss(p.sh, p.sw, p.sh, p.sw, p.mask, 8, norm);
  CHECK(std::abs(self.item<double>()) < 1e-14);
}

TEST_CASE("chunked KL: a frozen student head gets no gradient, the hidden states do", "[losses]") {
  auto p = make_problem(5);
  auto sh = leaf(p.sh);
  auto loss = losses::chunked_kl_loss(sh, p.sw, p.th, p.tw, p.mask, 8, count(p.mask));
  loss.backward();
  REQUIRE(sh.grad().defined());
  auto rsh = leaf(p.sh);
  (masked_sum(kl_rows_direct(rsh, p.sw, p.th, p.tw), p.mask) / count(p.mask)).backward();
  CHECK(test::max_rel_error(sh.grad(), rsh.grad()) < 1e-12);
}

TEST_CASE("chunked cross-entropy equals the direct float64 cross-entropy for every chunking",
          "[losses]") {
  auto p = make_problem(6);
  const double norm = count(p.mask);
  auto rh = leaf(p.sh), rw = leaf(p.sw);
  auto ref = masked_sum(ce_rows_direct(rh, rw, p.labels, p.mask), p.mask) / norm;
  (ref * 0.6).backward();
  // The data exposes the two bugs here too.
  auto rows = ce_rows_direct(p.sh, p.sw, p.labels, p.mask);
  const double full = ref.item<double>();
  CHECK(std::abs(masked_sum(rows.narrow(0, 0, 32), p.mask.narrow(0, 0, 32)).item<double>() / norm -
                 full) > 1e-2 * full);
  CHECK(std::abs(rows.sum().item<double>() / norm - full) > 1e-2 * full);
  // Cross-check against ATen's own cross_entropy (ignore_index -100, mean over counted rows).
  auto aten =
      at::cross_entropy_loss(at::mm(p.sh, p.sw.t()), p.labels, {}, at::Reduction::Mean, -100);
  CHECK(aten.item<double>() == Approx(full).epsilon(1e-12));

  for (int64_t chunk : {8, 1, 5, 37, 100}) {
    CAPTURE(chunk);
    auto h = leaf(p.sh), w = leaf(p.sw);
    auto loss = losses::chunked_cross_entropy_loss(h, w, p.labels, p.mask, chunk, norm);
    CHECK(loss.item<double>() == Approx(full).epsilon(1e-12));
    (loss * 0.6).backward();
    CHECK(test::max_rel_error(h.grad(), rh.grad()) < 1e-12);
    CHECK(test::max_rel_error(w.grad(), rw.grad()) < 1e-12);
  }
  // float32 inputs.
  auto h32 = leaf(p.sh, at::kFloat), w32 = leaf(p.sw, at::kFloat);
  auto l32 = losses::chunked_cross_entropy_loss(h32, w32, p.labels, p.mask, 8, norm);
  REQUIRE(l32.scalar_type() == at::kFloat);
  CHECK(std::abs(l32.item<double>() - full) < 1e-5 * full);
  (l32 * 0.6).backward();
  CHECK(test::max_rel_error(h32.grad(), rh.grad()) < 1e-5);
  CHECK(test::max_rel_error(w32.grad(), rw.grad()) < 1e-5);
}

TEST_CASE("chunked losses reject bad arguments with the argument's name", "[losses]") {
  auto p = make_problem(7);
  const double norm = count(p.mask);
  auto kl = [&](const at::Tensor& sh, const at::Tensor& sw, const at::Tensor& th,
                const at::Tensor& tw, const at::Tensor& mask, int64_t chunk,
                double n) { return losses::chunked_kl_loss(sh, sw, th, tw, mask, chunk, n); };
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(kl(p.sh.unsqueeze(0), p.sw, p.th, p.tw, p.mask, 8, norm),
                    Contains("student_hidden must be [N, D]"));
  CHECK_THROWS_WITH(kl(p.sh, p.sw.narrow(1, 0, 5), p.th, p.tw, p.mask, 8, norm),
                    Contains("student_head [V, D] must have D = 6"));
  CHECK_THROWS_WITH(kl(p.sh, p.sw, p.th.narrow(0, 0, 30), p.tw, p.mask, 8, norm),
                    Contains("teacher_hidden must have N = 37"));
  CHECK_THROWS_WITH(kl(p.sh, p.sw, p.th, p.tw.narrow(0, 0, 28), p.mask, 8, norm),
                    Contains("share the vocabulary V"));
  CHECK_THROWS_WITH(kl(p.sh, p.sw.to(at::kFloat), p.th, p.tw, p.mask, 8, norm),
                    Contains("student_head must have student_hidden's dtype"));
  CHECK_THROWS_WITH(kl(p.sh, p.sw, p.th, p.tw, p.mask.to(at::kLong), 8, norm),
                    Contains("mask must be bool"));
  CHECK_THROWS_WITH(kl(p.sh, p.sw, p.th, p.tw, p.mask.narrow(0, 0, 36), 8, norm),
                    Contains("mask must be [N] = [37]"));
  CHECK_THROWS_WITH(kl(p.sh, p.sw, p.th, p.tw, p.mask, 0, norm),
                    Contains("chunk_tokens must be >= 1"));
  CHECK_THROWS_WITH(kl(p.sh, p.sw, p.th, p.tw, p.mask, 8, 0.0), Contains("normalizer must be"));
  auto bad_labels = p.labels.clone();
  bad_labels[1] = kV;  // row 1 is counted
  CHECK_THROWS_WITH(losses::chunked_cross_entropy_loss(p.sh, p.sw, bad_labels, p.mask, 8, norm),
                    Contains("labels of counted positions must lie in [0, 29)"));
  CHECK_THROWS_WITH(
      losses::chunked_cross_entropy_loss(p.sh, p.sw, p.labels.to(at::kInt), p.mask, 8, norm),
      Contains("labels must be int64"));
  CHECK_THROWS_AS(losses::chunked_cross_entropy_loss(p.sh, p.sw, p.labels, p.mask, -1, norm),
                  HaloError);
}
