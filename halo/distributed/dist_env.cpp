// dist_env.h: parsing and validation of the torchrun / SLURM environment conventions.
#include "halo/distributed/dist_env.h"

#include "common/error.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

namespace halo::distributed {

namespace {

// A whole-string integer in [lo, hi]; `name` is the variable in the error.
int parse_int(const std::string& name, const std::string& text, long long lo, long long hi) {
  size_t pos = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &pos);
  } catch (const std::exception&) {
    pos = std::string::npos;
  }
  HALO_CHECK(pos == text.size() && !text.empty(), "environment variable ", name, "=\"", text,
             "\" is not an integer");
  HALO_CHECK(v >= lo && v <= hi, "environment variable ", name, "=", v,
             " is out of range; expected ", lo, "..", hi);
  return static_cast<int>(v);
}

std::optional<int> maybe_int(const EnvLookup& env, const std::string& name, long long lo,
                             long long hi) {
  auto text = env(name);
  if (!text) return std::nullopt;
  return parse_int(name, *text, lo, hi);
}

int require_int(const EnvLookup& env, const std::string& name, long long lo, long long hi,
                const std::string& why) {
  auto v = maybe_int(env, name, lo, hi);
  HALO_CHECK(v.has_value(), "environment variable ", name, " is not set but ", why);
  return *v;
}

constexpr long long kMaxWorld = 1 << 20;

// SLURM_TASKS_PER_NODE / SLURM_STEP_TASKS_PER_NODE: "4(x2),3" -> tasks on the first node.
std::optional<int> first_node_tasks(const std::string& text) {
  size_t end = 0;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  if (end == 0) return std::nullopt;
  return std::atoi(text.substr(0, end).c_str());
}

void validate(const DistEnv& e, const std::string& rank_var, const std::string& world_var,
              const std::string& local_var, const std::string& local_world_var) {
  HALO_CHECK(e.world_size >= 1, world_var, "=", e.world_size, " must be at least 1");
  HALO_CHECK(e.rank >= 0 && e.rank < e.world_size, rank_var, "=", e.rank, " is outside [0, ",
             world_var, "=", e.world_size, ")");
  HALO_CHECK(e.local_world_size >= 1 && e.local_world_size <= e.world_size, local_world_var, "=",
             e.local_world_size, " must be in [1, ", world_var, "=", e.world_size, "]");
  HALO_CHECK(e.local_rank >= 0 && e.local_rank < e.local_world_size, local_var, "=", e.local_rank,
             " is outside [0, ", local_world_var, "=", e.local_world_size, ")");
  HALO_CHECK(e.local_rank <= e.rank, local_var, "=", e.local_rank, " is larger than ", rank_var,
             "=", e.rank, "; a local rank can never exceed the global rank");
}

DistEnv from_torchrun(const EnvLookup& env) {
  DistEnv e;
  e.source = LaunchSource::torchrun;
  e.world_size = require_int(env, "WORLD_SIZE", 1, kMaxWorld, "RANK is set (torchrun convention)");
  e.rank = require_int(env, "RANK", 0, kMaxWorld, "WORLD_SIZE is set (torchrun convention)");
  e.local_rank = maybe_int(env, "LOCAL_RANK", 0, kMaxWorld).value_or(e.rank);
  e.local_world_size = maybe_int(env, "LOCAL_WORLD_SIZE", 1, kMaxWorld).value_or(e.world_size);
  validate(e, "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE");
  e.master_addr = env("MASTER_ADDR").value_or("");
  auto port = maybe_int(env, "MASTER_PORT", 1, 65535);
  if (e.is_distributed()) {
    HALO_CHECK(!e.master_addr.empty(),
               "environment variable MASTER_ADDR is not set but WORLD_SIZE=", e.world_size,
               ". HINT: torchrun and `halo-distill launch` set it; set it to the "
               "address of the host of rank 0");
    HALO_CHECK(port.has_value(),
               "environment variable MASTER_PORT is not set but WORLD_SIZE=", e.world_size,
               ". HINT: set it to a free TCP port on the host of rank 0");
  }
  e.master_port = port.value_or(0);
  return e;
}

