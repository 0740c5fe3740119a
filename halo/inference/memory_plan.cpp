// Implementation of memory_plan.h.
#include "halo/inference/memory_plan.h"

#include "common/error.h"

#include <fstream>
#include <sstream>
#include <string>

#if HALO_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

namespace halo::inference {

int64_t free_memory_bytes(const c10::Device& device) {
#if HALO_WITH_CUDA
  if (device.is_cuda()) {
    const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
    c10::cuda::CUDAGuard guard(index);
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) return -1;
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    const int64_t cached_unused =
        stats.reserved_bytes[0].current - stats.allocated_bytes[0].current;
    return static_cast<int64_t>(free) + cached_unused;
  }
#endif
  if (device.is_cpu()) {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    int64_t kib = 0;
    while (in >> key >> kib) {
      std::getline(in, unit);
      if (key == "MemAvailable:") return kib * 1024;
    }
  }
  return -1;
}

GenerationMemory plan_generation_memory(const hypenet::CacheLayout& layout, int64_t rows,
                                        int64_t capacity, int64_t step_tokens, int64_t hidden,
                                        int64_t intermediate, int64_t vocab, at::ScalarType dtype) {
  GenerationMemory m;
  m.cache = hypenet::cache_bytes(layout, rows, capacity, dtype);
  const int64_t elt = static_cast<int64_t>(c10::elementSize(dtype));
  // Per step token: a few hidden-sized tensors, the MLP's three intermediate-sized ones, and
  // float32 logits of the kept positions (one per row); plus the attention scores of a chunk
  // against its row (step_tokens x capacity per head when the mask path materialises them).
  const int64_t heads = std::max<int64_t>(layout.kv_heads, 1);
  m.activations = step_tokens * (6 * hidden + 3 * intermediate) * elt + rows * vocab * 4 +
                  (layout.num_attention_layers() > 0 ? step_tokens * capacity * heads * 4 : 0);
  return m;
}

void check_generation_fits(const GenerationMemory& plan, const c10::Device& device, int64_t rows,
                           int64_t capacity) {
  const int64_t free = free_memory_bytes(device);
  if (free < 0) return;
  HALO_CHECK(plan.total() <= free, "out of memory: ", rows, " sequence(s) x ", capacity,
             " tokens need ", hypenet::format_bytes(plan.total()), " (KV cache ",
             hypenet::format_bytes(plan.cache.kv), ", recurrent states ",
             hypenet::format_bytes(plan.cache.state), ", activations ",
             hypenet::format_bytes(plan.activations), ") but ", device.str(), " has ",
             hypenet::format_bytes(free),
             " free. HINT: lower --batch-size, --max-new-tokens or --prefill-chunk");
}

}  // namespace halo::inference
