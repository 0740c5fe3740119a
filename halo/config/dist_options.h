// Options of the distributed layer (YAML section `dist`, part of the pipeline config, so that
// config/ does not depend on distributed/): backend, timeouts, fault detection and
// gradient buckets, optimizer-state sharding (ZeRO-1). Defaults suit one node of H100s; validate()
// names the key to change.
#pragma once

#include <string>

namespace halo::config {

struct DistOptions {
  // "auto" (NCCL for CUDA devices, Gloo for CPU), "gloo" or "nccl".
  std::string backend = "auto";
  // Seconds a collective may wait for its peers before the job ends with an error naming the
  // rank that did not arrive (a dead process, a hung rank or an unreachable host).
  double timeout_s = 600.0;
  // Seconds the rendezvous (TCPStore connect, all ranks joining) may take.
  double init_timeout_s = 300.0;
  // Seconds between liveness heartbeats each rank writes into the store; a rank whose heartbeat
  // stopped for 3 intervals is reported dead when a collective fails.
  double heartbeat_s = 1.0;
  // Size of one gradient all-reduce bucket in MiB; buckets are reduced as soon as all their
  // gradients are ready during backward.
  double bucket_mb = 25.0;
  // Size of the first bucket reduced (the last layers' gradients) in MiB: small so that
  // communication starts early.
  double first_bucket_mb = 1.0;
  // ZeRO stage 1: each rank's AdamW holds the state of its own contiguous share of the trained
  // parameters (balanced by element count) and updates only those; the updated parameters are
  // then broadcast from their owners. Checkpoints keep the full-optimizer format.
  bool zero1 = false;

  // Throws HaloError naming `dist.<key>` for values out of range.
  void validate() const;
};

}  // namespace halo::config
