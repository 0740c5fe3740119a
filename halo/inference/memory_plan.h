// Will a generation fit? The bytes a cache needs (hypenet::cache_bytes) plus the activations of
// one prefill chunk, against the memory the device has free, checked before anything is
// allocated so that a request too large for the card gets "needs X, free Y" instead of a crash.
#pragma once

#include "hypenet/hybrid_cache.h"

#include <c10/core/Device.h>

#include <cstdint>

namespace halo::inference {

// Bytes that can still be allocated on `device`: on a GPU the driver's free memory plus what
// the caching allocator holds unused; on the CPU MemAvailable from /proc/meminfo. -1 when
// unknown.
int64_t free_memory_bytes(const c10::Device& device);

struct GenerationMemory {
  hypenet::CacheBytes cache;
  int64_t activations = 0;  // the largest step's working set (estimate, see memory_plan.cpp)
  int64_t total() const { return cache.total() + activations; }
};

// rows: cache rows; capacity: tokens per row; step_tokens: the most tokens one forward takes
// (rows x prefill chunk); hidden / intermediate / vocab: the model's sizes.
GenerationMemory plan_generation_memory(const hypenet::CacheLayout& layout, int64_t rows,
                                        int64_t capacity, int64_t step_tokens, int64_t hidden,
                                        int64_t intermediate, int64_t vocab, at::ScalarType dtype);

// Throws "out of memory: the cache for R x C tokens needs X (KV a, states b, activations c) but
// <device> has Y free" when the plan exceeds the free memory (no check when it is unknown).
void check_generation_fits(const GenerationMemory& plan, const c10::Device& device, int64_t rows,
                           int64_t capacity);

}  // namespace halo::inference
