// stop_request.h: async-signal-safe flag set by the handlers, agreed on by an all-reduce.
#include "halo/distributed/stop_request.h"

#include <unistd.h>
#include <csignal>

namespace halo::distributed {

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void halo_distributed_on_stop_signal(int sig) {
  if (sig == SIGINT && g_signal == SIGINT) _exit(130);
  g_signal = sig;
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = halo_distributed_on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

bool stop_requested() {
  return g_signal != 0;
}

int stop_signal() {
  return static_cast<int>(g_signal);
}

bool any_rank_requested_stop(DistContext& context) {
  auto flag =
      at::full({1}, stop_requested() ? 1.0f : 0.0f, at::TensorOptions().device(context.device()));
  context.all_reduce(flag, c10d::ReduceOp::MAX, "stop-request agreement");
  return flag.item<float>() > 0.0f;
}

}  // namespace halo::distributed
