// `halo-distill run PIPELINE.yaml`: every stage of the pipeline in order, resuming where a
// previous run stopped. `halo-distill stage NAME PIPELINE.yaml`: one stage (its inputs must
// exist). `halo-distill pretrain PIPELINE.yaml`: the pipeline's pretrain stage (a Qwen3
// teacher from scratch). All take --set KEY.PATH=VALUE overrides. A SIGINT / SIGTERM during
// training writes a checkpoint and exits with 128 + the signal number.
#include "common/error.h"
#include "halo/config/pipeline_config.h"
#include "halo/distributed/data_parallel_sync.h"
#include "halo/distributed/dist_context.h"
#include "halo/distributed/dist_env.h"
#include "halo/stages/pipeline_runner.h"
#include "halo/train/stop_signal.h"
#include "tools/cli_exit.h"
#include "tools/commands.h"

#include <cstdio>
#include <memory>
#include <optional>

namespace halo::tools {

namespace {

struct RunArgs {
  std::string pipeline;
  std::string stage;
  std::vector<std::string> overrides;
  bool print_config = false;
};

// 0 when the stages ran to the end; 128 + N when signal N stopped the run (its checkpoint is
// written). Returned, not thrown: `dist` and `sync` are destroyed on the way out with no
// exception in flight, so DistContext leaves the group in order on every rank.
int run_stages(const RunArgs& a, std::optional<std::string> only) {
  auto config = config::load_pipeline_config(a.pipeline, a.overrides);
  if (a.print_config) std::printf("%s\n", config.to_json().dump(2).c_str());
  std::fprintf(stderr, "pipeline %s -> %s\n", a.pipeline.c_str(), config.run.out_dir.c_str());
  stages::RunOptions options;
  options.only_stage = std::move(only);
  // Data parallel when started by launch / torchrun / srun (more than one process).
  const auto env = distributed::dist_env_from_process();
  std::unique_ptr<distributed::DistContext> dist;
  std::unique_ptr<distributed::DataParallelSync> sync;
  if (env.is_distributed()) {
    const config::DistOptions& dist_options = config.dist;  // the YAML's `dist:`
    dist = std::make_unique<distributed::DistContext>(
        env, dist_options,
        config.run.device == config::Device::kCuda ? c10::DeviceType::CUDA : c10::DeviceType::CPU);
    sync = std::make_unique<distributed::DataParallelSync>(*dist, dist_options);
    std::fprintf(stderr, "data parallel: %s, backend %s\n", env.describe().c_str(),
                 dist->backend_name().c_str());
    options.rank = env.rank;
    options.world_size = env.world_size;
    options.sync = sync.get();
  }
  // Stopped by a signal: 128 + N on every rank (each adopted the agreed signal).
  return stages::run_pipeline(config, options) ? kExitOk : 128 + train::stop_signal_number();
}

void add_common(CLI::App* cmd, RunArgs& a) {
  // A missing file is an input error (exit 1, from the loader), not a usage error.
  cmd->add_option("PIPELINE", a.pipeline, "pipeline YAML (configs/pipelines/*.yaml)")->required();
  cmd->add_option("--set", a.overrides,
                  "override a key: --set run.out_dir=/tmp/r --set stages.NAME.steps=10 "
                  "(value parsed as YAML; repeatable)");
  cmd->add_flag("--print-config", a.print_config, "print the resolved config as JSON first");
}

}  // namespace

void add_run_commands(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  auto* run = app.add_subcommand("run",
                                 "run every stage of a pipeline YAML in order; run again "
                                 "to resume where it stopped");
  add_common(run, *args);
  run->callback([args] { set_exit_code(run_stages(*args, std::nullopt)); });

  auto sargs = std::make_shared<RunArgs>();
  auto* stage = app.add_subcommand("stage", "run one stage of a pipeline (its inputs must exist)");
  stage->add_option("NAME", sargs->stage, "the stage's name in the pipeline")->required();
  add_common(stage, *sargs);
  stage->callback([sargs] { set_exit_code(run_stages(*sargs, sargs->stage)); });

  auto pargs = std::make_shared<RunArgs>();
  auto* pre = app.add_subcommand(
      "pretrain", "train the pipeline's Qwen3 teacher from scratch (its stage of kind pretrain)");
  add_common(pre, *pargs);
  pre->callback([pargs] {
    auto config = config::load_pipeline_config(pargs->pipeline, pargs->overrides);
    const auto* s = config.first_of_kind(config::StageKind::kPretrain);
    HALO_CHECK(s != nullptr, pargs->pipeline,
               ": no stage of kind pretrain. HINT: add one with model_config, steps, seq_len and "
               "batch_size (docs/configs.md).");
    set_exit_code(run_stages(*pargs, s->name));
  });
}

}  // namespace halo::tools
