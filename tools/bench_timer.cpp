// Implementation of bench_timer.h.
#include "tools/bench_timer.h"

#include "common/error.h"

#include <c10/core/Event.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <algorithm>
#include <chrono>

namespace halo::tools {

std::vector<double> time_runs(const c10::Device& device, int warmup, int iters,
                              const std::function<void()>& fn) {
  HALO_CHECK(iters > 0 && warmup >= 0, "bench: --iters must be > 0 and --warmup >= 0");
  std::vector<double> ms;
  if (device.is_cuda()) {
    c10::impl::VirtualGuardImpl impl(c10::DeviceType::CUDA);
    const auto stream = impl.getStream(device);
    for (int i = 0; i < warmup; ++i) fn();
    for (int i = 0; i < iters; ++i) {
      c10::Event start(c10::DeviceType::CUDA, c10::EventFlag::BACKEND_DEFAULT);
      c10::Event stop(c10::DeviceType::CUDA, c10::EventFlag::BACKEND_DEFAULT);
      start.record(stream);
      fn();
      stop.record(stream);
      stop.synchronize();
      ms.push_back(start.elapsedTime(stop));
    }
    return ms;
  }
  for (int i = 0; i < warmup + iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    auto t1 = std::chrono::steady_clock::now();
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return ms;
}

double median_of(std::vector<double> v) {
  HALO_CHECK(!v.empty(), "median of no values");
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace halo::tools
