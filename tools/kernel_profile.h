// Kernel-time breakdown for the bench commands: runs a function once under LibTorch's Kineto
// profiler (CPU and CUDA activities) and prints the GPU activities' total time by name (top N),
// their sum next to the wall time (a sum far below the wall time means the GPU idles: launch-
// or host-bound), and optionally writes the Chrome trace.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace halo::tools {

void print_kernel_profile(std::ostream& out, const std::function<void()>& fn, int top,
                          const std::string& trace_path);

}  // namespace halo::tools
