// Starting and supervising the local worker processes of one node (`halo-distill launch`):
// each worker is this same binary run with the torchrun environment (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT); its stdout and stderr
// come through line by line prefixed "[rank R] "; SIGINT, SIGTERM and SIGHUP received by the
// launcher are forwarded to every worker; when a worker fails, the others get SIGTERM (then
// SIGKILL after a grace period) and the launcher ends with that first failure's rank and
// message.
#pragma once

#include <string>
#include <vector>

namespace halo::distributed {

struct LaunchPlan {
  std::string executable;              // the worker binary (normally /proc/self/exe)
  std::vector<std::string> arguments;  // the worker's arguments (a subcommand and its options)
  int nproc_per_node = 1;              // workers started here
  int nnodes = 1;                      // nodes in the job, each running one launcher
  int node_rank = 0;                   // this node, in [0, nnodes)
  std::string master_addr;             // host of global rank 0 (the TCPStore)
  int master_port = 0;                 // its port
  double kill_grace_s = 10.0;          // SIGTERM -> SIGKILL delay when stopping the others

  // Throws HaloError naming the launch option at fault.
  void validate() const;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read, close).
int find_free_port();

// Runs the workers of `plan` to completion and returns the launcher's exit code: 0 when all
// succeeded; the first failed worker's exit code (or 128 + its signal) after printing
// "error: launch: rank R (pid P) failed first: <its last error line>"; 128 + the signal when
// the launcher itself was interrupted and forwarded it, even if the workers then exited 0.
int run_local_workers(const LaunchPlan& plan);

}  // namespace halo::distributed
