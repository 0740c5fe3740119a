// halo-dist-selftest: a test executable (not part of the product binary) with the `launch`
// subcommand of halo-distill (tools/cmd_launch.cpp, whose workers are then this binary) and
// `dist-selftest`: small distributed programs for the tests and for a first check of a
// cluster: `collectives` (all-reduce loop with planted failures and hangs),
// `grads` (bucketed gradient all-reduce of a small model with accumulation, written to files),
// `wait-signal` (coordinated stop on SIGTERM) and `wait-for-rank0` (the store barrier the other
// ranks wait in while rank 0 works longer than the collective timeout, e.g. a quality gate). Each
// reads the rank and rendezvous from the environment (torchrun / launch / SLURM), like every
// distributed subcommand.
#include "common/error.h"
#include "halo/distributed/bucketed_gradient_sync.h"
#include "halo/distributed/data_parallel_sync.h"
#include "halo/distributed/dist_context.h"
#include "halo/distributed/dist_env.h"
#include "halo/train/stop_signal.h"
#include "tools/cli_exit.h"
#include "tools/commands.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

namespace halo::test {

namespace {

namespace dist = halo::distributed;

void touch(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text << "\n";
  HALO_CHECK(out.good(), path, ": cannot write");
}

struct CollectivesOptions {
  int64_t steps = 10;
  int sleep_ms = 0;
  std::string ready_file;  // each rank writes <ready_file>.<rank> after its first collective
  int hang_rank = -1;      // this rank stops taking part (but stays alive) at step hang_after
  int64_t hang_after = 0;
  int fail_rank = -1;  // this rank throws `message` at step fail_after
  int64_t fail_after = 0;
  std::string message = "planted failure";
  dist::DistOptions dist;
};

void run_collectives(const CollectivesOptions& o) {
  const auto env = dist::dist_env_from_process();
  dist::DistContext ctx(env, o.dist, c10::DeviceType::CPU);
  std::cerr << "dist-selftest: " << env.describe() << ", backend " << ctx.backend_name() << "\n";
  const int64_t w = ctx.world_size();
  for (int64_t step = 0; step < o.steps; ++step) {
    if (ctx.rank() == o.fail_rank && step == o.fail_after) {
      HALO_FAIL("dist-selftest: rank ", ctx.rank(), " at step ", step, ": ", o.message);
    }
    if (ctx.rank() == o.hang_rank && step == o.hang_after) {
      std::cerr << "dist-selftest: rank " << ctx.rank() << " hangs at step " << step << "\n";
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    auto t = at::full({1024}, static_cast<double>(ctx.rank() + 1), at::kDouble);
    ctx.all_reduce(t, c10d::ReduceOp::SUM, "selftest all_reduce");
    const double expected = static_cast<double>(w * (w + 1) / 2);
    HALO_CHECK(t.eq(expected).all().item<bool>(), "dist-selftest: all_reduce at step ", step,
               " gave ", t[0].item<double>(), "; expected ", expected);
    if (step == 0 && !o.ready_file.empty()) {
      touch(o.ready_file + "." + std::to_string(ctx.rank()), "ready");
    }
    if (o.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.sleep_ms));
  }
  const double mean = ctx.all_reduce_mean(ctx.rank(), "selftest mean");
  HALO_CHECK(mean == (w - 1) / 2.0, "dist-selftest: mean of the ranks is ", mean, "; expected ",
             (w - 1) / 2.0);
  auto b = at::full({16}, ctx.rank() == w - 1 ? 7.0 : -1.0, at::kDouble);
  ctx.broadcast(b, static_cast<int>(w - 1), "selftest broadcast");
  HALO_CHECK(b.eq(7.0).all().item<bool>(), "dist-selftest: broadcast from rank ", w - 1, " gave ",
             b[0].item<double>(), "; expected 7");
  ctx.barrier("selftest final barrier");
  std::cout << "dist-selftest: rank " << ctx.rank() << " done, " << o.steps << " all_reduces\n";
}

struct GradsOptions {
  std::string out;
  int64_t global_batch = 12;     // rows per micro-step, summed over ranks
  int64_t micro_steps = 2;       // accumulation micro-steps per optimizer step (the last syncs)
  int64_t steps = 2;             // optimizer steps (SGD) whose gradients are written
  std::string mode = "overlap";  // overlap: backward() reduces buckets during backward;
                                 // after: plain backward, then all_reduce_after_backward()
  std::string device = "cpu";    // cpu (Gloo) or cuda (NCCL, cuda:LOCAL_RANK)
  dist::DistOptions dist;
};

// The toy problem every rank builds identically: a 4-layer MLP (seed 0) and a regression batch
// per (step, micro-step) (seed 1000 + ...), the same on every rank.
torch::nn::Sequential make_toy_model() {
  torch::manual_seed(0);
  return torch::nn::Sequential(
      torch::nn::Linear(16, 48), torch::nn::Tanh(), torch::nn::Linear(48, 48), torch::nn::Tanh(),
      torch::nn::Linear(48, 32), torch::nn::Tanh(), torch::nn::Linear(32, 8));
}

std::pair<at::Tensor, at::Tensor> toy_batch(int64_t step, int64_t micro, int64_t rows) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1000 + step * 100 + micro);
  auto x = at::randn({rows, 16}, gen, at::kFloat);  // [G, 16]
  auto y = at::randn({rows, 8}, gen, at::kFloat);   // [G, 8]
  return {x, y};
}

