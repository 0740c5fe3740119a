// dist_context.h: rendezvous, backend creation, collectives with fault diagnosis, shutdown.
#include "halo/distributed/dist_context.h"

#include "common/error.h"
#include "halo/distributed/c10d_backends.h"
#include "halo/distributed/peer_monitor.h"

#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <exception>
#include <sstream>

namespace halo::distributed {

namespace {

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

GlooTransport gloo_transport(const DistEnv& env) {
  GlooTransport t;
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
    std::string list(ifname);
    t.interface = list.substr(0, list.find(','));
  } else if (!env.is_distributed() || is_loopback(env.master_addr)) {
    t.hostname = "127.0.0.1";
  }
  return t;
}

}  // namespace

c10::DeviceType backend_device(const std::string& backend_name) {
  return backend_name == "nccl" ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
}

DistContext::DistContext(const DistEnv& env, const DistOptions& options, c10::DeviceType device)
    : env_(env), options_(options) {
  options_.validate();
  backend_name_ = options_.backend;
  if (backend_name_ == "auto") backend_name_ = device == c10::DeviceType::CUDA ? "nccl" : "gloo";
  HALO_CHECK(
      backend_device(backend_name_) == device || options_.backend == "auto",
      "dist.backend=", backend_name_, " cannot reduce tensors on ", c10::DeviceTypeName(device),
      ". HINT: use dist.backend=", device == c10::DeviceType::CUDA ? "nccl" : "gloo", " or auto");

  if (backend_name_ == "nccl") {
    select_cuda_device(env_.local_rank, env_.rank);
    device_ = c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(env_.local_rank));
  }
  const auto init_timeout = to_ms(options_.init_timeout_s);
  if (env_.is_distributed()) {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env_.master_port);
    so.isServer = env_.rank == 0;
    so.numWorkers = env_.world_size;
    so.waitWorkers = true;
    so.timeout = init_timeout;
    try {
      store_ = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, so);
    } catch (const std::exception& e) {
      HALO_FAIL("rank ", env_.rank, " of ", env_.world_size, ": rendezvous at ", env_.master_addr,
                ":", env_.master_port,
                " failed within dist.init_timeout_s=", options_.init_timeout_s, " s: ", e.what(),
                ". HINT: check that all ranks were started with the same MASTER_ADDR/MASTER_PORT, "
                "that the port is free on rank 0's host and reachable from the others");
    }
    monitor_ = std::make_unique<PeerMonitor>(env_.master_addr, env_.master_port, env_.rank,
                                             env_.world_size, to_ms(options_.heartbeat_s),
                                             std::chrono::milliseconds(5000));
  } else {
    store_ = c10::make_intrusive<c10d::HashStore>();
  }

  auto backend_store = c10::make_intrusive<c10d::PrefixStore>("halo/" + backend_name_, store_);
  const auto timeout = to_ms(options_.timeout_s);
  c10::intrusive_ptr<c10d::Backend> backend;
  try {
    if (backend_name_ == "nccl") {
      backend = make_nccl_backend(backend_store, env_.rank, env_.world_size, timeout);
    } else {
      backend = make_gloo_backend(backend_store, env_.rank, env_.world_size, timeout,
                                  gloo_transport(env_));
    }
  } catch (const HaloError&) {
    throw;
  } catch (const std::exception& e) {
    fail("creating the " + backend_name_ + " process group", e.what());
  }
  group_ = c10::make_intrusive<c10d::ProcessGroup>(store_, env_.rank, env_.world_size);
  const auto type = backend_name_ == "nccl" ? c10d::ProcessGroup::BackendType::NCCL
                                            : c10d::ProcessGroup::BackendType::GLOO;
  group_->setBackend(backend_device(backend_name_), type, backend);
  group_->setDefaultBackend(type);
}

DistContext::~DistContext() {
  // Leaving because of an error: do not wait for peers, which may be dead or stuck in a
  // collective this rank will never join; they see this rank go and name it.
  if (env_.is_distributed() && std::uncaught_exceptions() == 0) leave_in_order();
  group_.reset();
  monitor_.reset();
}

void DistContext::leave_in_order() {
  try {
    monitor_->mark_finished();
    const int64_t left = store_->add(kLeftKey, 1);
    if (left == env_.world_size) {
      store_->set(kAllLeftKey, std::vector<uint8_t>{1});
    } else if (env_.rank == 0) {
      // The store lives in this process: keep it until the others have left.
      store_->wait({kAllLeftKey}, to_ms(options_.timeout_s));
    }
  } catch (const std::exception&) {
    // A peer died during shutdown; there is nothing left to coordinate.
  }
}

void DistContext::note_collective() {
  if (monitor_) monitor_->enter_collective();
}

void DistContext::wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
}

void DistContext::all_reduce(at::Tensor& tensor, c10d::ReduceOp op, const std::string& what) {
  note_collective();
  std::vector<at::Tensor> tensors{tensor};
  c10d::AllreduceOptions o;
  o.reduceOp = op;
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = group_->allreduce(tensors, o);
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
  wait(work, what);
}

void DistContext::broadcast(at::Tensor& tensor, int root, const std::string& what) {
  note_collective();
  std::vector<at::Tensor> tensors{tensor};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = group_->broadcast(tensors, o);
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
  wait(work, what);
}

void DistContext::barrier(const std::string& what) {
  // A one-element all-reduce instead of ProcessGroup::barrier: the same timeout and diagnosis,
  // and it needs no device guess for NCCL.
  auto t = at::zeros({1}, at::TensorOptions().device(device_));
  all_reduce(t, c10d::ReduceOp::SUM, what);
}

void DistContext::wait_for_all(const std::string& what, double timeout_s,
                               const std::string& timeout_key) {
  if (timeout_s <= 0) timeout_s = options_.timeout_s;
  // Every rank counts its calls alike, so the n-th wait of each rank uses the same keys: an
  // arrival counter, and a flag the last rank to arrive sets.
  const std::string key = "halo/wait_for_all/" + std::to_string(store_barriers_++);
  note_collective();
  try {
    if (store_->add(key, 1) == env_.world_size) store_->set(key + "/all", std::vector<uint8_t>{1});
    store_->wait({key + "/all"}, to_ms(timeout_s));
  } catch (const std::exception& e) {
    std::ostringstream t;
    t << timeout_key << "=" << timeout_s;
    fail(what, e.what(), t.str());
  }
}

double DistContext::all_reduce_mean(double value, const std::string& what) {
  auto t = at::full({1}, value, at::TensorOptions().dtype(at::kDouble).device(device_));
  all_reduce(t, c10d::ReduceOp::SUM, what);
  return t.item<double>() / env_.world_size;
}

void DistContext::fail(const std::string& what, const std::string& cause,
                       const std::string& timeout) {
  std::string diagnosis = monitor_ ? monitor_->diagnose() : "single process";
  const uint64_t n = monitor_ ? monitor_->collectives_entered() : 0;
  // Only the first line of the backend's message: c10 errors append a C++ backtrace.
  const std::string first_line = cause.substr(0, cause.find('\n'));
  std::ostringstream applied;
  if (timeout.empty()) {
    applied << "dist.timeout_s=" << options_.timeout_s;
  } else {
    applied << timeout;
  }
  HALO_FAIL("rank ", env_.rank, " of ", env_.world_size, ": ", what, " (collective #", n,
            ", dist.backend=", backend_name_, ", ", applied.str(), ") failed: ", diagnosis,
            ". Cause: ", first_line,
            ". HINT: read the log of the rank named above for its own error");
}

}  // namespace halo::distributed
