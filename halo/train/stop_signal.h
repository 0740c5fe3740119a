// SIGINT / SIGTERM handling for training: the handler only sets a flag; the training loop polls
// stop_requested() after each optimizer step, writes a checkpoint and returns cleanly. A second
// signal while the first is being handled falls back to the default action (exit).
#pragma once

namespace halo::train {

// Installs the handlers (idempotent); they stay until uninstall_stop_handlers().
void install_stop_handlers();
void uninstall_stop_handlers();
bool stop_requested();
int stop_signal_number();  // the signal received, 0 if none

}  // namespace halo::train
