// Lightning Attention op on the CPU: the chunked forward and backward against the naive
// recurrence (float64 and float32, odd T and H, packed sequences with empty ones), central
// differences, prefill-then-decode chaining, bf16/f16 against float64, the ALiBi decay rates
// from their formula, the argument checks (and that a remembered decay is checked again once
// it changes), and the GPU-to-ATen fallback's decision and one-time warning.
#include <catch2/catch.hpp>

#include "ops/lightning_attention/lightning_attention.h"

#include "tests/test_util.h"

#include <c10/core/InferenceMode.h>
#include <torch/autograd.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

using namespace halo;

namespace {

using OpFn = std::tuple<at::Tensor, at::Tensor> (*)(const at::Tensor&, const at::Tensor&,
                                                    const at::Tensor&, const at::Tensor&, double,
                                                    const at::Tensor&, const at::Tensor&);

// One problem in float64 masters, with random upstream gradients for o and final_state.
struct Problem {
  at::Tensor q, k, v;  // [B, T, H, Dk], [B, T, H, Dk], [B, T, H, Dv]
  at::Tensor decay;    // [H] float32
  at::Tensor s0;       // [B or N, H, Dk, Dv] or undefined
  at::Tensor cu;       // [N + 1] int64 or undefined
  at::Tensor go, gf;   // [B, T, H, Dv], [B or N, H, Dk, Dv]
  double scale = 1.0;
};

// Outputs and gradients of one run, as float64.
struct Result {
  at::Tensor o, final_state, dq, dk, dv, ds0;
};

Problem make_problem(at::Generator& gen, int64_t B, int64_t T, int64_t H, int64_t Dk, int64_t Dv,
                     bool with_state, std::vector<int64_t> cu = {}, bool alibi = true) {
  Problem p;
  p.q = at::randn({B, T, H, Dk}, gen, at::kDouble);
  p.k = at::randn({B, T, H, Dk}, gen, at::kDouble);
  p.v = at::randn({B, T, H, Dv}, gen, at::kDouble);
  // ALiBi rates have long memories (down to 1/256); random ones up to 1.5 forget fast.
  p.decay = alibi ? ops::alibi_decay_rates(H)
                  : (at::rand({H}, gen, at::kDouble) * 1.5 + 0.02).to(at::kFloat);
  const int64_t num_states = cu.empty() ? B : static_cast<int64_t>(cu.size()) - 1;
  if (with_state) p.s0 = at::randn({num_states, H, Dk, Dv}, gen, at::kDouble);
  if (!cu.empty()) p.cu = at::tensor(cu, at::kLong);
  p.go = at::randn({B, T, H, Dv}, gen, at::kDouble);
  p.gf = at::randn({num_states, H, Dk, Dv}, gen, at::kDouble);
  p.scale = 1.0 / std::sqrt(static_cast<double>(Dk));
  return p;
}

at::Tensor leaf(const at::Tensor& x, at::ScalarType dt) {
  return x.to(dt, /*non_blocking=*/false, /*copy=*/true).requires_grad_(true);
}

// ops::lightning_attention with its default tf32 = false (TF32 exists on CUDA only: [cuda] tests).
std::tuple<at::Tensor, at::Tensor> lightning_op(const at::Tensor& q, const at::Tensor& k,
                                                const at::Tensor& v, const at::Tensor& decay,
                                                double scale, const at::Tensor& initial_state,
                                                const at::Tensor& cu_seqlens) {
  return ops::lightning_attention(q, k, v, decay, scale, initial_state, cu_seqlens);
}

// Runs `op` with q, k, v in `dt` (initial state in float32, float64 for float64 inputs) and
// returns o, final_state and the gradients of sum(o * go) + sum(final_state * gf).
Result run(OpFn op, const Problem& p, at::ScalarType dt) {
  const auto state_dt = dt == at::kDouble ? at::kDouble : at::kFloat;
  auto q = leaf(p.q, dt), k = leaf(p.k, dt), v = leaf(p.v, dt);
  auto s0 = p.s0.defined() ? leaf(p.s0, state_dt) : at::Tensor();
  auto [o, fs] = op(q, k, v, p.decay, p.scale, s0, p.cu);
  auto loss = (o.to(at::kDouble) * p.go).sum() + (fs.to(at::kDouble) * p.gf).sum();
  std::vector<at::Tensor> leaves{q, k, v};
  if (s0.defined()) leaves.push_back(s0);
  auto g = torch::autograd::grad({loss}, leaves);
  Result r;
  r.o = o.detach().to(at::kDouble);
  r.final_state = fs.detach().to(at::kDouble);
  r.dq = g[0].to(at::kDouble);
  r.dk = g[1].to(at::kDouble);
  r.dv = g[2].to(at::kDouble);
  if (s0.defined()) r.ds0 = g[3].to(at::kDouble);
  return r;
}

// Checks every output and gradient of `got` against `ref` within `tol` (relative to max |ref|).
void check_close(const Result& got, const Result& ref, double tol, const std::string& what) {
  const std::vector<std::pair<const char*, std::pair<at::Tensor, at::Tensor>>> pairs{
      {"o", {got.o, ref.o}},    {"final_state", {got.final_state, ref.final_state}},
      {"dq", {got.dq, ref.dq}}, {"dk", {got.dk, ref.dk}},
      {"dv", {got.dv, ref.dv}}, {"d_initial_state", {got.ds0, ref.ds0}}};
  for (const auto& [name, tensors] : pairs) {
    if (!tensors.second.defined() || tensors.second.numel() == 0) continue;
    const double err = test::max_rel_error(tensors.first, tensors.second);
    INFO(what << " " << name << " max rel error " << err);
    CHECK(err <= tol);
  }
}

struct Shape {
  int64_t B, T, H, Dk, Dv;
  bool with_state, alibi;
};

}  // namespace

