// c10d_backends.h: the NCCL backend (ProcessGroupNCCL from the wheel's libtorch_cuda). Built
// only with HALO_WITH_CUDA, where nccl.h comes from the wheel's nvidia-nccl package or the CUDA
// toolkit; CPU-only builds get the HaloError below.
#include "halo/distributed/c10d_backends.h"

#include "halo/common/error.h"

#if HALO_WITH_CUDA
#ifndef USE_C10D_NCCL  // torch's CMake config defines it for every target
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace halo::distributed {

bool nccl_backend_available() {
  return HALO_WITH_CUDA != 0;
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
