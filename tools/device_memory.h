// CUDA caching-allocator statistics for the bench commands: bytes allocated now, and the peak
// since the last reset. Each returns -1 on the CPU or in a build without CUDA.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>

namespace halo::tools {

int64_t device_allocated_bytes(const c10::Device& device);
void reset_device_peak(const c10::Device& device);
int64_t device_peak_bytes(const c10::Device& device);

}  // namespace halo::tools
