// with_data_identity and check_run_folder: the run folder against the configuration.
#include "halo/stages/run_identity.h"

#include "common/error.h"
#include "data/shard_manifest.h"
#include "halo/checkpoint/checkpoint_store.h"
#include "halo/checkpoint/training_state.h"
#include "halo/config/config_diff.h"
#include "halo/stages/stage_context.h"

#include <filesystem>

namespace halo::stages {

namespace fs = std::filesystem;

config::PipelineConfig with_data_identity(const config::PipelineConfig& p) {
  config::PipelineConfig out = p;
  HALO_CHECK(fs::is_regular_file(p.data.manifest), p.file, ": data.manifest: ", p.data.manifest,
             " not found. HINT: prepare the data with `halo-distill prepare`, or point the "
             "pipeline at it (--set data.manifest=PATH/manifest.json).");
  out.data.dataset_id = data::Manifest::read(p.data.manifest).dataset_id();
  return out;
}

void check_run_folder(const config::PipelineConfig& p, size_t first, size_t last) {
  for (size_t i = first; i < last && i < p.stages.size(); ++i) {
    StageContext ctx;
    ctx.pipeline = &p;
    ctx.index = i;
    if (read_done(ctx)) continue;  // refuses a done.json of another configuration
    if (!ctx.stage().is_training()) continue;
    checkpoint::CheckpointStore store(ctx.stage_dir() / "checkpoints",
                                      ctx.stage().checkpoint.keep_last);
    const auto latest = store.latest();
    if (!latest) continue;
    const auto meta = checkpoint::read_checkpoint_meta(*latest);
    HALO_CHECK(p.stage_hash_matches(i, meta.config_hash), latest->string(),
               " was written by a different configuration (config hash ", meta.config_hash,
               ", this pipeline's stage \"", ctx.stage().name, "\" has ", ctx.hash(),
               "); refusing to resume from it.",
               config::describe_stage_config_changes(meta.config, p.to_json(), i),
               " HINT: restore the original config, use a new run.out_dir, or delete ",
               ctx.stage_dir().string(), " to start this stage over.");
  }
}

}  // namespace halo::stages
