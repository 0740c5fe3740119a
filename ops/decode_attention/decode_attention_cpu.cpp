// The ATen reference of decode_attention.h: per row, the cached keys and values up to its
// length, GQA by repeating KV heads, an explicit softmax.
#include "ops/decode_attention/decode_attention.h"

#include <vector>

namespace halo::ops {

at::Tensor decode_attention_reference(const at::Tensor& q, const at::Tensor& k_cache,
                                      const at::Tensor& v_cache, const at::Tensor& rows,
                                      const at::Tensor& seqlens, double scale,
                                      const at::Tensor& query_scale) {
  const auto compute = q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const int64_t N = q.size(0), Hq = q.size(1), D = q.size(2);
  const int64_t R = k_cache.size(0), C = k_cache.size(1), Hkv = k_cache.size(2);
  const int64_t G = Hq / Hkv;
  const auto rows_h = rows.to(at::kCPU, at::kLong).contiguous();
  const auto lens_h = seqlens.to(at::kCPU, at::kLong).contiguous();
  const auto qs_h = query_scale.defined() ? query_scale.to(at::kCPU, at::kDouble).contiguous()
                                          : at::ones({N}, at::kDouble);
  std::vector<at::Tensor> outs;
  for (int64_t b = 0; b < N; ++b) {
    const int64_t row = rows_h.data_ptr<int64_t>()[b];
    const int64_t len = std::min(std::max<int64_t>(lens_h.data_ptr<int64_t>()[b], 0), C);
    if (row < 0 || row >= R || len == 0) {
      outs.push_back(at::zeros({Hq, D}, q.options().dtype(compute)));
      continue;
    }
    auto K = k_cache[row].narrow(0, 0, len).to(compute).transpose(0, 1);  // [Hkv, len, D]
    auto V = v_cache[row].narrow(0, 0, len).to(compute).transpose(0, 1);
    if (G > 1) {
      K = K.repeat_interleave(G, 0);  // [Hq, len, D]
      V = V.repeat_interleave(G, 0);
    }
    auto Q = q[b].to(compute).unsqueeze(1);  // [Hq, 1, D]
    const double s = scale * qs_h.data_ptr<double>()[b];
    auto p = at::softmax(at::matmul(Q, K.transpose(1, 2)) * s, -1);  // [Hq, 1, len]
    outs.push_back(at::matmul(p, V).squeeze(1));                     // [Hq, D]
  }
  return at::stack(outs).to(q.scalar_type());  // [N, Hq, D]
}

}  // namespace halo::ops
