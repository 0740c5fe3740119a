// run_pipeline: stage order, inputs, skip-if-done, summary.
#include "halo/stages/pipeline_runner.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "halo/checkpoint/checkpoint_store.h"
#include "halo/report/html_report.h"
#include "halo/stages/preflight.h"
#include "halo/stages/pretrain_stage.h"
#include "halo/stages/quality_gate_step.h"
#include "halo/stages/run_identity.h"
#include "halo/stages/run_summary.h"
#include "halo/stages/selection_stage.h"
#include "halo/stages/stage1_alignment.h"
#include "halo/stages/stage2_distillation.h"
#include "halo/stages/stage3_long_context.h"

#include <ATen/Parallel.h>

#include <cstdio>

namespace halo::stages {

namespace fs = std::filesystem;
using config::StageKind;

namespace {

// The output of the finished stage of `kind` before stage `index`, or an error naming it.
fs::path output_of(const config::PipelineConfig& p, size_t index, StageKind kind,
                   const char* file) {
  for (size_t i = 0; i < index; ++i) {
    if (p.stages[i].kind != kind) continue;
    const fs::path out = fs::path(p.run.out_dir) / p.stages[i].name / file;
    HALO_CHECK(
        fs::exists(fs::path(p.run.out_dir) / p.stages[i].name / "done.json") && fs::exists(out),
        "stage \"", p.stages[index].name, "\" needs the output of stage \"", p.stages[i].name,
        "\" (", out.string(), "), which has not finished. HINT: run ", "`halo-distill run ", p.file,
        "` or `halo-distill stage ", p.stages[i].name, " ", p.file, "` first.");
    return out;
  }
  return {};
}

StageInputs inputs_of(const config::PipelineConfig& p, size_t index) {
  StageInputs in;
  const auto kind = p.stages[index].kind;
  if (kind == StageKind::kPretrain) return in;
  in.teacher = p.teacher.path.empty() ? output_of(p, index, StageKind::kPretrain, "final")
                                      : fs::path(p.teacher.path);
  if (kind == StageKind::kSelection || kind == StageKind::kStage2) {
    in.student = output_of(p, index, StageKind::kStage1, "final");
  }
  if (kind == StageKind::kStage2) {
    in.selection = output_of(p, index, StageKind::kSelection, "selection.json");
  }
  if (kind == StageKind::kStage3) in.student = output_of(p, index, StageKind::kStage2, "final");
  return in;
}

StageOutput run_one(const StageContext& ctx) {
  switch (ctx.stage().kind) {
    case StageKind::kPretrain:
      return run_pretrain_stage(ctx);
    case StageKind::kStage1:
      return run_stage1(ctx);
    case StageKind::kSelection:
      return run_selection_stage(ctx);
    case StageKind::kStage2:
      return run_stage2(ctx);
    case StageKind::kStage3:
      return run_stage3(ctx);
  }
  HALO_FAIL("unknown stage kind");
}

// Runs the quality gate of `label` on rank 0 (when `run_it` there) and makes every rank wait for
// it. The gate may take longer than a collective is allowed to (a big model, long passkey
// prompts), so the other ranks wait in a store barrier bounded by quality_gate.timeout_s, not in
// a collective bounded by dist.timeout_s: without the wait they would run ahead into the next
// stage's first collective and time out there while rank 0 still evaluates.
// With quality_gate.thresholds, rank 0 then stops the run when the gated stage missed them.
void gate_on_rank0(const config::PipelineConfig& p, const RunOptions& options, bool run_it,
                   const fs::path& model_dir, const std::string& label, c10::Device device) {
  if (options.rank == 0 && run_it) run_stage_quality_gate(p, model_dir, label, device);
  if (options.sync) {
    options.sync->wait_for_all("waiting for rank 0's quality gate of \"" + label + "\"",
                               p.quality_gate.timeout_s, "quality_gate.timeout_s");
  }
  // A missed threshold stops the pipeline (exit 1) here, before the next stage: on every rank
  // (each reads the verdict from RUN/report.json, written by rank 0 before the barrier), so no
  // rank runs on into a collective its peers have left.
  enforce_quality_thresholds(p, label);
}

// RUN/report.html (`halo-distill report`) after the summary. A finished run stays finished when
// the report cannot be written: a warning with the command that writes it later.
void write_report_or_warn(const config::PipelineConfig& p) {
  try {
    const fs::path path = report::write_html_report(p.run.out_dir);
    std::fprintf(stderr, "report: %s\n", path.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "warning: the run finished, but its HTML report was not written: %s\nHINT: "
                 "`halo-distill report %s` writes it\n",
                 e.what(), p.run.out_dir.c_str());
  }
}

}  // namespace

bool run_pipeline(const config::PipelineConfig& given, const RunOptions& options) {
  // The stage hashes cover the data's content id, not the manifest's path.
  const config::PipelineConfig p = with_data_identity(given);
  if (p.run.threads > 0) at::set_num_threads(static_cast<int>(p.run.threads));
  const c10::Device device(p.run.device == config::Device::kCuda ? c10::kCUDA : c10::kCPU);
  size_t first = 0, last = p.stages.size();
  if (options.only_stage) {
    first = static_cast<size_t>(p.stage_index(p.stage(*options.only_stage).name));
    last = first + 1;
  }
  // A run of another configuration is refused before it writes anything.
  check_run_folder(p, first, last);
  // So is a run whose inputs would fail later: shards, teacher, tokenizer, disk, device.
  preflight(p, first, last, options.rank == 0);
  fs::create_directories(p.run.out_dir);
  if (options.rank == 0) {
    write_text_atomically(fs::path(p.run.out_dir) / "pipeline.json", p.to_json().dump(2) + "\n");
  }
  for (size_t i = first; i < last; ++i) {
    StageContext ctx;
    ctx.pipeline = &p;
    ctx.index = i;
    ctx.device = device;
    ctx.rank = options.rank;
    ctx.world_size = options.world_size;
    ctx.sync = options.sync;
    if (auto done = read_done_on_all_ranks(ctx)) {
      std::fprintf(stderr, "[%s] done (%s), skipping\n", ctx.stage().name.c_str(),
                   (ctx.stage_dir() / "done.json").c_str());
      // A gate that did not run (stopped or failed after the stage finished) runs now.
      if (ctx.stage().is_training() && p.quality_gate.enabled) {
        gate_on_rank0(p, options, options.rank == 0 && !report_has_entry(p, ctx.stage().name),
                      ctx.stage_dir() / "final", ctx.stage().name, device);
      }
      continue;
    }
    ctx.inputs = inputs_of(p, i);
    std::fprintf(stderr, "[%s] %s stage starting\n", ctx.stage().name.c_str(),
                 config::stage_kind_name(ctx.stage().kind).c_str());
    if (ctx.stage().kind == StageKind::kStage1 && !p.teacher.path.empty() &&
        p.quality_gate.enabled) {
      gate_on_rank0(p, options, options.rank == 0 && !report_has_entry(p, "teacher"),
                    ctx.inputs.teacher, "teacher", device);
    }
    StageOutput out = run_one(ctx);
    // Rank 0 writes the stage's outputs (final/, done.json) and gates them; the next stage reads
    // them, so every rank waits for rank 0 here.
    if (!out.interrupted && ctx.stage().is_training() && p.quality_gate.enabled) {
      gate_on_rank0(p, options, true, out.model, ctx.stage().name, device);
    } else if (options.sync) {
      options.sync->wait_for_all(
          "waiting for rank 0 to write the outputs of stage \"" + ctx.stage().name + "\"", 0,
          "dist.timeout_s");
    }
    if (out.interrupted) {
      std::fprintf(stderr,
                   "[%s] interrupted; run the same command again to resume from the checkpoint\n",
                   ctx.stage().name.c_str());
      return false;
    }
  }
  if (options.rank == 0) {
    write_run_summary(p);
    write_report_or_warn(p);
  }
  return true;
}

}  // namespace halo::stages
