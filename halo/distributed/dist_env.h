// The distributed environment of this process: rank, world size, local rank and rendezvous
// address, read from the conventions of the launcher that started it (torchrun and
// `halo-distill launch`: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT; SLURM's srun: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NODELIST, ...),
// validated once into a typed struct. A process started by none of them is rank 0 of 1.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace halo::distributed {

// Which convention the values came from.
enum class LaunchSource { single, torchrun, slurm };
const char* launch_source_name(LaunchSource source);

struct DistEnv {
  LaunchSource source = LaunchSource::single;
  int rank = 0;              // global rank, in [0, world_size)
  int world_size = 1;        // number of processes in the job
  int local_rank = 0;        // rank among the processes of this node (selects the GPU)
  int local_world_size = 1;  // processes on this node
  std::string master_addr;   // host of rank 0, where the TCPStore rendezvous listens
  int master_port = 0;       // its port (1..65535); 0 only when world_size == 1 and none was given

  bool is_distributed() const { return world_size > 1; }
  // One line for logs, e.g. "rank 1/4 (local 1/2) via torchrun, rendezvous 10.0.0.1:29500".
  std::string describe() const;
};

// Reads one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// Expands a SLURM hostlist expression ("node[01-03],gpu7") into host names, in order; nullopt
// when it cannot (the default runs `scontrol show hostnames`).
using HostlistExpander =
    std::function<std::optional<std::vector<std::string>>(const std::string& hostlist)>;

// The environment described by `env`. Precedence: RANK/WORLD_SIZE (torchrun, launch) over
// SLURM_PROCID/SLURM_NTASKS (srun) over a single process. Throws HaloError naming the variable
// for a malformed or inconsistent value (rank outside the world, local rank outside the node,
// missing MASTER_ADDR with more than one process, ...).
DistEnv dist_env_from(const EnvLookup& env, const HostlistExpander& expand_hostlist);

// dist_env_from with the process environment and `scontrol show hostnames`.
DistEnv dist_env_from_process();

// `scontrol show hostnames HOSTLIST`; nullopt when scontrol is missing or fails.
std::optional<std::vector<std::string>> scontrol_expand_hostlist(const std::string& hostlist);

// The port used under SLURM when MASTER_PORT is unset: 20000 + SLURM_JOB_ID % 20000, so that
// all tasks of a job agree without communicating and concurrent jobs rarely collide.
int slurm_default_port(long long job_id);

}  // namespace halo::distributed