DistEnv from_slurm(const EnvLookup& env, const HostlistExpander& expand) {
  DistEnv e;
  e.source = LaunchSource::slurm;
  e.world_size =
      require_int(env, "SLURM_NTASKS", 1, kMaxWorld, "SLURM_PROCID is set (srun convention)");
  e.rank = require_int(env, "SLURM_PROCID", 0, kMaxWorld, "SLURM_NTASKS is set");
  e.local_rank = maybe_int(env, "SLURM_LOCALID", 0, kMaxWorld).value_or(0);
  std::optional<int> local_world;
  for (const char* name : {"SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"}) {
    if (auto text = env(name)) {
      local_world = first_node_tasks(*text);
      HALO_CHECK(local_world.has_value(), "environment variable ", name, "=\"", *text,
                 "\" does not start with a task count (expected e.g. \"4(x2)\")");
      break;
    }
  }
  // Heterogeneous nodes are not described by the first node's count; only use it when it
  // covers this task's local id.
  e.local_world_size =
      (local_world && *local_world > e.local_rank) ? *local_world : e.local_rank + 1;
  e.local_world_size = std::min(e.local_world_size, e.world_size);
  validate(e, "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_TASKS_PER_NODE");

  if (auto addr = env("MASTER_ADDR")) {
    e.master_addr = *addr;
  } else if (e.is_distributed()) {
    std::string list_var, hostlist;
    for (const char* name : {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"}) {
      if (auto v = env(name)) {
        list_var = name;
        hostlist = *v;
        break;
      }
    }
    HALO_CHECK(!hostlist.empty(),
               "MASTER_ADDR is not set and no SLURM_STEP_NODELIST / "
               "SLURM_JOB_NODELIST / SLURM_NODELIST is set with SLURM_NTASKS=",
               e.world_size, ". HINT: export MASTER_ADDR=<host of task 0> in the batch script");
    if (hostlist.find_first_of("[") == std::string::npos) {
      // A plain comma-separated list needs no expansion.
      e.master_addr = hostlist.substr(0, hostlist.find(','));
    } else if (auto hosts = expand(hostlist); hosts && !hosts->empty()) {
      e.master_addr = hosts->front();
    } else {
      HALO_FAIL(list_var, "=\"", hostlist,
                "\" is a compressed hostlist and `scontrol show "
                "hostnames` could not expand it. HINT: export MASTER_ADDR=$(scontrol show "
                "hostnames \"$SLURM_JOB_NODELIST\" | head -n1) in the batch script");
    }
  }
  if (auto port = maybe_int(env, "MASTER_PORT", 1, 65535)) {
    e.master_port = *port;
  } else if (e.is_distributed()) {
    auto job = env("SLURM_JOB_ID");
    HALO_CHECK(job.has_value(),
               "MASTER_PORT and SLURM_JOB_ID are both unset; cannot choose the "
               "rendezvous port. HINT: export MASTER_PORT=<free port> in the batch script");
    e.master_port = slurm_default_port(parse_int("SLURM_JOB_ID", *job, 0, (1LL << 62)));
  }
  return e;
}

}  // namespace

const char* launch_source_name(LaunchSource source) {
  switch (source) {
    case LaunchSource::single:
      return "single process";
    case LaunchSource::torchrun:
      return "torchrun";
    case LaunchSource::slurm:
      return "slurm";
  }
  return "?";
}

std::string DistEnv::describe() const {
  std::ostringstream os;
  os << "rank " << rank << "/" << world_size << " (local " << local_rank << "/" << local_world_size
     << ") via " << launch_source_name(source);
  if (!master_addr.empty()) os << ", rendezvous " << master_addr << ":" << master_port;
  return os.str();
}

int slurm_default_port(long long job_id) {
  return 20000 + static_cast<int>(job_id % 20000);
}

DistEnv dist_env_from(const EnvLookup& env, const HostlistExpander& expand_hostlist) {
  const bool torchrun = env("RANK").has_value() || env("WORLD_SIZE").has_value();
  if (torchrun) return from_torchrun(env);
  if (env("SLURM_PROCID").has_value() || env("SLURM_NTASKS").has_value()) {
    return from_slurm(env, expand_hostlist);
  }
  DistEnv e;
  e.master_addr = env("MASTER_ADDR").value_or("");
  e.master_port = maybe_int(env, "MASTER_PORT", 1, 65535).value_or(0);
  return e;
}

std::optional<std::vector<std::string>> scontrol_expand_hostlist(const std::string& hostlist) {
  // The hostlist comes from SLURM's own environment; quote it for the shell anyway.
  std::string quoted = "'";
  for (char c : hostlist) {
    if (c == '\'') return std::nullopt;
    quoted += c;
  }
  quoted += "'";
  const std::string cmd = "scontrol show hostnames " + quoted + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return std::nullopt;
  std::string out;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  const int status = pclose(pipe.release());
  if (status != 0) return std::nullopt;
  std::vector<std::string> hosts;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) hosts.push_back(line);
  }
  if (hosts.empty()) return std::nullopt;
  return hosts;
}

DistEnv dist_env_from_process() {
  auto env = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
  return dist_env_from(env, scontrol_expand_hostlist);
}

}  // namespace halo::distributed
