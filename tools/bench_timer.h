// Timing for the bench commands: runs a function warm-up + N times and returns every timed
// duration in milliseconds. On CUDA devices each run is bracketed by device events recorded on
// the current stream (METHOD.md: events, not host clocks); on the CPU a steady clock is used.
#pragma once

#include <c10/core/Device.h>

#include <functional>
#include <vector>

namespace halo::tools {

std::vector<double> time_runs(const c10::Device& device, int warmup, int iters,
                              const std::function<void()>& fn);

// Median of a non-empty vector.
double median_of(std::vector<double> v);

}  // namespace halo::tools
