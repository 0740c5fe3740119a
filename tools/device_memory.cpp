// Implementation of device_memory.h.
#include "tools/device_memory.h"

#if HALO_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace halo::tools {

int64_t device_allocated_bytes(const c10::Device& device) {
#if HALO_WITH_CUDA
  if (device.is_cuda()) {
    return c10::cuda::CUDACachingAllocator::getDeviceStats(device.index())
        .allocated_bytes[0]
        .current;
  }
#endif
  (void)device;
  return -1;
}

void reset_device_peak(const c10::Device& device) {
#if HALO_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
  (void)device;
}

int64_t device_peak_bytes(const c10::Device& device) {
#if HALO_WITH_CUDA
  if (device.is_cuda()) {
    return c10::cuda::CUDACachingAllocator::getDeviceStats(device.index()).allocated_bytes[0].peak;
  }
#endif
  (void)device;
  return -1;
}

}  // namespace halo::tools
