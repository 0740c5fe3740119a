// c10d_backends.h: the NCCL backend (ProcessGroupNCCL from the wheel's libtorch_cuda). Built
// only with HALO_WITH_CUDA, where nccl.h comes from the wheel's nvidia-nccl package or the CUDA
// toolkit; CPU-only builds get the HaloError below.
#include "halo/distributed/c10d_backends.h"

#include "common/error.h"

#if HALO_WITH_CUDA
#ifndef USE_C10D_NCCL  // torch's CMake config defines it for every target
#define USE_C10D_NCCL 1
#endif
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace halo::distributed {

bool nccl_backend_available() {
  return HALO_WITH_CUDA != 0;
}

void select_cuda_device(int index, int rank) {
#if HALO_WITH_CUDA
  const int count = c10::cuda::device_count();
  HALO_CHECK(index < count, "rank ", rank, ": LOCAL_RANK=", index, " but this node has ", count,
             " visible CUDA devices. HINT: start at most one process per GPU (--nproc-per-node), "
             "and check CUDA_VISIBLE_DEVICES");
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(index));
#else
  HALO_FAIL("rank ", rank, ": CUDA device ", index,
            " requested in a build without CUDA (HALO_WITH_CUDA=OFF)");
#endif
}

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size,
                                                    std::chrono::milliseconds timeout) {
#if HALO_WITH_CUDA
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
#else
  (void)store;
  (void)size;
  (void)timeout;
  HALO_FAIL("rank ", rank,
            ": dist.backend=nccl needs a build with CUDA (HALO_WITH_CUDA=ON). "
            "HINT: build with scripts/build-gpu.sh, or use dist.backend=gloo for CPU tensors");
#endif
}

}  // namespace halo::distributed