TEST_CASE("lightning_attention chunked matches the naive recurrence", "[ops][lightning]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  const std::vector<Shape> shapes{
      {1, 1, 3, 4, 5, true, true},  {2, 63, 6, 8, 4, false, true}, {2, 64, 3, 5, 7, true, false},
      {1, 65, 6, 4, 4, true, true}, {2, 200, 3, 8, 6, true, true}, {3, 130, 1, 3, 2, false, false},
  };
  for (const auto& s : shapes) {
    auto p = make_problem(gen, s.B, s.T, s.H, s.Dk, s.Dv, s.with_state, {}, s.alibi);
    const auto what = "B" + std::to_string(s.B) + " T" + std::to_string(s.T) + " H" +
                      std::to_string(s.H) + " Dk" + std::to_string(s.Dk) + " Dv" +
                      std::to_string(s.Dv) + (s.with_state ? " state" : "");
    const auto ref = run(ops::lightning_attention_naive, p, at::kDouble);
    check_close(run(lightning_op, p, at::kDouble), ref, 1e-10, "float64 " + what);
    check_close(run(lightning_op, p, at::kFloat), ref, 1e-4, "float32 " + what);
  }
}

TEST_CASE("lightning_attention packed sequences equal separate runs", "[ops][lightning]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(12);
  // Six sequences of lengths 0, 5, 65, 0, 64, 66 (empty ones at the start and in the middle).
  const std::vector<int64_t> cu{0, 0, 5, 70, 70, 134, 200};
  const int64_t N = static_cast<int64_t>(cu.size()) - 1;
  for (bool with_state : {true, false}) {
    auto p = make_problem(gen, 1, 200, 6, 5, 3, with_state, cu);
    const std::string what = with_state ? "packed, state" : "packed";
    const auto ref = run(ops::lightning_attention_naive, p, at::kDouble);
    const auto got = run(lightning_op, p, at::kDouble);
    check_close(got, ref, 1e-10, "float64 " + what);
    check_close(run(lightning_op, p, at::kFloat), ref, 1e-4, "float32 " + what);

    // The same sequences one call each, gradients gathered through narrow() into full leaves.
    auto q = leaf(p.q, at::kDouble), k = leaf(p.k, at::kDouble), v = leaf(p.v, at::kDouble);
    auto s0 = with_state ? leaf(p.s0, at::kDouble) : at::Tensor();
    auto loss = at::zeros({}, at::kDouble);
    std::vector<at::Tensor> outs, finals;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t start = cu[static_cast<size_t>(n)],
                    len = cu[static_cast<size_t>(n) + 1] - start;
      auto [o, fs] = ops::lightning_attention(q.narrow(1, start, len), k.narrow(1, start, len),
                                              v.narrow(1, start, len), p.decay, p.scale,
                                              with_state ? s0.narrow(0, n, 1) : at::Tensor());
      loss = loss + (o * p.go.narrow(1, start, len)).sum() + (fs * p.gf.narrow(0, n, 1)).sum();
      outs.push_back(o.detach());
      finals.push_back(fs.detach());
    }
    std::vector<at::Tensor> leaves{q, k, v};
    if (with_state) leaves.push_back(s0);
    auto g = torch::autograd::grad({loss}, leaves);
    Result sep{
        at::cat(outs, 1), at::cat(finals, 0), g[0], g[1], g[2], with_state ? g[3] : at::Tensor()};
    check_close(got, sep, 1e-12, "packed vs separate " + what);

    // An empty sequence hands its initial state (or zeros) straight through, gradient too.
    for (int64_t n : {0, 3}) {
      auto expect = with_state ? p.s0[n] : at::zeros_like(p.s0.defined() ? p.s0[n] : p.gf[n]);
      CHECK(at::allclose(got.final_state[n], expect, 0.0, 0.0));
      if (with_state) CHECK(at::allclose(got.ds0[n], p.gf[n], 0.0, 0.0));
    }
  }
}

