// stop_signal.h: an async-signal-safe flag set by the handlers, agreed on by a sum over ranks.
#include "halo/train/stop_signal.h"

#include "halo/train/gradient_sync.h"

#include <csignal>

namespace halo::train {

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void halo_on_stop_signal(int sig) {
  g_signal = sig;
}

void set_handler(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  // SA_RESETHAND: the next signal of this kind takes the default action (ends the process).
  sa.sa_flags = SA_RESTART | (handler == SIG_DFL ? 0 : SA_RESETHAND);
  sigaction(sig, &sa, nullptr);
}

}  // namespace

void install_stop_handlers() {
  g_signal = 0;
  set_handler(SIGINT, halo_on_stop_signal);
  set_handler(SIGTERM, halo_on_stop_signal);
}

void uninstall_stop_handlers() {
  set_handler(SIGINT, SIG_DFL);
  set_handler(SIGTERM, SIG_DFL);
}

bool stop_requested() {
  return g_signal != 0;
}

int stop_signal_number() {
  return static_cast<int>(g_signal);
}

int agreed_stop_signal(GradientSync* sync) {
  const int own = stop_signal_number();
  if (sync == nullptr) return own;
  const auto got = sync->all_reduce_sum({own == SIGINT ? 1.0 : 0.0, own == SIGTERM ? 1.0 : 0.0});
  const int agreed = got[1] > 0 ? SIGTERM : got[0] > 0 ? SIGINT : 0;
  if (own == 0 && agreed != 0) g_signal = agreed;
  return agreed;
}

}  // namespace halo::train
