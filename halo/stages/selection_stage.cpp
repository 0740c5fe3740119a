// run_selection_stage: scores the layers (halo/selection), chooses the attention layers and
// writes selection.json plus the report (table and JSON with every score).
#include "halo/stages/selection_stage.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "halo/checkpoint/checkpoint_store.h"
#include "halo/selection/choose_mixers.h"
#include "halo/selection/layer_selection.h"
#include "halo/selection/selection_report.h"
#include "halo/stages/eval_inputs.h"
#include "hypenet/hypenet_checkpoint.h"
#include "hypenet/qwen3_checkpoint.h"

#include <cstdio>
#include <sstream>

namespace halo::stages {

namespace fs = std::filesystem;

StageOutput run_selection_stage(const StageContext& ctx) {
  const auto& st = ctx.stage();
  const auto& sel = st.selection;
  HALO_CHECK(!ctx.inputs.teacher.empty() && !ctx.inputs.student.empty(), "selection \"", st.name,
             "\" needs the teacher and the stage-1 student");
  selection::SelectionInputs in;
  in.teacher = hypenet::load_qwen3(ctx.inputs.teacher.string(), at::kFloat, ctx.device);
  in.stage1 = hypenet::load_hypenet(ctx.inputs.student.string(), at::kFloat, ctx.device);
  const int64_t L = in.teacher->config().num_hidden_layers;
  HALO_CHECK(sel.num_attention_layers <= L, ctx.pipeline->file, ": stage \"", st.name,
             "\": num_attention_layers = ", sel.num_attention_layers, " but the teacher has ", L,
             " layers");
  auto eval_in = load_eval_inputs(*ctx.pipeline, sel.seq_len, sel.batch_size, sel.batches);
  in.validation = eval_in.validation;
  in.tokenizer = eval_in.tokenizer.get();
  in.filler = eval_in.filler;

  selection::SelectionOptions o;
  o.method = selection::parse_selection_method(sel.method, st.name + ".method");
  o.num_attention_layers = sel.num_attention_layers;
  o.manual_layers = sel.attention_layers;
  o.report_all_scores = sel.report_all_scores;
  o.swap.chunk_tokens = 1024;
  o.swap.batch_size = sel.batch_size;
  std::stringstream tasks(sel.recall_tasks);
  o.signal.recall_tasks.clear();
  for (std::string t; std::getline(tasks, t, ',');) o.signal.recall_tasks.push_back(t);
  o.signal.recall_lengths = sel.recall_lengths;
  o.signal.depths = sel.recall_depths;
  o.signal.trials = sel.recall_samples;
  o.signal.seed = ctx.pipeline->run.seed;
  o.signal.batch_size = sel.batch_size;
  o.signal.mc_file = sel.commonsense_mc;
  if (ctx.rank == 0)
    o.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  if (o.method == selection::SelectionMethod::kHalo ||
      (o.report_all_scores && !in.filler.empty())) {
    // Every recall prompt built and the mc file read once, before any model runs (select_layers
    // does it again): errors name the keys that set them.
    try {
      selection::HaloSignal check(o.signal, *in.tokenizer, in.filler);
    } catch (const HaloError& e) {
      HALO_FAIL(ctx.pipeline->file, ": stage \"", st.name,
                "\": the halo recall / commonsense signal (keys recall_tasks, recall_lengths, "
                "recall_depths, recall_samples, commonsense_mc): ",
                e.what());
    }
  }
  auto result = selection::select_layers(in, o);

  const fs::path path = ctx.stage_dir() / "selection.json";
  StageOutput out;
  out.selection = path;
  out.summary = {{"stage", st.name},
                 {"kind", "selection"},
                 {"method", sel.method},
                 {"attention_layers", selection::attention_layers_of(result.mixer_types)}};
  // Data parallel: every rank scores, so that the others reach the runner's wait for rank 0's
  // outputs (bounded by dist.timeout_s) when rank 0 does, not while it is still scoring; rank 0
  // alone writes the outputs, which the next stage reads.
  if (ctx.rank != 0) return out;
  fs::create_directories(ctx.stage_dir());
  selection::write_selection_report(ctx.stage_dir(), result);
  std::fprintf(stderr, "%s\n", selection::format_selection_table(result).c_str());
  for (const auto& f : selection::findings_of_method(result)) {
    std::fprintf(stderr, "warning: layer selection: %s\n", f.message.c_str());
  }
  nlohmann::json j = selection::selection_report_json(result);
  j["config_hash"] = ctx.hash();
  write_text_atomically(path, j.dump(2) + "\n");

  write_done(ctx, out, path);
  return out;
}

}  // namespace halo::stages
