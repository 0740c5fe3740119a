// Parsing and checking of the --device flag.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace halo::tools {

// "cpu", "cuda" or "cuda:N"; a CUDA device on a machine without one is a clear error.
c10::Device parse_device(const std::string& text);

}  // namespace halo::tools