// Sum over the rows of the squared error (a "sum over tokens" loss).
at::Tensor toy_loss(torch::nn::Sequential& model, const at::Tensor& x, const at::Tensor& y) {
  return (model->forward(x) - y).pow(2).sum();
}

void save_grads(const std::vector<at::Tensor>& params, const std::string& path) {
  std::vector<at::Tensor> grads;
  for (const auto& p : params) grads.push_back(p.grad().detach().cpu().clone());
  torch::save(grads, path);
}

void run_grads(const GradsOptions& o) {
  const auto env = dist::dist_env_from_process();
  HALO_CHECK(o.mode == "overlap" || o.mode == "after", "dist-selftest grads: --mode is \"", o.mode,
             "\"; expected overlap or after");
  HALO_CHECK(o.global_batch % env.world_size == 0, "dist-selftest grads: --global-batch ",
             o.global_batch, " is not divisible by the world size ", env.world_size);
  std::filesystem::create_directories(o.out);
  const int64_t rows = o.global_batch / env.world_size;
  const double lr = 0.05;
  const double scale = 1.0 / static_cast<double>(o.global_batch * o.micro_steps);

  if (env.rank == 0) {
    // Reference: one process, no process group, the whole global batch, plain autograd.
    auto model = make_toy_model();
    auto params = model->parameters();
    for (int64_t step = 0; step < o.steps; ++step) {
      for (auto& p : params) p.mutable_grad() = at::Tensor();
      for (int64_t m = 0; m < o.micro_steps; ++m) {
        auto [x, y] = toy_batch(step, m, o.global_batch);
        (toy_loss(model, x, y) * scale).backward();
      }
      save_grads(params, o.out + "/reference-step" + std::to_string(step) + ".pt");
      torch::NoGradGuard no_grad;
      for (auto& p : params) p.sub_(p.grad() * lr);
    }
  }

  HALO_CHECK(o.device == "cpu" || o.device == "cuda", "dist-selftest grads: --device is \"",
             o.device, "\"; expected cpu or cuda");
  dist::DistContext ctx(env, o.dist,
                        o.device == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU);
  auto model = make_toy_model();
  model->to(ctx.device());
  auto params = model->parameters();
  dist::BucketedGradientSync sync(ctx, params, o.dist);
  sync.set_scale(scale);
  for (int64_t step = 0; step < o.steps; ++step) {
    for (auto& p : params) p.mutable_grad() = at::Tensor();
    for (int64_t m = 0; m < o.micro_steps; ++m) {
      auto [x, y] = toy_batch(step, m, o.global_batch);
      auto xs = x.slice(0, env.rank * rows, (env.rank + 1) * rows).to(ctx.device());
      auto ys = y.slice(0, env.rank * rows, (env.rank + 1) * rows).to(ctx.device());
      const bool last = m == o.micro_steps - 1;
      if (o.mode == "overlap") {
        sync.set_sync(last);
        sync.backward(toy_loss(model, xs, ys));
      } else {
        toy_loss(model, xs, ys).backward();
        if (last) sync.all_reduce_after_backward();
      }
    }
    save_grads(params, o.out + "/grads-" + o.mode + "-world" + std::to_string(env.world_size) +
                           "-rank" + std::to_string(env.rank) + "-step" + std::to_string(step) +
                           ".pt");
    torch::NoGradGuard no_grad;
    for (auto& p : params) p.sub_(p.grad() * lr);
  }
  std::cout << "dist-selftest: rank " << env.rank << " wrote the gradients of " << o.steps
            << " steps (" << sync.buckets().size() << " buckets)\n";
}

