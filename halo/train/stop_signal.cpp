// Signal flag set by SIGINT / SIGTERM handlers.
#include "halo/train/stop_signal.h"

#include <csignal>

namespace halo::train {

namespace {
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) {
  g_signal = sig;
  // A second Ctrl-C exits at once.
  std::signal(sig, SIG_DFL);
}
}  // namespace

void install_stop_handlers() {
  g_signal = 0;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

void uninstall_stop_handlers() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

bool stop_requested() {
  return g_signal != 0;
}
int stop_signal_number() {
  return static_cast<int>(g_signal);
}

}  // namespace halo::train
