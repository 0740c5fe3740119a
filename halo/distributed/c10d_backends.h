// Factories for LibTorch's c10d communication backends. Each backend lives in its own
// translation unit because its header needs third-party headers and a feature macro:
// gloo_backend.cpp (ProcessGroupGloo, Debian's libgloo-dev headers) and nccl_backend.cpp
// (ProcessGroupNCCL, built only with HALO_WITH_CUDA). The code itself is the wheel's
// libtorch_cpu / libtorch_cuda; this project links no Gloo or NCCL library of its own.
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <string>

namespace halo::distributed {

// Which network interface Gloo binds to.
struct GlooTransport {
  std::string interface;  // a NIC name (GLOO_SOCKET_IFNAME); wins when set
  std::string hostname;   // else an address or host name to bind; empty: this host's name,
                          // falling back to loopback when it does not resolve
};

// A Gloo process group (CPU tensors) of `size` ranks rendezvousing through `store`; every
// collective fails after `timeout` when a peer does not take part.
c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size,
                                                    std::chrono::milliseconds timeout,
                                                    const GlooTransport& transport);

// True when this build has the NCCL backend (HALO_WITH_CUDA).
bool nccl_backend_available();

// Makes CUDA device `index` (the local rank) current for this process, after checking that
// this node has that many GPUs. Throws HaloError in builds without CUDA.
void select_cuda_device(int index, int rank);

// An NCCL process group (CUDA tensors; the current CUDA device must be set before). Throws
// HaloError in builds without CUDA.
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size,
                                                    std::chrono::milliseconds timeout);

}  // namespace halo::distributed
