// Process-wide switch of the RMSNorm kernels (bench decode --rms-norm-row-block): when on, up to
// 264 rows of at least 1024 columns take the block-per-row kernel (rms_norm_kernel.cuh) instead
// of a warp per row. Off by default until a GPU run has passed its [cuda] test (written in
// session 12 without a GPU). A header of its own so that the op's API (rms_norm.h, included by
// every model) does not change with it.
#pragma once

namespace halo::ops {

void set_rms_norm_row_block_enabled(bool enabled);
bool rms_norm_row_block_enabled();

}  // namespace halo::ops
