// StageContext helpers: trainer setup, done.json, the final/ model folder.
#include "halo/stages/stage_context.h"
#include "common/remove_tree.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "halo/checkpoint/checkpoint_store.h"
#include "halo/config/config_diff.h"

#include <fstream>

namespace halo::stages {

namespace fs = std::filesystem;

train::TrainerSetup StageContext::trainer_setup() const {
  train::TrainerSetup s;
  s.stage = stage();
  s.config_hash = hash();
  s.earlier_config_hashes = pipeline->earlier_stage_hashes(index);
  s.resolved_config = pipeline->to_json();
  s.stage_dir = stage_dir();
  s.manifest = pipeline->data.manifest;
  s.data_seed = pipeline->run.seed * 1000003ull + stage().seed;
  s.prefetch = static_cast<int>(pipeline->data.prefetch);
  s.rank = rank;
  s.world_size = world_size;
  s.sync = sync;
  s.zero1 = pipeline->dist.zero1;
  s.device = device;
  return s;
}

std::optional<nlohmann::json> read_done(const StageContext& ctx) {
  const fs::path path = ctx.stage_dir() / "done.json";
  if (!fs::exists(path)) return std::nullopt;
  std::ifstream in(path);
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const std::string recorded = j.value("config_hash", "");
  HALO_CHECK(ctx.pipeline->stage_hash_matches(ctx.index, recorded), path.string(), ": stage \"",
             ctx.stage().name, "\" finished under a different configuration (hash ", recorded,
             ", now ", ctx.hash(), ").",
             config::describe_stage_config_changes(j.value("config", nlohmann::json()),
                                                   ctx.pipeline->to_json(), ctx.index),
             " HINT: use a new run.out_dir, or delete ", ctx.stage_dir().string(),
             " (and the stages after it) to redo it.");
  return j;
}

std::optional<nlohmann::json> read_done_on_all_ranks(const StageContext& ctx) {
  auto done = read_done(ctx);
  if (ctx.sync) {
    ctx.sync->wait_for_all("checking whether stage \"" + ctx.stage().name + "\" is done (" +
                               (ctx.stage_dir() / "done.json").string() + ")",
                           0, "dist.timeout_s");
  }
  return done;
}

void write_done(const StageContext& ctx, const StageOutput& out, const fs::path& output) {
  nlohmann::json done = out.summary;
  done["config_hash"] = ctx.hash();
  done["config"] = ctx.pipeline->to_json();
  done["output"] = output.string();
  write_text_atomically(ctx.stage_dir() / "done.json", done.dump(2) + "\n");
}

StageOutput finish_training_stage(const StageContext& ctx, const train::TrainResult& result) {
  StageOutput out;
  out.interrupted = result.interrupted;
  out.summary = {{"stage", ctx.stage().name},   {"kind", config::stage_kind_name(ctx.stage().kind)},
                 {"steps", result.step},        {"last_loss", result.last_loss},
                 {"val_loss", result.val_loss}, {"tokens_per_s", result.tokens_per_second}};
  if (result.interrupted || ctx.rank != 0) return out;
  HALO_CHECK(!result.checkpoint.empty(), "stage ", ctx.stage().name, ": no checkpoint written");
  const fs::path final_dir = ctx.stage_dir() / "final";
  const fs::path tmp = ctx.stage_dir() / ".tmp-final";
  remove_tree_checked(tmp.string());
  fs::create_directories(tmp);
  for (const auto& e : fs::directory_iterator(result.checkpoint / "model")) {
    fs::create_hard_link(e.path(), tmp / e.path().filename());
  }
  fsync_path(tmp);
  remove_tree_checked(final_dir.string());
  fs::rename(tmp, final_dir);
  out.model = final_dir;
  write_done(ctx, out, final_dir);
  return out;
}

}  // namespace halo::stages
