// Implementation of kernel_profile.h.
#include "tools/kernel_profile.h"

#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <map>
#include <set>
#include <vector>

namespace halo::tools {

void print_kernel_profile(std::ostream& out, const std::function<void()>& fn, int top,
                          const std::string& trace_path) {
  namespace prof = torch::profiler::impl;
  const prof::ProfilerConfig config(prof::ProfilerState::KINETO);
  const std::set<prof::ActivityType> activities{prof::ActivityType::CPU, prof::ActivityType::CUDA};
  torch::autograd::profiler::prepareProfiler(config, activities);
  torch::autograd::profiler::enableProfiler(config, activities);
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  // The kernels fn launched may still be running: CUPTI records a kernel only once it ends, so
  // stopping without this lost every kernel of a call that did not synchronise itself (the
  // bench lightning forward listed only the decay check, 2026-12-06).
  if (torch::cuda::is_available()) torch::cuda::synchronize();
  const auto t1 = std::chrono::steady_clock::now();
  auto result = torch::autograd::profiler::disableProfiler();
  if (!trace_path.empty()) result->save(trace_path);

  struct Total {
    double ns = 0;
    int64_t count = 0;
  };
  std::map<std::string, Total> by_name;
  double gpu_ns = 0;
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CUDA) continue;
    auto& t = by_name[e.name()];
    t.ns += static_cast<double>(e.durationNs());
    t.count += 1;
    gpu_ns += static_cast<double>(e.durationNs());
  }
  std::vector<std::pair<std::string, Total>> rows(by_name.begin(), by_name.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  const double wall_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  out << std::fixed << std::setprecision(2) << "profile of one call: wall " << wall_ms
      << " ms, GPU activities " << gpu_ns / 1e6 << " ms in " << by_name.size() << " kinds\n"
      << "      ms   share  count  name\n";
  for (int i = 0; i < top && i < static_cast<int>(rows.size()); ++i) {
    const auto& [name, t] = rows[i];
    out << std::setw(8) << t.ns / 1e6 << std::setw(7) << std::setprecision(1)
        << 100.0 * t.ns / std::max(gpu_ns, 1.0) << "%" << std::setw(7) << t.count << "  "
        << name.substr(0, 110) << "\n"
        << std::setprecision(2);
  }
}

}  // namespace halo::tools
