// Coordinated stop on SIGTERM / SIGINT: the handlers only set a flag; the training loop asks
// any_rank_requested_stop() once per step (a one-element all-reduce), so that all ranks agree
// on the same step to write a checkpoint and exit, whichever rank got the signal.
#pragma once

#include "halo/distributed/dist_context.h"

namespace halo::distributed {

// Installs the SIGTERM and SIGINT handlers (idempotent). A second SIGINT ends the process at
// once (exit code 130), for an impatient Ctrl-C.
void install_stop_handlers();
// Whether this process received SIGTERM or SIGINT since install_stop_handlers().
bool stop_requested();
// The signal received (SIGTERM, SIGINT), 0 when none.
int stop_signal();
// Collective: true on every rank when any rank has stop_requested(). All ranks must call it at
// the same point of each step.
bool any_rank_requested_stop(DistContext& context);

}  // namespace halo::distributed
