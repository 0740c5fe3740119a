// halo/distributed in one process: the torchrun / SLURM environment parsing and its errors,
// option validation, and the gradient sync in a world of one (c10d Reducer over Gloo with an
// in-memory store): scaling, no_sync accumulation and parameter checks.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "halo/distributed/bucketed_gradient_sync.h"
#include "halo/distributed/dist_context.h"
#include "halo/distributed/dist_env.h"
#include "halo/distributed/local_launcher.h"
#include "tests/test_util.h"

#include <torch/torch.h>

#include <map>

using namespace halo;
using namespace halo::distributed;
using Catch::Matchers::Contains;

namespace {

using Env = std::map<std::string, std::string>;

EnvLookup lookup(const Env& env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

// Expands only the hostlist it was told about; records that it was asked.
struct FakeScontrol {
  std::string hostlist;
  std::vector<std::string> hosts;
  int calls = 0;
  HostlistExpander expander() {
    return [this](const std::string& list) -> std::optional<std::vector<std::string>> {
      ++calls;
      if (list != hostlist) return std::nullopt;
      return hosts;
    };
  }
};

HostlistExpander no_scontrol() {
  return [](const std::string&) -> std::optional<std::vector<std::string>> { return std::nullopt; };
}

std::string error_of(const Env& env, HostlistExpander expand = no_scontrol()) {
  try {
    dist_env_from(lookup(env), expand);
  } catch (const HaloError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("a process started by no launcher is rank 0 of 1", "[dist]") {
  auto e = dist_env_from(lookup({}), no_scontrol());
  CHECK(e.source == LaunchSource::single);
  CHECK(e.rank == 0);
  CHECK(e.world_size == 1);
  CHECK(e.local_rank == 0);
  CHECK_FALSE(e.is_distributed());
}

TEST_CASE("torchrun's variables are read into DistEnv", "[dist]") {
  auto e = dist_env_from(lookup({{"RANK", "5"},
                                 {"WORLD_SIZE", "8"},
                                 {"LOCAL_RANK", "1"},
                                 {"LOCAL_WORLD_SIZE", "4"},
                                 {"MASTER_ADDR", "10.1.2.3"},
                                 {"MASTER_PORT", "29500"}}),
                         no_scontrol());
  CHECK(e.source == LaunchSource::torchrun);
  CHECK(e.rank == 5);
  CHECK(e.world_size == 8);
  CHECK(e.local_rank == 1);
  CHECK(e.local_world_size == 4);
  CHECK(e.master_addr == "10.1.2.3");
  CHECK(e.master_port == 29500);
  CHECK(e.is_distributed());
  CHECK_THAT(e.describe(), Contains("rank 5/8") && Contains("10.1.2.3:29500"));
}

TEST_CASE("inconsistent torchrun values are errors naming the variable", "[dist]") {
  const Env ok{{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1234"}};
  auto with = [&](const std::string& k, const std::string& v) {
    Env e = ok;
    e[k] = v;
    return e;
  };
  auto without = [&](const std::string& k) {
    Env e = ok;
    e.erase(k);
    return e;
  };
  CHECK_THAT(error_of(with("RANK", "2")), Contains("RANK=2") && Contains("WORLD_SIZE=2"));
  CHECK_THAT(error_of(with("RANK", "-1")), Contains("RANK=-1"));
  CHECK_THAT(error_of(with("RANK", "1x")), Contains("RANK=\"1x\" is not an integer"));
  CHECK_THAT(error_of(with("WORLD_SIZE", "")), Contains("WORLD_SIZE=\"\""));
  CHECK_THAT(error_of(with("MASTER_PORT", "70000")), Contains("MASTER_PORT=70000"));
  CHECK_THAT(error_of(without("MASTER_ADDR")), Contains("MASTER_ADDR is not set"));
  CHECK_THAT(error_of(without("MASTER_PORT")), Contains("MASTER_PORT is not set"));
  CHECK_THAT(error_of(without("WORLD_SIZE")), Contains("WORLD_SIZE is not set"));
  Env local = ok;
  local["LOCAL_RANK"] = "3";
  local["LOCAL_WORLD_SIZE"] = "2";
  CHECK_THAT(error_of(local), Contains("LOCAL_RANK=3") && Contains("LOCAL_WORLD_SIZE=2"));
  local["LOCAL_WORLD_SIZE"] = "4";
  local["WORLD_SIZE"] = "4";
  CHECK_THAT(error_of(local), Contains("LOCAL_RANK=3 is larger than RANK=1"));
  CHECK_THAT(error_of(with("LOCAL_WORLD_SIZE", "3")), Contains("LOCAL_WORLD_SIZE=3"));
}

TEST_CASE("srun's variables are read, the rendezvous host from the nodelist", "[dist]") {
  FakeScontrol scontrol{"gpu[07-08]", {"gpu07", "gpu08"}};
  const Env slurm{{"SLURM_PROCID", "6"},
                  {"SLURM_NTASKS", "8"},
                  {"SLURM_LOCALID", "2"},
                  {"SLURM_TASKS_PER_NODE", "4(x2)"},
                  {"SLURM_JOB_NODELIST", "gpu[07-08]"},
                  {"SLURM_JOB_ID", "123456"}};
  auto e = dist_env_from(lookup(slurm), scontrol.expander());
  CHECK(e.source == LaunchSource::slurm);
  CHECK(e.rank == 6);
  CHECK(e.world_size == 8);
  CHECK(e.local_rank == 2);
  CHECK(e.local_world_size == 4);
  CHECK(e.master_addr == "gpu07");
  CHECK(scontrol.calls == 1);
  CHECK(e.master_port == slurm_default_port(123456));
  CHECK(e.master_port == 20000 + 123456 % 20000);

  SECTION("MASTER_ADDR and MASTER_PORT win; scontrol is not asked") {
    Env s = slurm;
    s["MASTER_ADDR"] = "head";
    s["MASTER_PORT"] = "4242";
    FakeScontrol none{"x", {}};
    auto e2 = dist_env_from(lookup(s), none.expander());
    CHECK(e2.master_addr == "head");
    CHECK(e2.master_port == 4242);
    CHECK(none.calls == 0);
  }
  SECTION("a plain comma list needs no scontrol") {
    Env s = slurm;
    s["SLURM_JOB_NODELIST"] = "alpha,beta";
    CHECK(dist_env_from(lookup(s), no_scontrol()).master_addr == "alpha");
  }
  SECTION("a compressed list without scontrol asks for MASTER_ADDR") {
    CHECK_THAT(error_of(slurm, no_scontrol()),
               Contains("SLURM_JOB_NODELIST=\"gpu[07-08]\"") && Contains("MASTER_ADDR"));
  }
  SECTION("no job id and no MASTER_PORT") {
    Env s = slurm;
    s.erase("SLURM_JOB_ID");
    CHECK_THAT(error_of(s, scontrol.expander()), Contains("MASTER_PORT"));
  }
  SECTION("torchrun's variables take precedence inside an allocation") {
    Env s = slurm;
    s["RANK"] = "0";
    s["WORLD_SIZE"] = "1";
    CHECK(dist_env_from(lookup(s), no_scontrol()).source == LaunchSource::torchrun);
  }
  SECTION("a task id outside the job") {
    Env s = slurm;
    s["SLURM_PROCID"] = "8";
    CHECK_THAT(error_of(s, scontrol.expander()), Contains("SLURM_PROCID=8"));
  }
  SECTION("a malformed tasks-per-node") {
    Env s = slurm;
    s["SLURM_TASKS_PER_NODE"] = "(x2)";
    CHECK_THAT(error_of(s, scontrol.expander()), Contains("SLURM_TASKS_PER_NODE"));
  }
}

TEST_CASE("distributed options name the key to change", "[dist]") {
  auto error = [](DistOptions o) -> std::string {
    try {
      o.validate();
    } catch (const HaloError& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(error(DistOptions{}) == "no error");
  DistOptions o;
  o.backend = "mpi";
  CHECK_THAT(error(o), Contains("dist.backend"));
  o = DistOptions{};
  o.timeout_s = 0;
  CHECK_THAT(error(o), Contains("dist.timeout_s"));
  o = DistOptions{};
  o.heartbeat_s = 300;
  CHECK_THAT(error(o), Contains("dist.heartbeat_s"));
  o = DistOptions{};
  o.first_bucket_mb = 50;
  CHECK_THAT(error(o), Contains("dist.first_bucket_mb"));
}

TEST_CASE("launch plans with bad values are refused", "[dist]") {
  LaunchPlan p;
  p.executable = "/bin/true";
  p.arguments = {"x"};
  p.master_addr = "127.0.0.1";
  p.master_port = 1234;
  REQUIRE_NOTHROW(p.validate());
  auto error = [](LaunchPlan q) -> std::string {
    try {
      q.validate();
    } catch (const HaloError& e) {
      return e.what();
    }
    return "no error";
  };
  LaunchPlan q = p;
  q.nproc_per_node = 0;
  CHECK_THAT(error(q), Contains("--nproc-per-node"));
  q = p;
  q.nnodes = 2;
  q.node_rank = 2;
  CHECK_THAT(error(q), Contains("--node-rank"));
  q = p;
  q.master_addr.clear();
  CHECK_THAT(error(q), Contains("--master-addr"));
  q = p;
  q.arguments.clear();
  CHECK_THAT(error(q), Contains("no subcommand"));
  CHECK(find_free_port() > 0);
}

namespace {

torch::nn::Sequential small_mlp() {
  torch::manual_seed(3);
  return torch::nn::Sequential(torch::nn::Linear(6, 20), torch::nn::Tanh(),
                               torch::nn::Linear(20, 5));
}

}  // namespace

TEST_CASE("gradient sync in a world of one: scaled, accumulated over no_sync steps", "[dist]") {
  DistOptions options;
  options.bucket_mb = 0.0005;  // ~500 bytes: several buckets for this model
  options.first_bucket_mb = 0.0002;
  DistContext ctx(DistEnv{}, options, c10::DeviceType::CPU);
  REQUIRE(ctx.world_size() == 1);
  REQUIRE(ctx.backend_name() == "gloo");

  auto x = torch::randn({3, 7, 6});
  auto y = torch::randn({3, 7, 5});
  const double scale = 1.0 / 21.0;

  auto reference = small_mlp();
  for (int m = 0; m < 3; ++m) {
    ((reference->forward(x[m]) - y[m]).pow(2).sum() * scale).backward();
  }

  auto model = small_mlp();
  auto params = model->parameters();
  BucketedGradientSync sync(ctx, params, options);
  CHECK(sync.buckets().size() >= 2);
  sync.set_scale(scale);
  for (int m = 0; m < 3; ++m) {
    auto loss = (model->forward(x[m]) - y[m]).pow(2).sum();
    if (m < 2) {
      NoSync no_sync(sync);
      REQUIRE_FALSE(sync.sync());
      sync.backward(loss);
    } else {
      REQUIRE(sync.sync());
      sync.backward(loss);
    }
  }
  auto ref_params = reference->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    INFO("parameter " << i);
    CHECK(test::max_rel_error(params[i].grad(), ref_params[i].grad()) < 1e-6);
  }

  SECTION("reducing after backward gives the same gradients") {
    auto again = small_mlp();
    auto again_params = again->parameters();
    BucketedGradientSync after(ctx, again_params, options);
    after.set_scale(scale);
    for (int m = 0; m < 3; ++m) (again->forward(x[m]) - y[m]).pow(2).sum().backward();
    after.all_reduce_after_backward();
    for (size_t i = 0; i < params.size(); ++i) {
      INFO("parameter " << i);
      CHECK(test::max_rel_error(again_params[i].grad(), ref_params[i].grad()) < 1e-6);
    }
  }
  SECTION("the bucket indices cover every parameter once") {
    std::vector<int> seen(params.size(), 0);
    for (const auto& b : sync.buckets()) {
      for (size_t i : b) ++seen.at(i);
    }
    for (int s : seen) CHECK(s == 1);
  }
}

TEST_CASE("gradient sync refuses what it cannot reduce", "[dist]") {
  DistOptions options;
  DistContext ctx(DistEnv{}, options, c10::DeviceType::CPU);
  auto frozen = torch::zeros({3});
  CHECK_THROWS_WITH(BucketedGradientSync(ctx, {frozen}, options),
                    Contains("parameter 0 is not a leaf tensor that requires grad"));
  CHECK_THROWS_WITH(BucketedGradientSync(ctx, {}, options), Contains("no trained parameters"));
  auto p = torch::zeros({3}, torch::requires_grad());
  BucketedGradientSync sync(ctx, {p}, options);
  CHECK_THROWS_WITH(sync.set_scale(0.0), Contains("scale is 0"));
  CHECK_THROWS_WITH(DistContext(
                        DistEnv{},
                        [] {
                          DistOptions o;
                          o.backend = "nccl";
                          return o;
                        }(),
                        c10::DeviceType::CPU),
                    Contains("dist.backend=nccl"));
}

TEST_CASE("collectives in a world of one leave tensors unchanged", "[dist]") {
  DistContext ctx(DistEnv{}, DistOptions{}, c10::DeviceType::CPU);
  auto t = torch::arange(5, torch::kFloat);
  ctx.all_reduce(t, c10d::ReduceOp::SUM, "test");
  ctx.broadcast(t, 0, "test");
  ctx.barrier("test");
  CHECK(torch::equal(t, torch::arange(5, torch::kFloat)));
  CHECK(ctx.all_reduce_mean(2.5, "test") == 2.5);
}
