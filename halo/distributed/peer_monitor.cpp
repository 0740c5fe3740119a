// peer_monitor.h: heartbeats in the TCPStore and the diagnosis of a failed collective.
#include "halo/distributed/peer_monitor.h"

#include <map>
#include <sstream>
#include <vector>

namespace halo::distributed {

namespace {

struct Beat {
  bool present = false;
  uint64_t count = 0;        // heartbeats written so far
  uint64_t collectives = 0;  // collectives entered so far
};

c10::intrusive_ptr<c10d::TCPStore> connect_client(const std::string& addr, int port,
                                                  std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(port);
  o.isServer = false;
  o.waitWorkers = false;
  o.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(addr, o);
}

std::string to_text(const std::vector<uint8_t>& v) {
  return std::string(v.begin(), v.end());
}
std::vector<uint8_t> to_bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

}  // namespace

PeerMonitor::PeerMonitor(std::string addr, int port, int rank, int world_size,
                         std::chrono::milliseconds heartbeat,
                         std::chrono::milliseconds connect_timeout)
    : addr_(std::move(addr)),
      port_(port),
      rank_(rank),
      world_size_(world_size),
      heartbeat_(heartbeat),
      connect_timeout_(connect_timeout) {
  // The first heartbeat is written before the constructor returns, so a rank that has joined
  // the job is never reported as "never sent a heartbeat".
  c10::intrusive_ptr<c10d::TCPStore> store = connect_client(addr_, port_, connect_timeout_);
  store->set(key("beat", rank_), to_bytes("1 0"));
  thread_ = std::thread([this, store] { heartbeat_loop(store); });
}

PeerMonitor::~PeerMonitor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

std::string PeerMonitor::key(const char* what, int rank) const {
  return "halo/peer/" + std::string(what) + "/" + std::to_string(rank);
}

void PeerMonitor::heartbeat_loop(c10::intrusive_ptr<c10d::TCPStore> store) {
  uint64_t count = 1;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    lock.unlock();
    try {
      if (!store) store = connect_client(addr_, port_, connect_timeout_);
      ++count;
      store->set(key("beat", rank_),
                 to_bytes(std::to_string(count) + " " + std::to_string(collectives_.load())));
    } catch (const std::exception&) {
      // The store (on rank 0) is gone: rank 0 died or finished. Peers diagnose it by the store
      // itself being unreachable; nothing left to publish.
      store.reset();
    }
    lock.lock();
    stop_cv_.wait_for(lock, heartbeat_, [this] { return stop_; });
  }
}

void PeerMonitor::mark_finished() {
  try {
    auto store = connect_client(addr_, port_, connect_timeout_);
    store->set(key("finished", rank_), to_bytes("1"));
  } catch (const std::exception&) {
    // Nobody is left to tell.
  }
}

std::string PeerMonitor::diagnose() {
  const uint64_t mine = collectives_.load();
  c10::intrusive_ptr<c10d::TCPStore> store;
  try {
    store = connect_client(addr_, port_, connect_timeout_);
  } catch (const std::exception& e) {
    return "rank 0 is unreachable: the rendezvous store it hosts at " + addr_ + ":" +
           std::to_string(port_) +
           " does not answer (rank 0 died, finished, or its host is "
           "unreachable; " +
           e.what() + ")";
  }
  auto read_all = [&]() {
    std::map<int, Beat> beats;
    for (int r = 0; r < world_size_; ++r) {
      if (r == rank_) continue;
      Beat b;
      const std::string k = key("beat", r);
      if (store->check({k})) {
        std::istringstream in(to_text(store->get(k)));
        in >> b.count >> b.collectives;
        b.present = true;
      }
      beats[r] = b;
    }
    return beats;
  };
  std::map<int, Beat> first, second;
  try {
    first = read_all();
    std::this_thread::sleep_for(heartbeat_ * 3);
    second = read_all();
  } catch (const std::exception& e) {
    return "rank 0 became unreachable while checking the other ranks: the rendezvous store at " +
           addr_ + ":" + std::to_string(port_) + " stopped answering (" + e.what() + ")";
  }
  std::ostringstream out;
  int named = 0;
  for (const auto& [r, b] : second) {
    std::string finished_key = key("finished", r);
    bool finished = false;
    try {
      finished = store->check({finished_key});
    } catch (const std::exception&) {
    }
    std::string what;
    if (finished) {
      what = "rank " + std::to_string(r) + " had already finished and left the job";
    } else if (!b.present) {
      what = "rank " + std::to_string(r) + " never sent a heartbeat (it died during start-up)";
    } else if (b.count == first[r].count) {
      what = "rank " + std::to_string(r) + " stopped responding: its heartbeat stopped after " +
             std::to_string(b.collectives) +
             " collectives (its process died or its host is "
             "unreachable)";
    } else if (b.collectives < mine) {
      what = "rank " + std::to_string(r) + " is alive but hung: it has entered " +
             std::to_string(b.collectives) + " collectives, this rank " + std::to_string(mine);
    } else {
      continue;
    }
    out << (named++ ? "; " : "") << what;
  }
  if (named == 0) {
    return "every rank is alive and has reached this collective, so the collective itself failed "
           "(network or backend error)";
  }
  return out.str();
}

}  // namespace halo::distributed
