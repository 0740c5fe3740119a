// rms_norm_rotary entry point: validates once, picks the fused CUDA kernel or the unfused path
// (ops::rms_norm then the ATen rotation), fills the plain params struct and launches on the
// current stream.
#include "ops/rms_norm_rotary/rms_norm_rotary.h"

#include "common/error.h"
#include "ops/rms_norm/rms_norm.h"
#include "ops/rms_norm_rotary/rms_norm_rotary_params.h"

#include <ATen/core/grad_mode.h>

#if HALO_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <cstdint>

namespace halo::ops {

namespace {

void check_args(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& cos,
                const at::Tensor& sin) {
  const char* op = "rms_norm_rotary";
  HALO_CHECK(x.defined() && weight.defined() && cos.defined() && sin.defined(), op,
             ": x, weight, cos and sin are required");
  HALO_CHECK(x.dim() == 4, op, ": x must be [B, T, H, d], got ", x.sizes());
  const int64_t B = x.size(0), T = x.size(1), d = x.size(3);
  HALO_CHECK(d >= 2 && d % 2 == 0, op, ": the head dim d of x [B, T, H, d] must be even (the ",
             "rotation pairs element i with i + d/2), got x ", x.sizes());
  HALO_CHECK(weight.dim() == 1 && weight.size(0) == d, op, ": weight must be [d] = [", d,
             "] for x ", x.sizes(), ", got ", weight.sizes());
  HALO_CHECK(cos.sizes() == sin.sizes(), op, ": cos and sin must have the same shape, got cos ",
             cos.sizes(), " and sin ", sin.sizes());
  const bool per_token = cos.dim() == 2 && cos.size(0) == T && cos.size(1) == d;
  const bool per_row = cos.dim() == 3 && (cos.size(0) == B || cos.size(0) == 1) &&
                       cos.size(1) == T && cos.size(2) == d;
  HALO_CHECK(per_token || per_row, op, ": cos and sin must be [T, d] = [", T, ", ", d,
             "] or [B, T, d] = [", B, ", ", T, ", ", d, "] for x ", x.sizes(), ", got ",
             cos.sizes());
  HALO_CHECK(weight.device() == x.device() && cos.device() == x.device() &&
                 sin.device() == x.device(),
             op, ": weight, cos and sin must be on x's device ", x.device(), ", got ",
             weight.device(), ", ", cos.device(), ", ", sin.device());
}

#if HALO_WITH_CUDA
bool kernel_dtype(at::ScalarType t, RmsNormRotaryDtype* out) {
  switch (t) {
    case at::kFloat: *out = RmsNormRotaryDtype::kFloat32; return true;
    case at::kBFloat16: *out = RmsNormRotaryDtype::kBFloat16; return true;
    case at::kHalf: *out = RmsNormRotaryDtype::kFloat16; return true;
    default: return false;
  }
}

// Stride of dimension `i` as the kernel sees it: 0 for a dimension of size 1 (never stepped).
int64_t used_stride(const at::Tensor& t, int64_t i) {
  return t.size(i) == 1 ? 0 : t.stride(i);
}

// Whether the kernel reads x in place. A contiguous x is what ops::rms_norm reads too. A strided
// view is read in place only when every row starts on 16 bytes (what a contiguous copy, as
// ops::rms_norm would make, gives): the launcher's vector width, which fixes the order of the
// float sum, is then the one rms_norm's launcher picks for that copy.
bool reads_in_place(const at::Tensor& x) {
  if (x.is_contiguous()) return true;
  const int64_t item = static_cast<int64_t>(x.element_size());
  if (x.stride(3) != 1 || reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 != 0) return false;
  for (int64_t i = 0; i < 3; ++i) {
    if (used_stride(x, i) * item % 16 != 0) return false;
  }
  return true;
}
#endif

}  // namespace

bool rms_norm_rotary_uses_kernel(const at::Tensor& x) {
#if HALO_WITH_CUDA
  RmsNormRotaryDtype dt;
  const bool needs_grad = at::GradMode::is_enabled() && x.requires_grad();
  return x.defined() && x.is_cuda() && kernel_dtype(x.scalar_type(), &dt) && !needs_grad &&
         x.dim() == 4 && x.numel() > 0 && x.size(3) % 2 == 0 &&
         x.size(3) <= kRmsNormRotaryMaxDim;
#else
  (void)x;
  return false;
#endif
}

at::Tensor rms_norm_rotary(const at::Tensor& x, const at::Tensor& weight, double eps,
                           const at::Tensor& cos, const at::Tensor& sin) {
  check_args(x, weight, cos, sin);
  const auto dt = x.scalar_type();
  const bool same_dtype =
      weight.scalar_type() == dt && cos.scalar_type() == dt && sin.scalar_type() == dt;
  const bool others_need_grad =
      at::GradMode::is_enabled() &&
      (weight.requires_grad() || cos.requires_grad() || sin.requires_grad());
  if (!rms_norm_rotary_uses_kernel(x) || !same_dtype || others_need_grad) {
    // The unfused path the attention layers run (ops::rms_norm keeps its own CUDA kernel and
    // its training path), so the op is a drop-in replacement everywhere.
    return rotary_reference(rms_norm(x, weight, eps), cos, sin);
  }
#if HALO_WITH_CUDA
  const int64_t B = x.size(0), T = x.size(1), H = x.size(2), d = x.size(3);
  auto xk = reads_in_place(x) ? x : x.contiguous();
  auto wc = weight.contiguous();
  auto cc = cos.contiguous();
  auto sc = sin.contiguous();
  auto y = at::empty({B, T, H, d}, x.options());
  RmsNormRotaryParams p;
  kernel_dtype(dt, &p.dtype);
  p.x = xk.data_ptr();
  p.x_stride_b = used_stride(xk, 0);
  p.x_stride_t = used_stride(xk, 1);
  p.x_stride_h = used_stride(xk, 2);
  p.w = wc.data_ptr();
  p.cos = cc.data_ptr();
  p.sin = sc.data_ptr();
  p.table_stride_b = cc.dim() == 3 && cc.size(0) > 1 ? T * d : 0;
  p.y = y.data_ptr();
  p.B = B;
  p.T = T;
  p.H = H;
  p.d = d;
  p.eps = static_cast<float>(eps);
  c10::cuda::CUDAGuard guard(x.device());
  const int err = rms_norm_rotary_forward_cuda(p, c10::cuda::getCurrentCUDAStream().stream());
  HALO_CHECK(err == 0, "rms_norm_rotary: CUDA kernel launch failed with error ", err, " (x ",
             x.sizes(), ", cos ", cos.sizes(), ")");
  return y;
#else
  return {};
#endif
}

}  // namespace halo::ops