TEST_CASE("lightning_attention chunk length does not change the result", "[ops][lightning]") {
  // The building blocks with chunk lengths 1 to 100 (the op uses 64), packed and not.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(13);
  for (bool packed : {false, true}) {
    auto p = packed ? make_problem(gen, 1, 37, 3, 4, 3, true, {0, 10, 10, 37})
                    : make_problem(gen, 2, 37, 3, 4, 3, true);
    const auto offsets = packed ? std::vector<int64_t>{0, 10, 10, 37} : std::vector<int64_t>{};
    const auto ref = run(ops::lightning_attention_naive, p, at::kDouble);
    for (int64_t chunk : {1, 3, 16, 37, 64, 100}) {
      auto decay = p.decay.to(at::kDouble);
      auto [o, fs] = ops::lightning_detail::chunked_forward(p.q, p.k, p.v, decay, p.scale, p.s0,
                                                            offsets, chunk);
      auto [dq, dk, dv, ds0] = ops::lightning_detail::chunked_backward(
          p.q, p.k, p.v, decay, p.scale, p.s0, offsets, p.go, p.gf, chunk);
      check_close({o, fs, dq, dk, dv, ds0}, ref, 1e-10,
                  "chunk " + std::to_string(chunk) + (packed ? " packed" : ""));
    }
  }
}

TEST_CASE("lightning_attention gradients match central differences", "[ops][lightning]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(14);
  // Tiny shapes; T = 67 crosses a chunk boundary (every 5th entry checked there, for time), the
  // packed one holds an empty sequence.
  std::vector<Problem> problems{make_problem(gen, 1, 5, 2, 3, 2, true),
                                make_problem(gen, 1, 67, 1, 2, 1, true, {}, false),
                                make_problem(gen, 1, 7, 2, 2, 2, true, {0, 3, 3, 7})};
  for (auto& p : problems) {
    const auto analytic = run(lightning_op, p, at::kDouble);
    auto objective = [&p]() {
      auto [o, fs] = ops::lightning_attention(p.q, p.k, p.v, p.decay, p.scale, p.s0, p.cu);
      return ((o * p.go).sum() + (fs * p.gf).sum()).item<double>();
    };
    const std::vector<std::pair<at::Tensor, at::Tensor>> params{
        {p.q, analytic.dq}, {p.k, analytic.dk}, {p.v, analytic.dv}, {p.s0, analytic.ds0}};
    const double h = 1e-6;
    const int64_t step = p.q.size(1) > 64 ? 5 : 1;
    double max_diff = 0, max_grad = 0;
    for (const auto& [param, grad] : params) {
      auto flat = param.view(-1);
      auto grad_flat = grad.reshape(-1);
      for (int64_t i = 0; i < flat.numel(); i += step) {
        const double orig = flat[i].item<double>();
        flat[i] = orig + h;
        const double up = objective();
        flat[i] = orig - h;
        const double down = objective();
        flat[i] = orig;
        const double numeric = (up - down) / (2 * h);
        const double got = grad_flat[i].item<double>();
        CHECK(got == Approx(numeric).epsilon(1e-6).margin(1e-8));
        max_diff = std::max(max_diff, std::abs(got - numeric));
        max_grad = std::max(max_grad, std::abs(numeric));
      }
    }
    INFO("T " << p.q.size(1) << " max |analytic - numeric| / max |numeric| "
              << max_diff / max_grad);
    CHECK(max_diff / max_grad <= 1e-7);
  }
}

