// decode_attention entry point: validates once, picks the CUDA kernels or the ATen reference,
// sizes the split of the sequence, fills the plain params struct and launches on the current
// stream.
#include "ops/decode_attention/decode_attention.h"

#include "common/error.h"
#include "ops/decode_attention/decode_attention_params.h"

#if HALO_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <algorithm>

namespace halo::ops {

namespace {

void check_args(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                const at::Tensor& rows, const at::Tensor& seqlens, double scale,
                const at::Tensor& query_scale) {
  const char* op = "decode_attention";
  HALO_CHECK(q.defined() && k.defined() && v.defined() && rows.defined() && seqlens.defined(), op,
             ": q, k_cache, v_cache, rows and seqlens are required");
  HALO_CHECK(q.dim() == 3, op, ": q must be [N, Hq, D], got ", q.sizes());
  HALO_CHECK(k.dim() == 4 && v.sizes() == k.sizes(), op,
             ": k_cache and v_cache must both be [R, C, Hkv, D], got ", k.sizes(), " and ",
             v.sizes());
  const int64_t N = q.size(0), Hq = q.size(1), D = q.size(2), Hkv = k.size(2);
  HALO_CHECK(k.size(3) == D, op, ": the caches' head dim ", k.size(3), " differs from q's ", D);
  HALO_CHECK(Hkv >= 1 && Hq % Hkv == 0, op, ": q's ", Hq,
             " heads must be a multiple of the caches' ", Hkv, " KV heads");
  HALO_CHECK(k.scalar_type() == q.scalar_type() && v.scalar_type() == q.scalar_type(), op,
             ": q, k_cache and v_cache must share a dtype, got ", q.scalar_type(), ", ",
             k.scalar_type(), ", ", v.scalar_type());
  HALO_CHECK(k.device() == q.device() && v.device() == q.device() && rows.device() == q.device() &&
                 seqlens.device() == q.device(),
             op, ": every tensor must be on q's device ", q.device());
  HALO_CHECK(k.stride(3) == 1 && v.strides() == k.strides(), op,
             ": the caches need unit stride in D and equal strides, got ", k.strides(), " and ",
             v.strides());
  HALO_CHECK(rows.scalar_type() == at::kLong && rows.dim() == 1 && rows.size(0) == N, op,
             ": rows must be int64 [N] = [", N, "], got ", rows.scalar_type(), " ", rows.sizes());
  HALO_CHECK(seqlens.scalar_type() == at::kLong && seqlens.dim() == 1 && seqlens.size(0) == N, op,
             ": seqlens must be int64 [N] = [", N, "], got ", seqlens.scalar_type(), " ",
             seqlens.sizes());
  HALO_CHECK(
      !query_scale.defined() ||
          ((query_scale.scalar_type() == at::kFloat || query_scale.scalar_type() == at::kDouble) &&
           query_scale.numel() == N && query_scale.device() == q.device()),
      op, ": query_scale must be float32 or float64 with N = ", N, " values on q's device, got ",
      query_scale.defined() ? query_scale.sizes() : at::IntArrayRef{});
  HALO_CHECK(std::isfinite(scale), op, ": scale must be finite, got ", scale);
}

#if HALO_WITH_CUDA
bool kernel_dtype(at::ScalarType t, DecodeAttentionDtype* out) {
  switch (t) {
    case at::kFloat:
      *out = DecodeAttentionDtype::kFloat32;
      return true;
    case at::kBFloat16:
      *out = DecodeAttentionDtype::kBFloat16;
      return true;
    case at::kHalf:
      *out = DecodeAttentionDtype::kFloat16;
      return true;
    default:
      return false;
  }
}

int device_sms() {
  static const int sms = std::max(decode_attention_device_sms(), 1);
  return sms;
}
#endif

}  // namespace

bool decode_attention_uses_kernel(const at::Tensor& k_cache, int64_t group) {
#if HALO_WITH_CUDA
  DecodeAttentionDtype dt;
  return k_cache.is_cuda() && kernel_dtype(k_cache.scalar_type(), &dt) &&
         decode_attention_cuda_supports(dt, k_cache.size(3), group);
#else
  (void)k_cache;
  (void)group;
  return false;
#endif
}

at::Tensor decode_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& rows, const at::Tensor& seqlens, double scale,
                            const at::Tensor& query_scale, int64_t splits) {
  check_args(q, k, v, rows, seqlens, scale, query_scale);
  HALO_CHECK(splits >= 0, "decode_attention: splits must be >= 0 (0 = automatic), got ", splits);
  const int64_t N = q.size(0), Hq = q.size(1), D = q.size(2), C = k.size(1), Hkv = k.size(2);
  if (!decode_attention_uses_kernel(k, Hq / Hkv)) {
    return decode_attention_reference(q, k, v, rows, seqlens, scale, query_scale);
  }
#if HALO_WITH_CUDA
  DecodeAttentionParams p;
  kernel_dtype(q.scalar_type(), &p.dtype);
  // Slices: about four 128-thread CTAs per multiprocessor over the (row, KV head) pairs (H100:
  // 528 CTAs; batch 1 with 8 KV heads: 66 slices, 64 keys each at 4K, 8K at 512K), never more
  // slices than the capacity has key blocks.
  const int64_t keys = decode_attention_keys_per_iteration(p.dtype, D);
  const int64_t most = std::max<int64_t>((C + keys - 1) / keys, 1);
  if (splits == 0) splits = (4 * device_sms() + N * Hkv - 1) / (N * Hkv);
  p.splits = static_cast<int>(std::clamp<int64_t>(splits, 1, std::min<int64_t>(most, 1024)));
  auto qc = q.contiguous();
  auto o = at::empty_like(qc);
  auto rows_c = rows.contiguous(), lens_c = seqlens.contiguous();
  auto qs = query_scale.defined() ? query_scale.reshape({N}).to(at::kFloat).contiguous()
                                  : at::Tensor();
  at::Tensor partial_o, partial_lse;
  if (p.splits > 1) {
    const auto f32 = q.options().dtype(at::kFloat);
    partial_o = at::empty({N, Hq, p.splits, D}, f32);
    partial_lse = at::empty({N, Hq, p.splits}, f32);
    p.partial_o = partial_o.data_ptr<float>();
    p.partial_lse = partial_lse.data_ptr<float>();
  }
  p.q = qc.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  p.row_stride = k.stride(0);
  p.token_stride = k.stride(1);
  p.head_stride = k.stride(2);
  p.rows = rows_c.data_ptr<int64_t>();
  p.seqlens = lens_c.data_ptr<int64_t>();
  p.query_scale = qs.defined() ? qs.data_ptr<float>() : nullptr;
  p.o = o.data_ptr();
  p.N = N;
  p.Hq = Hq;
  p.Hkv = Hkv;
  p.D = D;
  p.R = k.size(0);
  p.C = C;
  p.scale = static_cast<float>(scale);
  c10::cuda::CUDAGuard guard(q.device());
  const int err = decode_attention_cuda(p, c10::cuda::getCurrentCUDAStream().stream());
  HALO_CHECK(err == 0, "decode_attention: CUDA kernel launch failed with error ", err, " (N ", N,
             ", Hq ", Hq, ", Hkv ", Hkv, ", D ", D, ", splits ", p.splits, ")");
  return o;
#else
  return {};
#endif
}

}  // namespace halo::ops
