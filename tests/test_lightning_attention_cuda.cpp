// [cuda] The Lightning Attention op on CUDA tensors against the float64 CPU recurrence: forward,
// final state and every gradient, float32 and bfloat16, odd sizes, initial states and packed
// sequences, fresh random inputs each case. (Today the op runs its ATen chunked path on CUDA;
// the same test will hold the dedicated kernels to the reference.)
#include <catch2/catch.hpp>

#include "ops/lightning_attention/lightning_attention.h"
#include "tests/test_util.h"

#include <torch/autograd.h>

using namespace halo;

namespace {

struct Case {
  int64_t B, T, H, Dk, Dv;
  bool init, packed;
};

}  // namespace

TEST_CASE("lightning_attention on CUDA matches the float64 CPU recurrence", "[cuda][ops][lightning]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(77);
  const std::vector<Case> cases = {{2, 130, 3, 16, 24, true, false},
                                   {1, 200, 6, 32, 32, false, true},
                                   {3, 65, 16, 128, 128, true, false}};
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    for (const auto& c : cases) {
      INFO("dtype " << dtype << " B " << c.B << " T " << c.T << " H " << c.H);
      auto q = at::randn({c.B, c.T, c.H, c.Dk}, gen, at::kDouble) * 0.5;
      auto k = at::randn({c.B, c.T, c.H, c.Dk}, gen, at::kDouble) * 0.5;
      auto v = at::randn({c.B, c.T, c.H, c.Dv}, gen, at::kDouble);
      auto decay = ops::alibi_decay_rates(c.H);
      at::Tensor cu;
      int64_t N = c.B;
      if (c.packed) {
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
          ref_in[0], ref_in[1], ref_in[2], decay, scale,
          c.init ? ref_in[3] : at::Tensor(), cu);
      auto ref_g = torch::autograd::grad({ref_o, ref_s}, ref_in, {d_o, d_s});

      std::vector<at::Tensor> in = {q.to(dtype).cuda().requires_grad_(),
                                    k.to(dtype).cuda().requires_grad_(),
                                    v.to(dtype).cuda().requires_grad_()};
      if (c.init) in.push_back(init.to(at::kFloat).cuda().requires_grad_());
      auto [o, s] = ops::lightning_attention(in[0], in[1], in[2], decay.cuda(), scale,
                                             c.init ? in[3] : at::Tensor(),
                                             c.packed ? cu.cuda() : at::Tensor());
      auto g = torch::autograd::grad({o, s}, in, {d_o.to(dtype).cuda(), d_s.to(at::kFloat).cuda()});
      const double tol = dtype == at::kFloat ? 1e-4 : 2e-2;
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
