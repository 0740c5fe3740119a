// Decode linear entry point: decides once whether the kernel applies (device, dtype, rows,
// alignment, gradient), fills the plain params struct and launches on the current stream;
// otherwise the ATen reference.
#include "ops/decode_linear/decode_linear.h"

#include "common/error.h"
#include "ops/decode_linear/decode_linear_params.h"

#include <ATen/core/grad_mode.h>

#include <atomic>

#if HALO_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace halo::ops {

namespace {
std::atomic<bool> g_kernel_enabled{false};

bool aligned16(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % 16 == 0;
}
}  // namespace

void set_decode_linear_kernel_enabled(bool enabled) {
  g_kernel_enabled = enabled;
}
bool decode_linear_kernel_enabled() {
  return g_kernel_enabled;
}

bool decode_linear_uses_kernel(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias) {
#if HALO_WITH_CUDA
  if (!g_kernel_enabled || !x.is_cuda() || x.dim() < 1 || weight.dim() != 2) return false;
  const auto dt = x.scalar_type();
  if (dt != at::kBFloat16 && dt != at::kHalf) return false;
  if (weight.scalar_type() != dt || weight.device() != x.device() || !weight.is_contiguous()) {
    return false;
  }
  if (bias.defined() && (bias.scalar_type() != dt || bias.device() != x.device() ||
                         bias.dim() != 1 || !bias.is_contiguous())) {
    return false;
  }
  const int64_t in = weight.size(1);
  if (x.size(-1) != in || in % 8 != 0 || x.numel() == 0) return false;
  const int64_t rows = x.numel() / in;
  if (rows > kDecodeLinearMaxRows || rows * in * 2 > kDecodeLinearMaxSharedBytes) return false;
  if (at::GradMode::is_enabled() &&
      (x.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad()))) {
    return false;
  }
  // x's rows: contiguous, or [rows, in] with a row stride (a view of a wider product).
  const bool rows_strided =
      x.stride(-1) == 1 && (rows == 1 || (x.dim() == 2 && x.stride(0) % 8 == 0));
  if (!x.is_contiguous() && !rows_strided) return false;
  return aligned16(x.data_ptr()) && aligned16(weight.data_ptr());
#else
  (void)x, (void)weight, (void)bias;
  return false;
#endif
}

at::Tensor decode_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (!decode_linear_uses_kernel(x, weight, bias)) return decode_linear_reference(x, weight, bias);
#if HALO_WITH_CUDA
  const int64_t in = weight.size(1), out = weight.size(0), rows = x.numel() / in;
  auto sizes = x.sizes().vec();
  sizes.back() = out;
  auto y = at::empty(sizes, x.options());  // [..., out], contiguous
  DecodeLinearParams p;
  p.x = x.data_ptr();
  p.w = weight.data_ptr();
  p.bias = bias.defined() ? bias.data_ptr() : nullptr;
  p.y = y.data_ptr();
  p.rows = rows;
  p.in_features = in;
  p.out_features = out;
  p.x_row_stride = x.is_contiguous() ? in : x.stride(0);
  p.dtype =
      x.scalar_type() == at::kBFloat16 ? DecodeLinearDtype::kBFloat16 : DecodeLinearDtype::kFloat16;
  c10::cuda::CUDAGuard guard(x.device());
  p.num_sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int err = decode_linear_cuda(p, c10::cuda::getCurrentCUDAStream().stream());
  HALO_CHECK(err == 0, "decode_linear: CUDA kernel launch failed with error ", err, " (rows ", rows,
             ", in ", in, ", out ", out, ")");
  return y;
#else
  return decode_linear_reference(x, weight, bias);
#endif
}

}  // namespace halo::ops
