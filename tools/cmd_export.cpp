// `halo-distill export RUN_DIR --out HF_DIR [--stage NAME] [--step N] [--dtype D]
// [--attn-logits-scaling A]`: writes the model of a run's checkpoint (default: the newest
// complete checkpoint of the last stage that has one) as a Hugging Face folder in bfloat16 (the
// authors' release dtype; float32 on request), with the tokenizer and generation config, that
// forward, generate, inspect and the authors' HypeNet code load (a HypeNet's config.json has
// their keys, auto_map and attn_logits_scaling as their inference setting).
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/model_folder_files.h"
#include "data/shard_manifest.h"
#include "halo/checkpoint/checkpoint_store.h"
#include "hypenet/hypenet_checkpoint.h"
#include "hypenet/module_io.h"
#include "hypenet/qwen3_checkpoint.h"
#include "tools/commands.h"
#include "tools/size_arg.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

namespace halo::tools {

namespace fs = std::filesystem;

namespace {

struct ExportArgs {
  std::string run_dir, out, stage;
  int64_t step = -1;
  std::string dtype = "bfloat16";
  std::string max_shard_size = "5GB";
  double logits_scaling_a = -1;  // < 0: the run's student.attn_logits_scaling (the checkpoint's)
};

// The tokenizer and generation config `generate` needs in the exported folder: the teacher
// folder's side files when the pipeline names a teacher, else the tokenizer the run's data was
// prepared with (its manifest) and a generation_config.json whose eos_token_id is the data's
// document separator. Returns what was added ("" for nothing).
std::string copy_tokenizer(const nlohmann::json& pipeline, const fs::path& out) {
  std::vector<std::string> added;
  const auto teacher = pipeline.value("teacher", nlohmann::json::object()).value("path", "");
  if (!teacher.empty() && fs::is_directory(teacher)) {
    added = halo::copy_model_side_files(teacher, out.string());
  }
  const auto manifest_path = pipeline.value("data", nlohmann::json::object()).value("manifest", "");
  if (halo::find_model_tokenizer(out.string()).empty() && !manifest_path.empty() &&
      fs::is_regular_file(manifest_path)) {
    const auto m = data::Manifest::read(manifest_path);
    if (fs::is_regular_file(m.tokenizer_path)) {
      const std::string name =
          m.tokenizer_kind == "sentencepiece" ? "tokenizer.model" : "tokenizer.json";
      write_file_durably(out / name, [&](const std::string& tmp) {
        fs::copy_file(m.tokenizer_path, tmp, fs::copy_options::overwrite_existing);
      });
      added.push_back(name + " (from " + m.tokenizer_path + ")");
      if (!fs::exists(out / "generation_config.json") && m.separator_id >= 0) {
        write_text_atomically((out / "generation_config.json").string(),
                              nlohmann::json({{"eos_token_id", m.separator_id}}).dump(2) + "\n");
        added.push_back("generation_config.json (eos_token_id " + std::to_string(m.separator_id) +
                        ", the data's document separator)");
      }
    }
  }
  std::string s;
  for (const auto& n : added) s += (s.empty() ? "" : ", ") + n;
  return s;
}

void run_export(const ExportArgs& a) {
  const fs::path run(a.run_dir);
  const fs::path pipeline_json = run / "pipeline.json";
  std::ifstream in(pipeline_json);
  HALO_CHECK(in.good(), pipeline_json.string(),
             ": missing; RUN_DIR must be a run folder written by `halo-distill run`");
  auto p = nlohmann::json::parse(in, nullptr, false);
  HALO_CHECK(!p.is_discarded() && p.contains("stages"), pipeline_json.string(),
             ": not a pipeline description");
  std::vector<std::string> names;
  for (const auto& s : p["stages"]) names.push_back(s.value("name", ""));

  std::string stage = a.stage;
  if (stage.empty()) {
    for (auto it = names.rbegin(); it != names.rend(); ++it) {
      if (checkpoint::CheckpointStore(run / *it / "checkpoints", 1).latest()) {
        stage = *it;
        break;
      }
    }
    HALO_CHECK(!stage.empty(), run.string(), ": no stage has a complete checkpoint yet");
  } else {
    HALO_CHECK(std::find(names.begin(), names.end(), stage) != names.end(), run.string(),
               ": no stage named \"", stage, "\" in this run");
  }
  const fs::path ckdir = run / stage / "checkpoints";
  HALO_CHECK(fs::exists(ckdir), ckdir.string(), ": missing (stage \"", stage,
             "\" has no checkpoints; selection stages have no model)");
  checkpoint::CheckpointStore store(ckdir, 1);
  fs::path src;
  if (a.step >= 0) {
    auto steps = store.complete_steps();
    HALO_CHECK(std::find(steps.begin(), steps.end(), a.step) != steps.end(), ckdir.string(),
               ": no complete checkpoint of step ", a.step,
               " (complete: ", nlohmann::json(steps).dump(), ")");
    src = store.step_dir(a.step) / "model";
  } else {
    auto latest = store.latest();
    HALO_CHECK(latest.has_value(), ckdir.string(), ": no complete checkpoint");
    src = *latest / "model";
  }
  const fs::path out(a.out);
  HALO_CHECK(!fs::exists(out) || fs::is_empty(out), out.string(),
             ": exists and is not empty; choose a new --out folder");
  const auto storage = hypenet::parse_dtype(a.dtype, "--dtype");
  HALO_CHECK(storage == at::kBFloat16 || storage == at::kFloat,
             "--dtype must be bfloat16 (default, the authors' release dtype) or float32, got \"",
             a.dtype, "\"");
  const uint64_t shard = parse_size(a.max_shard_size, "--max-shard-size");
  const std::string model_type = hypenet::read_model_type(src.string());
  std::optional<hypenet::HypeNetConfig> student_config;
  if (model_type == "hypenet") {
    auto model = hypenet::load_hypenet(src.string(), at::kFloat, at::kCPU);
    auto config = model->config();
    if (a.logits_scaling_a >= 0) {
      HALO_CHECK(a.logits_scaling_a == 0 || a.logits_scaling_a > 1,
                 "--attn-logits-scaling must be 0 (null) or > 1, got ", a.logits_scaling_a);
      config.attn_logits_scaling_a.reset();
      config.attn_logits_scaling_const.reset();
      if (a.logits_scaling_a > 0) config.attn_logits_scaling_a = a.logits_scaling_a;
    }
    hypenet::save_module(out.string(), *model, hypenet::hypenet_config_for_authors(config, storage),
                         storage, shard);
    student_config = config;
  } else {
    HALO_CHECK(a.logits_scaling_a < 0, "--attn-logits-scaling: ", src.string(),
               " holds a Qwen3 teacher (stage \"", stage, "\"), which has no HyPE attention");
    auto model = hypenet::load_qwen3(src.string(), at::kFloat, at::kCPU);
    hypenet::save_qwen3(out.string(), model, storage, shard);
  }
  std::printf("exported %s (stage %s) -> %s: %s, %s\n", src.c_str(), stage.c_str(), out.c_str(),
              model_type.c_str(), hypenet::dtype_name(storage).c_str());
  const auto side = copy_tokenizer(p, out);
  std::printf("with %s\n",
              side.empty() ? "no tokenizer (generate needs --tokenizer)" : side.c_str());
  if (student_config)
    std::printf("%s", hypenet::authors_loading_note(out.string(), *student_config).c_str());
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export",
      "write a run's checkpoint model as a Hugging Face folder (bfloat16 by default) with the "
      "tokenizer and generation config: generate, forward, inspect and the authors' HypeNet "
      "code load it");
  cmd->add_option("RUN_DIR", a->run_dir, "the run folder (run.out_dir)")->required();
  cmd->add_option("--out", a->out, "destination folder (new or empty)")->required();
  cmd->add_option("--stage", a->stage, "stage to export (default: the last with a checkpoint)");
  cmd->add_option("--step", a->step, "checkpoint step (default: the newest complete one)");
  cmd->add_option("--dtype", a->dtype, "storage dtype: bfloat16 (the authors' release) or float32")
      ->capture_default_str();
  cmd->add_option("--attn-logits-scaling", a->logits_scaling_a,
                  "a of HyPE's inference-time query scale, written as \"hype <a>\" (the authors' "
                  "inference setting; 0 = null); default: the run's student.attn_logits_scaling");
  cmd->add_option("--max-shard-size", a->max_shard_size, "shard above this size (0 = never)")
      ->capture_default_str();
  cmd->callback([a] { run_export(*a); });
}

}  // namespace halo::tools
