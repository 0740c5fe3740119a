// SIGINT / SIGTERM handling, the one signal module of the project: the handler only sets a flag;
// the training loop asks agreed_stop_signal() after each optimizer step, and when any rank got a
// signal every rank writes the checkpoint of that step and returns cleanly with the same signal
// number (so every process exits 128 + N, even those the signal did not reach). A second signal
// of the same kind while the first is being handled takes the default action (an impatient
// Ctrl-C ends the process at once).
#pragma once

namespace halo::train {

class GradientSync;

// Installs the handlers (idempotent, clears the flag); they stay until uninstall_stop_handlers().
void install_stop_handlers();
void uninstall_stop_handlers();
bool stop_requested();
// The signal this process received or adopted from a peer (agreed_stop_signal), 0 if none.
int stop_signal_number();
// The signal that stops this step on every rank, 0 to go on: this process's own without `sync`;
// with it a collective (every rank must call it at the same point of each step) where SIGTERM
// wins over SIGINT. A rank that got no signal adopts the agreed one (stop_signal_number()).
int agreed_stop_signal(GradientSync* sync);

}  // namespace halo::train