struct WaitSignalOptions {
  std::string out;
  int poll_ms = 20;
  dist::DistOptions dist;
};

// Steps until any rank received SIGTERM/SIGINT, agreeing on the step through the trainer's
// stop agreement (train::agreed_stop_signal); then each rank writes <out>/stopped.<rank> with
// that step, the agreed signal and its own (0: none, a peer got it).
void run_wait_signal(const WaitSignalOptions& o) {
  train::install_stop_handlers();
  const auto env = dist::dist_env_from_process();
  dist::DistContext ctx(env, o.dist, c10::DeviceType::CPU);
  dist::DataParallelSync sync(ctx, o.dist);
  std::filesystem::create_directories(o.out);
  for (int64_t step = 0;; ++step) {
    const int own = train::stop_signal_number();
    if (const int agreed = train::agreed_stop_signal(&sync); agreed != 0) {
      touch(o.out + "/stopped." + std::to_string(ctx.rank()),
            "step " + std::to_string(step) + " signal " + std::to_string(agreed) + " own " +
                std::to_string(own));
      std::cout << "dist-selftest: rank " << ctx.rank() << " stopped at step " << step << "\n";
      return;
    }
    if (step == 0) touch(o.out + "/ready." + std::to_string(ctx.rank()), "ready");
    std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
  }
}

struct WaitForRank0Options {
  double work_s = 5;           // rank 0 works (sleeps) this long before it joins the wait
  double wait_timeout_s = 60;  // the wait's own timeout
  dist::DistOptions dist;
};

// Rank 0 works for --work-s while the others wait for it in DistContext::wait_for_all with
// --wait-timeout-s (not dist.timeout_s); then one all-reduce shows every rank went on together.
void run_wait_for_rank0(const WaitForRank0Options& o) {
  const auto env = dist::dist_env_from_process();
  dist::DistContext ctx(env, o.dist, c10::DeviceType::CPU);
  const auto t0 = std::chrono::steady_clock::now();
  if (ctx.rank() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(o.work_s * 1000)));
  }
  ctx.wait_for_all("selftest waiting for rank 0", o.wait_timeout_s, "--wait-timeout-s");
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto t = at::ones({1}, at::kDouble);
  ctx.all_reduce(t, c10d::ReduceOp::SUM, "selftest all_reduce after the wait");
  HALO_CHECK(t.item<double>() == ctx.world_size(), "dist-selftest: all_reduce after the wait gave ",
             t.item<double>(), "; expected ", ctx.world_size());
  std::cout << "dist-selftest: rank " << ctx.rank() << " went on after " << waited
            << " s (dist.timeout_s=" << o.dist.timeout_s << ")\n";
}

void add_dist_options(CLI::App* cmd, dist::DistOptions& d) {
  cmd->add_option("--timeout-s", d.timeout_s, "Collective timeout (dist.timeout_s)")
      ->capture_default_str();
  cmd->add_option("--heartbeat-s", d.heartbeat_s, "Heartbeat interval (dist.heartbeat_s)")
      ->capture_default_str();
  cmd->add_option("--init-timeout-s", d.init_timeout_s, "Rendezvous timeout")
      ->capture_default_str();
}

