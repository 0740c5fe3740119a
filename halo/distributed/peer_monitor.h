// Liveness of the other ranks, for error messages that name the culprit when a collective
// fails or times out. Each rank's background thread writes a heartbeat (a counter and the
// number of collectives this rank has entered) into the rendezvous TCPStore; diagnose() reads
// them twice, some heartbeats apart, and names the ranks that stopped (died, host unreachable),
// that are alive but behind (hung before the collective), or that already finished.
#pragma once

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace halo::distributed {

class PeerMonitor {
 public:
  // Starts the heartbeat thread; it connects its own client to the store at addr:port.
  PeerMonitor(std::string addr, int port, int rank, int world_size,
              std::chrono::milliseconds heartbeat, std::chrono::milliseconds connect_timeout);
  ~PeerMonitor();
  PeerMonitor(const PeerMonitor&) = delete;
  PeerMonitor& operator=(const PeerMonitor&) = delete;

  // Counts one collective this rank is about to enter (published with the next heartbeat).
  void enter_collective() { ++collectives_; }
  uint64_t collectives_entered() const { return collectives_.load(); }

  // Marks this rank as finished normally, so peers still waiting do not report it as dead.
  void mark_finished();

  // Why the current collective (number collectives_entered()) cannot complete: one sentence per
  // rank that is dead, behind or finished. Blocks about 3 heartbeats.
  std::string diagnose();

 private:
  void heartbeat_loop(c10::intrusive_ptr<c10d::TCPStore> store);
  std::string key(const char* what, int rank) const;

  std::string addr_;
  int port_;
  int rank_;
  int world_size_;
  std::chrono::milliseconds heartbeat_;
  std::chrono::milliseconds connect_timeout_;
  std::atomic<uint64_t> collectives_{0};
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace halo::distributed