TEST_CASE("lightning_attention prefill then single steps equals one pass", "[ops][lightning]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(15);
  const int64_t T = 70, prefill = 66;
  auto p = make_problem(gen, 2, T, 6, 8, 4, true);
  for (auto dt : {at::kDouble, at::kFloat}) {
    const auto state_dt = dt == at::kDouble ? at::kDouble : at::kFloat;
    auto q = p.q.to(dt), k = p.k.to(dt), v = p.v.to(dt);
    auto [full_o, full_state] =
        ops::lightning_attention(q, k, v, p.decay, p.scale, p.s0.to(state_dt));
    auto [o, state] =
        ops::lightning_attention(q.narrow(1, 0, prefill), k.narrow(1, 0, prefill),
                                 v.narrow(1, 0, prefill), p.decay, p.scale, p.s0.to(state_dt));
    std::vector<at::Tensor> outs{o};
    for (int64_t t = prefill; t < T; ++t) {
      auto [ot, st] = ops::lightning_attention(q.narrow(1, t, 1), k.narrow(1, t, 1),
                                               v.narrow(1, t, 1), p.decay, p.scale, state);
      outs.push_back(ot);
      state = st;
    }
    const double tol = dt == at::kDouble ? 1e-12 : 1e-5;
    const double err_o = test::max_rel_error(at::cat(outs, 1), full_o);
    const double err_s = test::max_rel_error(state, full_state);
    INFO(c10::toString(dt) << " decode o max rel error " << err_o << ", state " << err_s);
    CHECK(err_o <= tol);
    CHECK(err_s <= tol);
  }
}

TEST_CASE("lightning_attention bf16 and f16 against a float64 reference", "[ops][lightning]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(16);
  auto p = make_problem(gen, 2, 100, 6, 16, 8, true);
  for (auto dt : {at::kBFloat16, at::kHalf}) {
    // The reference sees the same rounded inputs, so only the computation's error is measured.
    Problem rounded = p;
    rounded.q = p.q.to(dt).to(at::kDouble);
    rounded.k = p.k.to(dt).to(at::kDouble);
    rounded.v = p.v.to(dt).to(at::kDouble);
    rounded.s0 = p.s0.to(at::kFloat).to(at::kDouble);
    const auto ref = run(ops::lightning_attention_naive, rounded, at::kDouble);
    check_close(run(lightning_op, rounded, dt), ref, 2e-2, c10::toString(dt));

    auto [o, fs] = ops::lightning_attention(p.q.to(dt), p.k.to(dt), p.v.to(dt), p.decay, p.scale,
                                            p.s0.to(at::kFloat));
    CHECK(o.scalar_type() == dt);
    CHECK(fs.scalar_type() == at::kFloat);
  }
}

TEST_CASE("alibi_decay_rates follow the ALiBi slope formula", "[ops][lightning]") {
  // start = 2^(-(2^-(log2(n) - 3))), slope_i = start^(i + 1) for a power of two n.
  auto power_of_two = [](int64_t n) {
    const double start = std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(n)) - 3)));
    std::vector<double> s;
    for (int64_t i = 0; i < n; ++i) s.push_back(std::pow(start, static_cast<double>(i + 1)));
    return s;
  };
  auto with_every_other = [&](int64_t p, int64_t extra) {  // slopes(p) + slopes(2p)[0::2][:extra]
    auto s = power_of_two(p);
    const auto twice = power_of_two(2 * p);
    for (int64_t i = 0; i < extra; ++i) s.push_back(twice[static_cast<size_t>(2 * i)]);
    return s;
  };
  const std::vector<std::pair<int64_t, std::vector<double>>> cases{{16, power_of_two(16)},
                                                                   {8, power_of_two(8)},
                                                                   {12, with_every_other(8, 4)},
                                                                   {6, with_every_other(4, 2)},
                                                                   {1, power_of_two(1)}};
  for (const auto& [n, expect] : cases) {
    auto got = ops::alibi_decay_rates(n);
    REQUIRE(got.scalar_type() == at::kFloat);
    REQUIRE(got.sizes() == at::IntArrayRef{n});
    for (int64_t i = 0; i < n; ++i) {
      INFO(n << " heads, head " << i);
      CHECK(got[i].item<double>() == Approx(expect[static_cast<size_t>(i)]).epsilon(1e-6));
    }
  }
  // The notes' 16-head anchors: 2^-0.5 first, 2^-8 last.
  auto sixteen = ops::alibi_decay_rates(16);
  CHECK(sixteen[0].item<double>() == Approx(std::sqrt(0.5)).epsilon(1e-6));
  CHECK(sixteen[15].item<double>() == Approx(std::pow(2.0, -8)).epsilon(1e-6));
  CHECK_THROWS_WITH(ops::alibi_decay_rates(0), Catch::Contains("num_heads"));
}