void add_dist_selftest_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("dist-selftest",
                                 "Distributed self-tests (collectives, gradient sync, stop)");
  cmd->require_subcommand(1);

  auto c = std::make_shared<CollectivesOptions>();
  c->dist.timeout_s = 30;
  auto* coll = cmd->add_subcommand("collectives", "All-reduce loop; planted failures and hangs");
  coll->add_option("--steps", c->steps, "All-reduces to run")->capture_default_str();
  coll->add_option("--sleep-ms", c->sleep_ms, "Pause after each")->capture_default_str();
  coll->add_option("--ready-file", c->ready_file, "Write <file>.<rank> after the first");
  coll->add_option("--hang-rank", c->hang_rank, "Rank that stops taking part");
  coll->add_option("--hang-after", c->hang_after, "Step at which it stops");
  coll->add_option("--fail-rank", c->fail_rank, "Rank that fails");
  coll->add_option("--fail-after", c->fail_after, "Step at which it fails");
  coll->add_option("--message", c->message, "Its error message");
  add_dist_options(coll, c->dist);
  coll->callback([c] { run_collectives(*c); });

  auto g = std::make_shared<GradsOptions>();
  g->dist.timeout_s = 30;
  g->dist.bucket_mb = 0.004;  // a few KiB: the toy model spans several buckets
  g->dist.first_bucket_mb = 0.001;
  auto* grads = cmd->add_subcommand("grads", "Bucketed gradient all-reduce of a toy MLP");
  grads->add_option("--out", g->out, "Folder for the gradient files")->required();
  grads->add_option("--global-batch", g->global_batch, "Rows per micro-step over all ranks")
      ->capture_default_str();
  grads->add_option("--micro-steps", g->micro_steps, "Accumulation micro-steps")
      ->capture_default_str();
  grads->add_option("--steps", g->steps, "Optimizer steps")->capture_default_str();
  grads->add_option("--mode", g->mode, "overlap (reduce during backward) or after")
      ->capture_default_str();
  grads->add_option("--device", g->device, "cpu (Gloo) or cuda (NCCL, one GPU per rank)")
      ->capture_default_str();
  grads->add_option("--bucket-mb", g->dist.bucket_mb, "Bucket size (dist.bucket_mb)")
      ->capture_default_str();
  grads->add_option("--first-bucket-mb", g->dist.first_bucket_mb, "First bucket size")
      ->capture_default_str();
  add_dist_options(grads, g->dist);
  grads->callback([g] { run_grads(*g); });

  auto s = std::make_shared<WaitSignalOptions>();
  s->dist.timeout_s = 30;
  auto* wait = cmd->add_subcommand("wait-signal", "Step until a rank gets SIGTERM/SIGINT");
  wait->add_option("--out", s->out, "Folder for ready.<rank> and stopped.<rank>")->required();
  add_dist_options(wait, s->dist);
  wait->callback([s] { run_wait_signal(*s); });

  auto w = std::make_shared<WaitForRank0Options>();
  w->dist.timeout_s = 30;
  auto* w0 = cmd->add_subcommand("wait-for-rank0",
                                 "The other ranks wait (store barrier) while rank 0 works");
  w0->add_option("--work-s", w->work_s, "Seconds rank 0 works first")->capture_default_str();
  w0->add_option("--wait-timeout-s", w->wait_timeout_s, "Timeout of the wait")
      ->capture_default_str();
  add_dist_options(w0, w->dist);
  w0->callback([w] { run_wait_for_rank0(*w); });
}

}  // namespace

}  // namespace halo::test

int main(int argc, char** argv) {
  CLI::App app{
      "halo-dist-selftest: distributed self-tests of halo-distill's halo/distributed, run as "
      "workers of `launch` (the product's launcher) or with the torchrun variables. "
      "Usage: halo-dist-selftest launch --nproc-per-node N -- dist-selftest collectives"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("--verbose", verbose, "Errors also show where in the source they were raised");
  halo::tools::add_launch_command(app);
  halo::test::add_dist_selftest_command(app);
  return halo::tools::run_command_line(app, argc, argv, "halo-dist-selftest", verbose);
}
