// RMSNorm entry point: validates once, picks the CUDA kernel or the ATen reference, fills the
// plain params struct and launches on the current stream.
#include "ops/rms_norm/rms_norm.h"

#include "common/error.h"
#include "ops/rms_norm/rms_norm_params.h"
#include "ops/rms_norm/rms_norm_row_block.h"

#include <ATen/core/grad_mode.h>

#include <atomic>

#if HALO_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace halo::ops {

namespace {
std::atomic<bool> g_row_block{false};
}  // namespace

bool rms_norm_has_cuda_kernel() {
  return HALO_WITH_CUDA != 0;
}

void set_rms_norm_row_block_enabled(bool enabled) {
  g_row_block = enabled;
}
bool rms_norm_row_block_enabled() {
  return g_row_block;
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  HALO_CHECK(x.dim() >= 1 && weight.dim() == 1 && x.size(-1) == weight.size(0),
             "rms_norm: x [..., N] and weight [N] must agree, got x ", x.sizes(), " and weight ",
             weight.sizes());
  const bool needs_grad =
      at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad());
#if HALO_WITH_CUDA
  const auto dt = x.scalar_type();
  const bool kernel_dtype = dt == at::kFloat || dt == at::kBFloat16 || dt == at::kHalf;
  if (x.is_cuda() && weight.device() == x.device() && weight.scalar_type() == dt && kernel_dtype &&
      !needs_grad && x.numel() > 0) {
    auto xc = x.contiguous();
    auto wc = weight.contiguous();
    auto y = at::empty_like(xc);
    RmsNormParams p;
    p.x = xc.data_ptr();
    p.w = wc.data_ptr();
    p.y = y.data_ptr();
    p.cols = xc.size(-1);
    p.rows = xc.numel() / p.cols;
    p.x_row_stride = p.cols;
    p.eps = static_cast<float>(eps);
    p.allow_row_block = g_row_block;
    p.dtype = dt == at::kFloat      ? RmsNormDtype::kFloat32
              : dt == at::kBFloat16 ? RmsNormDtype::kBFloat16
                                    : RmsNormDtype::kFloat16;
    c10::cuda::CUDAGuard guard(x.device());
    const int err = rms_norm_forward_cuda(p, c10::cuda::getCurrentCUDAStream().stream());
    HALO_CHECK(err == 0, "rms_norm: CUDA kernel launch failed with error ", err, " (rows ", p.rows,
               ", cols ", p.cols, ")");
    return y;
  }
#endif
  const bool fused = x.is_cuda() && needs_grad && x.numel() > 0;
  return fused ? rms_norm_fused_normalize(x, weight, eps) : rms_norm_reference(x, weight, eps);
}

}  // namespace halo::ops