TEST_CASE("lightning_attention rejects malformed arguments by name", "[ops][lightning]") {
  auto q = at::randn({1, 8, 2, 4});
  auto k = at::randn({1, 8, 2, 4});
  auto v = at::randn({1, 8, 2, 3});
  auto decay = ops::alibi_decay_rates(2);
  auto cu = at::tensor(std::vector<int64_t>{0, 3, 8}, at::kLong);
  auto la = [](const at::Tensor& q_, const at::Tensor& k_, const at::Tensor& v_,
               const at::Tensor& decay_, const at::Tensor& s0 = {}, const at::Tensor& cu_ = {},
               double scale = 0.5) {
    return ops::lightning_attention(q_, k_, v_, decay_, scale, s0, cu_);
  };
  using Catch::Contains;
  CHECK_THROWS_WITH(la(q.to(at::kInt), k, v, decay), Contains("q must be float32"));
  CHECK_THROWS_WITH(la(q, k.to(at::kDouble), v, decay), Contains("k must have q's dtype"));
  CHECK_THROWS_WITH(la(q[0], k[0], v[0], decay), Contains("q must be [B, T, H, Dk]"));
  CHECK_THROWS_WITH(la(q, k.narrow(3, 0, 3), v, decay), Contains("k must be [B, T, H, Dk]"));
  CHECK_THROWS_WITH(la(q, k, v.narrow(1, 0, 7), decay), Contains("v must be [B, T, H, Dv]"));
  CHECK_THROWS_WITH(la(q, k, v, ops::alibi_decay_rates(3)), Contains("decay must be [H]"));
  CHECK_THROWS_WITH(la(q, k, v, decay.to(at::kDouble)), Contains("decay must be float32"));
  CHECK_THROWS_WITH(la(q, k, v, decay * at::tensor({1.f, 0.f})),
                    Contains("decay must be positive"));
  CHECK_THROWS_WITH(la(q, k, v, decay, at::zeros({1, 2, 3, 4})),
                    Contains("initial_state must be [B, H, Dk, Dv]"));
  CHECK_THROWS_WITH(
      la(q.to(at::kDouble), k.to(at::kDouble), v.to(at::kDouble), decay, at::zeros({1, 2, 4, 3})),
      Contains("initial_state must be Double"));
  CHECK_THROWS_WITH(la(q, k, v, decay, at::zeros({1, 2, 4, 3}), cu),
                    Contains("initial_state must be [N, H, Dk, Dv]"));
  CHECK_THROWS_WITH(
      la(q.expand({2, 8, 2, 4}), k.expand({2, 8, 2, 4}), v.expand({2, 8, 2, 3}), decay, {}, cu),
      Contains("cu_seqlens (packed sequences) requires batch size B == 1"));
  CHECK_THROWS_WITH(la(q, k, v, decay, {}, cu.to(at::kInt)),
                    Contains("cu_seqlens must be a 1-D int64"));
  CHECK_THROWS_WITH(la(q, k, v, decay, {}, at::tensor(std::vector<int64_t>{1, 3, 8}, at::kLong)),
                    Contains("cu_seqlens must start at 0"));
  CHECK_THROWS_WITH(la(q, k, v, decay, {}, at::tensor(std::vector<int64_t>{0, 3, 7}, at::kLong)),
                    Contains("cu_seqlens must end at T = 8"));
  CHECK_THROWS_WITH(la(q, k, v, decay, {}, at::tensor(std::vector<int64_t>{0, 5, 3, 8}, at::kLong)),
                    Contains("cu_seqlens must be non-decreasing"));
  CHECK_THROWS_WITH(la(q, k, v, decay, {}, {}, std::nan("")), Contains("scale must be finite"));
  // The naive reference goes through the same checks.
  CHECK_THROWS_WITH(ops::lightning_attention_naive(q, k, v, decay.narrow(0, 0, 1), 0.5),
                    Contains("lightning_attention_naive: decay must be [H]"));
}

