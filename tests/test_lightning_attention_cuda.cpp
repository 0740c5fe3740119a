// [cuda] The Lightning Attention op on CUDA tensors against the float64 CPU recurrence: forward,
// final state and every gradient for float32 (exact, and with TF32 products), bfloat16 and
// float16, through the sweep kernels
// (Dk, Dv in {64, 128}; one walk per sequence and segmented walks) and the ATen fallback (other
// head sizes); T not a multiple of the chunk, heads not a power of two, B > 1, initial states,
// packed sequences with empty ones, strided inputs; the decode kernel (T = 1). Outputs are poisoned
// with NaN before every kernel runs so an unwritten element fails the comparison. Inputs are fresh
// random numbers each run; the seed is printed on failure (set HALO_TEST_SEED to replay one).
#include <catch2/catch.hpp>

#include "ops/lightning_attention/lightning_attention.h"
#include "tests/test_util.h"

#include <torch/autograd.h>

#include <cstdlib>
#include <random>

using namespace halo;

namespace {

struct Case {
  int64_t B, T, H, Dk, Dv;
  bool init, packed, strided;
};

uint64_t test_seed() {
  if (const char* s = std::getenv("HALO_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// The op's inputs: a dtype, and for float32 whether its products run on TF32 tensor cores.
struct Mode {
  at::ScalarType dtype;
  bool tf32;
};

// float32 exact 1e-4 and 16-bit 2e-2 (the bounds); TF32 products keep a 10-bit mantissa
// like float16 but round only the products' operands, not the inputs: 5e-3.
double tolerance(const Mode& m) {
  if (m.dtype != at::kFloat) return 2e-2;
  return m.tf32 ? 5e-3 : 1e-4;
}

// Poisons the CUDA paths' outputs for the lifetime of the guard.
struct PoisonGuard {
  PoisonGuard() { ops::lightning_detail::set_poison_outputs(true); }
  ~PoisonGuard() { ops::lightning_detail::set_poison_outputs(false); }
};

// x [B, T, H, D] float64 -> the same values on the GPU in dtype; strided: a view into a wider
// tensor (as q, k, v split from one fused projection are), so the kernels see row strides != D.
at::Tensor to_device(const at::Tensor& x, at::ScalarType dt, bool strided) {
  if (!strided) return x.to(dt).cuda();
  auto wide = at::zeros({x.size(0), x.size(1), x.size(2), x.size(3) + 64}, at::kDouble);
  wide.narrow(3, 32, x.size(3)).copy_(x);
  return wide.to(dt).cuda().narrow(3, 32, x.size(3));
}

}  // namespace

TEST_CASE("lightning_attention on CUDA matches the float64 CPU recurrence",
          "[cuda][ops][lightning]") {
  const uint64_t seed = test_seed();
  INFO("seed " << seed << " (HALO_TEST_SEED=" << seed << " replays it)");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  PoisonGuard poison;
  const std::vector<Case> cases = {
      // The sweep kernels: W = 16 slices (few sequences x heads), odd T, odd H, B > 1.
      {2, 130, 3, 64, 64, true, false, false},
      {1, 200, 5, 128, 128, false, false, true},
      {1, 333, 6, 128, 64, true, true, false},  // packed, few walks: 64 x 16 tensor-core blocks
      {3, 65, 7, 64, 128, true, false, true},
      {1, 1, 2, 128, 128, true, false, false},
      // Enough sequences x heads to fill the GPU: one walk per sequence, wide state blocks.
      {12, 97, 16, 128, 128, true, false, false},
      // Few heads, long: the state pass splits each sequence into segments of several chunks
      // (the last chunk partial) and combines them.
      {1, 3300, 4, 64, 64, true, false, false},
      // The ATen fallback (head sizes the kernels do not take).
      {2, 70, 3, 16, 24, true, false, false},
  };
  for (const Mode mode : {Mode{at::kFloat, false}, Mode{at::kFloat, true},
                          Mode{at::kBFloat16, false}, Mode{at::kHalf, false}}) {
    const auto dtype = mode.dtype;
    for (const auto& c : cases) {
      INFO("dtype " << dtype << " tf32 " << mode.tf32 << " B " << c.B << " T " << c.T << " H "
                    << c.H << " Dk " << c.Dk << " Dv " << c.Dv << " init " << c.init << " packed "
                    << c.packed << " strided " << c.strided);
      auto q = at::randn({c.B, c.T, c.H, c.Dk}, gen, at::kDouble) * 0.5;
      auto k = at::randn({c.B, c.T, c.H, c.Dk}, gen, at::kDouble) * 0.5;
      auto v = at::randn({c.B, c.T, c.H, c.Dv}, gen, at::kDouble);
      auto decay = ops::alibi_decay_rates(c.H);
      at::Tensor cu;
      int64_t N = c.B;
      if (c.packed) {  // an empty sequence, one shorter than a chunk, one spanning several
        cu = at::tensor(std::vector<int64_t>{0, 7, 70, 70, c.T}, at::kLong);
        N = 4;
      }
      auto init = c.init ? at::randn({N, c.H, c.Dk, c.Dv}, gen, at::kDouble) : at::Tensor();
      auto d_o = at::randn({c.B, c.T, c.H, c.Dv}, gen, at::kDouble);
      auto d_s = at::randn({N, c.H, c.Dk, c.Dv}, gen, at::kDouble);
      const double scale = 1.0 / std::sqrt(double(c.Dk));
      // Reference: the inputs rounded to dtype first, then float64 on the CPU.
      auto round = [&](const at::Tensor& t) { return t.to(dtype).to(at::kDouble); };
      std::vector<at::Tensor> ref_in = {round(q).requires_grad_(), round(k).requires_grad_(),
                                        round(v).requires_grad_()};
      if (c.init) ref_in.push_back(init.clone().requires_grad_());
      auto [ref_o, ref_s] = ops::lightning_attention_naive(
          ref_in[0], ref_in[1], ref_in[2], decay, scale, c.init ? ref_in[3] : at::Tensor(), cu);
      auto ref_g = torch::autograd::grad({ref_o, ref_s}, ref_in, {d_o, d_s});

      std::vector<at::Tensor> in = {to_device(q, dtype, c.strided).requires_grad_(),
                                    to_device(k, dtype, c.strided).requires_grad_(),
                                    to_device(v, dtype, c.strided).requires_grad_()};
      if (c.init) in.push_back(init.to(at::kFloat).cuda().requires_grad_());
      const bool kernel_sizes = (c.Dk == 64 || c.Dk == 128) && (c.Dv == 64 || c.Dv == 128);
      CHECK(ops::lightning_attention_uses_cuda_kernels(in[0], in[2]) == kernel_sizes);
      auto [o, s] = ops::lightning_attention(in[0], in[1], in[2], decay.cuda(), scale,
                                             c.init ? in[3] : at::Tensor(),
                                             c.packed ? cu.cuda() : at::Tensor(), mode.tf32);
      auto g = torch::autograd::grad({o, s}, in, {d_o.to(dtype).cuda(), d_s.to(at::kFloat).cuda()});
      const double tol = tolerance(mode);
      if (mode.tf32 && kernel_sizes && c.T > 1) {  // TF32 ran: not the exact float32 result
        at::NoGradGuard no_grad;
        auto [o32, s32] = ops::lightning_attention(in[0], in[1], in[2], decay.cuda(), scale,
                                                   c.init ? in[3] : at::Tensor(),
                                                   c.packed ? cu.cuda() : at::Tensor());
        CHECK_FALSE(at::equal(o, o32));
      }
      CHECK(o.scalar_type() == dtype);
      CHECK(s.scalar_type() == at::kFloat);
      CHECK(test::max_rel_error(o.cpu(), ref_o) <= tol);
      CHECK(test::max_rel_error(s.cpu(), ref_s) <= tol);
      for (size_t i = 0; i < in.size(); ++i) {
        INFO("gradient " << i);
        CHECK(g[i].isfinite().all().item<bool>());
        CHECK(test::max_rel_error(g[i].cpu(), ref_g[i]) <= tol);
      }
    }
  }
}

TEST_CASE("lightning_attention decode kernel (T = 1) continues a prefill",
          "[cuda][ops][lightning]") {
  const uint64_t seed = test_seed();
  INFO("seed " << seed);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  PoisonGuard poison;
  at::NoGradGuard no_grad;
  for (auto dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
    for (int64_t D : {24, 128}) {
      INFO("dtype " << dtype << " D " << D);
      const int64_t B = 3, T = 40, H = 5;
      auto q = at::randn({B, T, H, D}, gen, at::kDouble) * 0.5;
      auto k = at::randn({B, T, H, D}, gen, at::kDouble) * 0.5;
      auto v = at::randn({B, T, H, D}, gen, at::kDouble);
      auto decay = ops::alibi_decay_rates(H);
      const double scale = 1.0 / std::sqrt(double(D));
      auto round = [&](const at::Tensor& t) { return t.to(dtype).to(at::kDouble); };
      auto [ref_o, ref_s] =
          ops::lightning_attention_naive(round(q), round(k), round(v), decay, scale);
      // Prefill T - 3 positions, then three single steps on the GPU.
      const int64_t P = T - 3;
      auto dev = [&](const at::Tensor& t, int64_t from, int64_t len) {
        return t.narrow(1, from, len).to(dtype).cuda();
      };
      auto [o_pre, state] =
          ops::lightning_attention(dev(q, 0, P), dev(k, 0, P), dev(v, 0, P), decay.cuda(), scale);
      std::vector<at::Tensor> outs = {o_pre};
      for (int64_t t = P; t < T; ++t) {
        auto [o_t, s_t] = ops::lightning_attention(dev(q, t, 1), dev(k, t, 1), dev(v, t, 1),
                                                   decay.cuda(), scale, state);
        outs.push_back(o_t);
        state = s_t;
      }
      auto o = at::cat(outs, 1);
      CHECK(test::max_rel_error(o.cpu(), ref_o) <= tolerance(Mode{dtype, false}));
      CHECK(test::max_rel_error(state.cpu(), ref_s) <= tolerance(Mode{dtype, false}));
    }
  }
}
