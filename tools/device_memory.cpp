// Implementation of device_memory.h.
#include "tools/device_memory.h"

#if HALO_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace halo::tools {

#if HALO_WITH_CUDA
namespace {

// "cuda" without an index means the current device; the allocator wants a real index.
c10::DeviceIndex index_of(const c10::Device& device) {
  return device.has_index() ? device.index() : c10::cuda::current_device();
}

// The allocator's "all pools" counter of allocated bytes.
c10::CachingAllocator::Stat allocated(const c10::Device& device) {
  return c10::cuda::CUDACachingAllocator::getDeviceStats(index_of(device)).allocated_bytes[0];
}

}  // namespace
#endif

int64_t device_allocated_bytes(const c10::Device& device) {
#if HALO_WITH_CUDA
  if (device.is_cuda()) return allocated(device).current;
#endif
  (void)device;
  return -1;
}

void reset_device_peak(const c10::Device& device) {
#if HALO_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(index_of(device));
#endif
  (void)device;
}

int64_t device_peak_bytes(const c10::Device& device) {
#if HALO_WITH_CUDA
  if (device.is_cuda()) return allocated(device).peak;
#endif
  (void)device;
  return -1;
}

}  // namespace halo::tools
