// Implementation of cached_attention.h.
#include "hypenet/cached_attention.h"

#include "common/error.h"
#include "ops/decode_attention/decode_attention.h"

#include <algorithm>

#if HALO_WITH_CUDA
#include <c10/cuda/CUDAGraphsC10Utils.h>
#endif

namespace halo::hypenet {

namespace {

// The prefill path bakes host values (start offsets, key counts) into its kernels: it must never
// be what a CUDA graph captures.
void check_not_capturing(const at::Tensor& q) {
#if HALO_WITH_CUDA
  if (q.is_cuda()) {
    HALO_CHECK(c10::cuda::currentStreamCaptureStatusMayInitCtx() ==
                   c10::cuda::CaptureStatus::None,
               "cached attention: a CUDA graph can capture only decode steps the decode kernel "
               "takes (one token per row; see ops/decode_attention/decode_attention.h)");
  }
#else
  (void)q;
#endif
}

// One token per row: write its key and value at its position, then ops::decode_attention over
// the row's first position + 1 keys. q [N, 1, Hq, d], k, v [N, 1, Hkv, d], positions [N, 1].
at::Tensor attend_decode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         KvCache& cache, const at::Tensor& rows, const at::Tensor& positions,
                         double scale, const at::Tensor& query_scale) {
  const int64_t N = q.size(0), Hq = q.size(2), d = q.size(3);
  auto r = rows.view({N, 1});
  cache.k.index_put_({r, positions}, k.to(cache.k.scalar_type()));  // [N, 1] of [Hkv, d]
  cache.v.index_put_({r, positions}, v.to(cache.v.scalar_type()));
  auto o = ops::decode_attention(q.reshape({N, Hq, d}), cache.k, cache.v, rows,
                                 positions.reshape({N}) + 1, scale,
                                 query_scale.defined() ? query_scale.reshape({N}) : at::Tensor());
  return o.view({N, 1, Hq, d});
}

// Segments of equal length n: q [N, n, Hq, d], k, v [N, n, Hkv, d]; row i of the input extends
// cache row rows[i] from position starts[i]. `rows` as a tensor [N] and whether it is a range;
// positions [N, n] on the device: starts[i] + 0..n-1, the step's own (CacheStep::positions), so
// no per-layer host copy of the starts.
at::Tensor attend_uniform(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          KvCache& cache, const at::Tensor& rows, bool contiguous,
                          int64_t first_row, const std::vector<int64_t>& starts,
                          const at::Tensor& positions, double scale) {
  check_not_capturing(q);
  const int64_t N = q.size(0), n = q.size(1);
  const bool same_start =
      std::all_of(starts.begin(), starts.end(), [&](int64_t s) { return s == starts[0]; });
  const auto i64 = at::TensorOptions().dtype(at::kLong).device(q.device());
  // Write the step's keys and values at their positions.
  if (contiguous && same_start) {
    cache.k.narrow(0, first_row, N).narrow(1, starts[0], n).copy_(k);
    cache.v.narrow(0, first_row, N).narrow(1, starts[0], n).copy_(v);
  } else {
    auto r = rows.view({N, 1});
    cache.k.index_put_({r, positions}, k.to(cache.k.scalar_type()));  // [N, n] of [Hkv, d]
    cache.v.index_put_({r, positions}, v.to(cache.v.scalar_type()));
  }
  const int64_t Lk = *std::max_element(starts.begin(), starts.end()) + n;  // keys to read
  auto rows_of = [&](const at::Tensor& t) {
    return contiguous ? t.narrow(0, first_row, N) : t.index_select(0, rows);
  };
  auto K = rows_of(cache.k).narrow(1, 0, Lk).transpose(1, 2);  // [N, Hkv, Lk, d]
  auto V = rows_of(cache.v).narrow(1, 0, Lk).transpose(1, 2);
  auto Q = q.transpose(1, 2);      // [N, Hq, n, d]
  std::optional<at::Tensor> mask;  // true = attend
  bool is_causal = false;
  if (same_start && starts[0] == 0) {
    is_causal = true;  // Lk == n: the plain causal square
  } else if (same_start && n == 1) {
    // one query per row, every cached key is at or before it: no mask
  } else {
    // key j is visible to query i of segment s when j <= starts[s] + i
    auto last = positions.unsqueeze(-1);                                 // [N, n, 1]
    mask = (at::arange(Lk, i64).view({1, 1, Lk}) <= last).unsqueeze(1);  // [N, 1, n, Lk]
  }
  auto o = at::scaled_dot_product_attention(Q, K, V, mask, /*dropout_p=*/0.0, is_causal, scale,
                                            /*enable_gqa=*/Q.size(1) != K.size(1));
  return o.transpose(1, 2);  // [N, n, Hq, d]
}

}  // namespace

at::Tensor cached_attention(const at::Tensor& q_in, const at::Tensor& k, const at::Tensor& v,
                            KvCache& cache, const CacheStep& step, double scale,
                            const at::Tensor& query_scale) {
  if (!step.packed && q_in.size(1) == 1) {
    const int64_t group = q_in.size(2) / k.size(2);
    if (q_in.is_cpu() || ops::decode_attention_uses_kernel(cache.k, group)) {
      return attend_decode(q_in, k, v, cache, step.slot_index, step.positions, scale, query_scale);
    }
  }
  // [T] or [B, T] -> broadcast over heads and head dim; the result in the activation dtype, as
  // the uncached forward scales q.
  const auto q = query_scale.defined()
                     ? (q_in * query_scale.unsqueeze(-1).unsqueeze(-1)).to(q_in.scalar_type())
                     : q_in;
  if (!step.packed) {
    return attend_uniform(q, k, v, cache, step.slot_index, step.contiguous_slots, step.slots[0],
                          step.starts, step.positions, scale);
  }
  // Ragged segments: one at a time (each is a uniform step of one row).
  std::vector<at::Tensor> outs;
  for (int64_t i = 0; i < step.num_segments(); ++i) {
    const int64_t b = step.offsets[i], n = step.lengths[i];
    auto seg = [&](const at::Tensor& t) { return t.narrow(1, b, n); };  // [1, n, H, d]
    outs.push_back(attend_uniform(seg(q), seg(k), seg(v), cache, step.slot_index.narrow(0, i, 1),
                                  /*contiguous=*/true, step.slots[i], {step.starts[i]},
                                  step.positions.narrow(1, b, n), scale));
  }
  return at::cat(outs, 1);  // [1, T, Hq, d]
}

}  // namespace halo::hypenet
