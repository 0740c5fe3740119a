// Implementation of device_arg.h.
#include "tools/device_arg.h"

#include "common/error.h"

#include <torch/cuda.h>

namespace halo::tools {

c10::Device parse_device(const std::string& text) {
  HALO_CHECK(text == "cpu" || text.rfind("cuda", 0) == 0, "--device: expected cpu, cuda or cuda:N, got \"",
             text, "\"");
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(text);
  } catch (const std::exception&) {
    HALO_FAIL("--device: expected cpu, cuda or cuda:N, got \"", text, "\"");
  }
  if (device.is_cuda()) {
    HALO_CHECK(torch::cuda::is_available(), "--device ", text,
               ": no CUDA device is available on this machine (use --device cpu)");
    HALO_CHECK(!device.has_index() || device.index() < static_cast<int>(torch::cuda::device_count()),
               "--device ", text, ": only ", torch::cuda::device_count(), " CUDA device(s) present");
  }
  return device;
}

}  // namespace halo::tools
