// The process group of a distributed run: TCPStore rendezvous at MASTER_ADDR:MASTER_PORT (rank 0
// hosts it), a c10d backend (Gloo for CPU tensors, NCCL for CUDA tensors) wrapped in a
// c10d::ProcessGroup, and a PeerMonitor, so that a failed or timed-out collective ends the job
// with a HaloError naming the rank at fault instead of hanging. One per process; a
// single-process run gets a world of one (an in-memory store, no network).
#pragma once

#include "halo/config/dist_options.h"
#include "halo/distributed/dist_env.h"

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <memory>
#include <string>

namespace halo::distributed {

// The options are the pipeline config's `dist:` section (halo/config), read by this layer.
using config::DistOptions;

class PeerMonitor;

// The rendezvous-store keys of the orderly leave (~DistContext): each leaving rank adds 1 to
// kLeftKey; the rank whose add reaches the world size sets kAllLeftKey, which rank 0 waits for
// before its store goes.
inline constexpr const char* kLeftKey = "halo/left";
inline constexpr const char* kAllLeftKey = "halo/left/all";

class DistContext {
 public:
  // Joins the job described by `env` (blocks until all ranks joined, at most
  // options.init_timeout_s). `device` selects the backend when options.backend is "auto";
  // with NCCL, CUDA device LOCAL_RANK becomes this process's current device.
  DistContext(const DistEnv& env, const DistOptions& options, c10::DeviceType device);
  // Leaves the job in order: rank 0 keeps the store up until every rank has left (at most
  // options.timeout_s), so no rank sees rank 0 vanish during a normal exit.
  ~DistContext();
  DistContext(const DistContext&) = delete;
  DistContext& operator=(const DistContext&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  const DistEnv& env() const { return env_; }
  const DistOptions& options() const { return options_; }
  // "gloo" or "nccl".
  const std::string& backend_name() const { return backend_name_; }
  // Where this rank's tensors to reduce live: CPU for Gloo, cuda:LOCAL_RANK for NCCL.
  c10::Device device() const { return device_; }
  const c10::intrusive_ptr<c10d::ProcessGroup>& process_group() const { return group_; }

  // In-place collectives on a tensor of this backend's device; `what` names the collective in
  // errors. All ranks must call them in the same order.
  void all_reduce(at::Tensor& tensor, c10d::ReduceOp op, const std::string& what);
  void broadcast(at::Tensor& tensor, int root, const std::string& what);
  void barrier(const std::string& what);
  // A barrier through the rendezvous store instead of the backend, with its own timeout
  // (timeout_s > 0; <= 0 means dist.timeout_s): for waits longer than a collective may take,
  // e.g. the other ranks waiting while rank 0 runs the quality gate. `timeout_key` names the
  // setting that gave timeout_s in the error (e.g. "quality_gate.timeout_s").
  void wait_for_all(const std::string& what, double timeout_s,
                    const std::string& timeout_key = "dist.timeout_s");
  // The mean of `value` over all ranks (logged losses, validation figures).
  double all_reduce_mean(double value, const std::string& what);

  // Counts a collective issued on process_group() directly (e.g. by the gradient reducer), so
  // fault diagnosis can tell which rank is behind.
  void note_collective();
  // Waits for `work`; when it fails (a peer died, the timeout expired) calls fail().
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what);
  // Throws HaloError: "rank R of W: <what> failed: <which rank is dead/hung>. Cause: <cause>".
  // `timeout` names the timeout that applied (default: "dist.timeout_s=<value>").
  [[noreturn]] void fail(const std::string& what, const std::string& cause,
                         const std::string& timeout = "");

 private:
  void leave_in_order();

  DistEnv env_;
  DistOptions options_;
  std::string backend_name_;
  c10::Device device_ = c10::kCPU;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
  std::unique_ptr<PeerMonitor> monitor_;
  int64_t store_barriers_ = 0;  // wait_for_all calls so far (each gets its own store keys)
};

// The device type a backend name serves ("nccl" -> CUDA, "gloo" -> CPU), for callers that place
// tensors to reduce.
c10::DeviceType backend_device(const std::string& backend_name);

}  // namespace halo::distributed
