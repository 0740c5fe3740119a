// c10d_backends.h: the Gloo backend. ProcessGroupGloo.hpp includes Gloo headers, which the
// torch wheel does not ship; Debian's libgloo-dev provides them (headers only: the Gloo code
// is the copy inside libtorch_cpu.so, whose gloo:: symbols it exports, so no libgloo.so is
// linked). This is safe because this file only uses ProcessGroupGloo's exported functions and
// the layouts of ProcessGroupGloo and its Options, which hold Gloo types through
// std::shared_ptr only: the sizes this file sees (488 and 176 bytes with torch 2.11.0) equal
// the sizes libtorch_cpu allocates in ProcessGroupGloo::split and Options::create_default
// (checked by disassembly, see docs/distributed.md); the static_asserts below catch a change.
#ifndef USE_C10D_GLOO  // torch's CMake config defines it for every target
#define USE_C10D_GLOO 1
#endif
#include "halo/distributed/c10d_backends.h"

#include "common/error.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

namespace halo::distributed {

#if defined(__x86_64__) && defined(__GLIBCXX__)
static_assert(sizeof(c10d::ProcessGroupGloo) == 488,
              "ProcessGroupGloo's layout differs from the one checked against libtorch_cpu "
              "2.11.0; re-check it (docs/distributed.md) before changing this number");
static_assert(sizeof(c10d::ProcessGroupGloo::Options) == 176,
              "ProcessGroupGloo::Options' layout differs from the one checked against "
              "libtorch_cpu 2.11.0; re-check it (docs/distributed.md)");
#endif

c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size,
                                                    std::chrono::milliseconds timeout,
                                                    const GlooTransport& transport) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  try {
    if (!transport.interface.empty()) {
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForInterface(transport.interface));
    } else if (!transport.hostname.empty()) {
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname(transport.hostname));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
  } catch (const std::exception& e) {
    HALO_FAIL("rank ", rank, ": Gloo cannot bind to ",
              transport.interface.empty() ? "host \"" + transport.hostname + "\""
                                          : "interface \"" + transport.interface + "\"",
              ": ", e.what(),
              ". HINT: set GLOO_SOCKET_IFNAME to the network interface that "
              "reaches the other hosts (see `ip addr`)");
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
}

}  // namespace halo::distributed