// The op remembers decay tensors it found positive (the check costs a host-device sync on a
// GPU); a remembered tensor changed in place, or a new tensor, is checked again.
TEST_CASE("lightning_attention checks a decay again once it changes", "[ops][lightning]") {
  auto q = at::randn({1, 8, 2, 4});
  auto k = at::randn({1, 8, 2, 4});
  auto v = at::randn({1, 8, 2, 3});
  auto decay = ops::alibi_decay_rates(2);
  CHECK_NOTHROW(ops::lightning_attention(q, k, v, decay, 0.5));
  CHECK_NOTHROW(ops::lightning_attention(q, k, v, decay, 0.5));  // remembered
  decay.narrow(0, 1, 1).fill_(0.f);  // through a view: the version is shared
  CHECK_THROWS_WITH(ops::lightning_attention(q, k, v, decay, 0.5),
                    Catch::Contains("decay must be positive"));
  decay.fill_(-1.f);
  CHECK_THROWS_WITH(ops::lightning_attention(q, k, v, decay, 0.5),
                    Catch::Contains("decay must be positive"));
  // Many remembered tensors, then one that is not positive.
  std::vector<at::Tensor> good;
  for (int i = 0; i < 100; ++i) {
    good.push_back(ops::alibi_decay_rates(2));
    CHECK_NOTHROW(ops::lightning_attention(q, k, v, good.back(), 0.5));
  }
  CHECK_THROWS_WITH(ops::lightning_attention(q, k, v, -good.front(), 0.5),
                    Catch::Contains("decay must be positive"));
  {
    c10::InferenceMode guard;  // inference tensors have no version: checked every time
    auto inf = ops::alibi_decay_rates(2);
    CHECK_NOTHROW(ops::lightning_attention(q, k, v, inf, 0.5));
    inf.fill_(0.f);
    CHECK_THROWS_WITH(ops::lightning_attention(q, k, v, inf, 0.5),
                      Catch::Contains("decay must be positive"));
  }
}

namespace {

// What `f` writes to the process's stderr (file descriptor 2), through a temporary file.
std::string captured_stderr(const std::function<void()>& f) {
  test::TempDir dir("halo-stderr");
  const std::string path = dir.str() + "/stderr";
  std::fflush(stderr);
  const int saved = dup(2);
  REQUIRE(saved >= 0);
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  dup2(fd, 2);
  close(fd);
  f();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("lightning attention: when GPU inputs fall back to ATen, and the one-time warning",
          "[ops][lightning]") {
  // The decision behind lightning_attention_uses_cuda_kernels, asked without a GPU (the CUDA
  // path itself runs only in [cuda] tests).
  using ops::lightning_detail::cuda_fallback_reason;
  for (auto dt : {at::kFloat, at::kBFloat16, at::kHalf}) {
    for (int64_t dk : {64, 128}) {
      for (int64_t dv : {64, 128}) CHECK(cuda_fallback_reason(true, dt, dk, dv).empty());
    }
  }
  CHECK_THAT(cuda_fallback_reason(true, at::kBFloat16, 96, 64),
             Catch::Contains("64 or 128") && Catch::Contains("Dk = 96, Dv = 64"));
  CHECK_THAT(cuda_fallback_reason(true, at::kFloat, 64, 32), Catch::Contains("Dk = 64, Dv = 32"));
  CHECK_THAT(cuda_fallback_reason(true, at::kDouble, 64, 64), Catch::Contains("not Double"));
  CHECK_THAT(cuda_fallback_reason(false, at::kBFloat16, 64, 64),
             Catch::Contains("no CUDA kernels"));
  const auto q = at::zeros({2, 5, 3, 96}), v = at::zeros({2, 5, 3, 64});
  CHECK_FALSE(ops::lightning_attention_uses_cuda_kernels(q, v));  // CPU tensors

  // The warning: the first call prints the shapes, dtype and reason on stderr; later ones not.
  bool first = false, second = true;
  const auto once = captured_stderr(
      [&] { first = ops::lightning_detail::warn_cuda_fallback_once(q, v, "planted reason 17"); });
  const auto again = captured_stderr(
      [&] { second = ops::lightning_detail::warn_cuda_fallback_once(q, v, "planted reason 18"); });
  CHECK(first);
  CHECK_FALSE(second);
  CHECK_THAT(once, Catch::StartsWith("warning: lightning_attention: GPU inputs q [2, 5, 3, 96] "
                                     "and v [2, 5, 3, 64] (Float)") &&
                       Catch::Contains("planted reason 17") && Catch::Contains("once per process"));
  CHECK(again.empty());
}
