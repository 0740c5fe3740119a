// `halo-distill launch`: run N local workers of a subcommand as one data-parallel job (see
// halo/distributed/local_launcher.h for what the launcher does and docs/distributed.md).
#include "common/error.h"
#include "halo/distributed/local_launcher.h"
#include "tools/cli_exit.h"
#include "tools/commands.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace halo::tools {

namespace {

std::string this_executable() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  HALO_CHECK(n > 0, "launch: cannot read /proc/self/exe to find this binary");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

void add_launch_command(CLI::App& app) {
  auto plan = std::make_shared<distributed::LaunchPlan>();
  auto* cmd = app.add_subcommand(
      "launch",
      "Run a subcommand as a data-parallel job: start --nproc-per-node workers of this binary "
      "on this node with the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, "
      "...), prefix their output with their rank, forward SIGINT/SIGTERM/SIGHUP to them, and "
      "when one fails stop the others and exit with its rank and message. Usage: "
      "halo-distill launch --nproc-per-node N [--nnodes M --node-rank R --master-addr A "
      "--master-port P] -- SUBCOMMAND [OPTIONS...]");
  cmd->add_option("--nproc-per-node", plan->nproc_per_node,
                  "Workers on this node (usually its number of GPUs)")
      ->required();
  cmd->add_option("--nnodes", plan->nnodes, "Nodes in the job (one launcher per node)")
      ->capture_default_str();
  cmd->add_option("--node-rank", plan->node_rank, "This node's index in [0, nnodes)")
      ->capture_default_str();
  cmd->add_option("--master-addr", plan->master_addr,
                  "Address of node 0 (default with one node: 127.0.0.1)");
  cmd->add_option("--master-port", plan->master_port,
                  "Rendezvous port on node 0 (default with one node: a free port)");
  cmd->add_option("--kill-grace-s", plan->kill_grace_s,
                  "Seconds between SIGTERM and SIGKILL when stopping the workers after a failure")
      ->capture_default_str();
  cmd->add_option("command", plan->arguments,
                  "The subcommand and its options, after --, e.g. -- dist-selftest collectives")
      ->required();
  cmd->callback([plan] {
    plan->executable = this_executable();
    if (plan->nnodes == 1) {
      if (plan->master_addr.empty()) plan->master_addr = "127.0.0.1";
      if (plan->master_port == 0) plan->master_port = distributed::find_free_port();
    }
    // The launcher's code is the job's result.
    set_exit_code(distributed::run_local_workers(*plan));
  });
}

}  // namespace halo::tools
