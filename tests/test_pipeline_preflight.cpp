// Pre-flight (halo/stages/preflight.h), end to end through the CLI on the tiny pipeline: a bad
// input the stages would meet only later (a corrupt validation shard, a teacher folder without
// readable weights, a tokenizer larger than the teacher's vocabulary, checkpoints larger than the
// free disk, run.device cuda without CUDA) stops `run` / `stage` with exit 1 and a message naming
// the file, what was expected and what was found, before step 1 and before anything is written
// into the run folder.
#include <catch2/catch.hpp>

#include "data/shard_manifest.h"
#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <torch/cuda.h>

#include <filesystem>
#include <fstream>
#include <string>

using namespace halo;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// Flips every bit of the byte in the middle of `path`.
void corrupt_one_byte(const fs::path& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  const auto at = static_cast<std::streamoff>(fs::file_size(path) / 2);
  f.seekg(at);
  char c = 0;
  f.get(c);
  f.seekp(at);
  f.put(static_cast<char>(~c));
}

// A refused run: exit 1, no step trained, nothing written into the run folder.
void require_refused_before_step_1(const test::CliResult& r, const fs::path& out_dir) {
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, !Contains("stage starting"));
  CHECK_FALSE(fs::exists(out_dir));
}

// A pipeline of one stage-1 stage distilling the teacher in `teacher`.
std::string write_align_pipeline(const test::TinyPipeline& tiny, const std::string& teacher,
                                 const std::string& out) {
  const std::string path = tiny.dir + "/align-only.yaml";
  std::ofstream f(path);
  f << "run:\n  out_dir: " << tiny.dir << "/" << out << "\n  seed: 7\n  threads: 2\n"
    << "teacher:\n  path: " << teacher << "\n"
    << "data:\n  manifest: " << tiny.manifest << "\n  prefetch: 1\n"
    << "quality_gate:\n  enabled: false\n"
    << "stages:\n"
    << "  - name: align\n    kind: stage1\n    steps: 2\n    seq_len: 32\n    batch_size: 4\n"
    << "    loss: l2norm\n    optimizer: {lr: 0.002}\n    checkpoint: {every: 3}\n"
    << "    eval: {batches: 1}\n";
  return path;
}

}  // namespace

TEST_CASE("corrupt validation shard refused before step 1", "[pipeline][preflight]") {
  test::TempDir dir("halo-preflight-shard");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string yaml = tiny.write_pipeline("p", "out");
  const fs::path out = dir.path() / "fixture" / "out";
  const auto m = data::Manifest::read(tiny.manifest);
  const auto& validation = m.splits.at("validation").shards;
  REQUIRE_FALSE(validation.empty());
  const fs::path shard = fs::path(tiny.manifest).parent_path() / validation.back().file;
  corrupt_one_byte(shard);

  for (const std::string command : {"run ", "stage pretrain "}) {
    auto r = test::run_cli(command + yaml);
    require_refused_before_step_1(r, out);
    CHECK_THAT(r.output, Contains(shard.string()));
    CHECK_THAT(r.output, Contains("validation split"));
    CHECK_THAT(r.output, Contains("is corrupt"));
    CHECK_THAT(r.output, Contains(validation.back().sha256));  // what the manifest expects
  }
  // A missing shard is named too.
  fs::remove(shard);
  auto r = test::run_cli("run " + yaml);
  require_refused_before_step_1(r, out);
  CHECK_THAT(r.output, Contains(shard.string() + "' (validation split of"));
  CHECK_THAT(r.output, Contains("is missing"));
}

TEST_CASE("a tokenizer larger than the teacher's vocabulary is refused before step 1",
          "[pipeline][preflight]") {
  test::TempDir dir("halo-preflight-vocab");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string yaml = tiny.write_pipeline("p", "out");
  const std::string small = dir.str() + "/small-vocab.json";
  std::ofstream(small) << R"({"vocab_size": 150, "hidden_size": 32, "intermediate_size": 64,
  "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
  "tie_word_embeddings": true, "rope_theta": 10000.0, "max_position_embeddings": 512})";
  auto r = test::run_cli("run " + yaml + " --set stages.pretrain.model_config=" + small);
  require_refused_before_step_1(r, dir.path() / "fixture" / "out");
  CHECK_THAT(r.output, Contains("tokenizer of 200 ids"));
  CHECK_THAT(r.output, Contains("teacher's vocab_size is 150 (" + small + ")"));
}

TEST_CASE("a teacher folder without readable weights is refused before step 1",
          "[pipeline][preflight]") {
  test::TempDir dir("halo-preflight-teacher");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const fs::path out = dir.path() / "fixture" / "out";

  SECTION("missing folder") {
    const std::string yaml = write_align_pipeline(tiny, dir.str() + "/no-such-teacher", "out");
    auto r = test::run_cli("run " + yaml);
    require_refused_before_step_1(r, out);
    CHECK_THAT(r.output, Contains(dir.str() + "/no-such-teacher/config.json not found"));
  }
  SECTION("config.json without weights") {
    const fs::path teacher = dir.path() / "teacher";
    fs::create_directories(teacher);
    fs::copy_file(tiny.model_config, teacher / "config.json");
    auto r = test::run_cli("run " + write_align_pipeline(tiny, teacher.string(), "out"));
    require_refused_before_step_1(r, out);
    CHECK_THAT(r.output, Contains("teacher.path " + teacher.string()));
    CHECK_THAT(r.output, Contains("has neither model.safetensors nor"));
  }
  SECTION("truncated weights") {
    const fs::path teacher = dir.path() / "teacher";
    auto init = test::run_cli("init-teacher --config " + tiny.model_config + " --out " +
                              teacher.string() + " --dtype float32");
    INFO(init.output);
    REQUIRE(init.exit_code == 0);
    const fs::path weights = teacher / "model.safetensors";
    fs::resize_file(weights, fs::file_size(weights) - 100);
    auto r = test::run_cli("run " + write_align_pipeline(tiny, teacher.string(), "out"));
    require_refused_before_step_1(r, out);
    CHECK_THAT(r.output, Contains(weights.string()));
  }
}

TEST_CASE("checkpoints larger than the free disk are refused before step 1, with the numbers",
          "[pipeline][preflight]") {
  test::TempDir dir("halo-preflight-disk");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string yaml = tiny.write_pipeline("p", "out");
  // 4 layers of a 3 x 2^22 x 2^22 MLP: about 2e14 parameters, petabytes of checkpoints.
  const std::string huge = dir.str() + "/huge.json";
  std::ofstream(huge) << R"({"vocab_size": 200, "hidden_size": 4194304,
  "intermediate_size": 4194304, "num_hidden_layers": 4, "num_attention_heads": 4,
  "num_key_value_heads": 2, "head_dim": 8, "tie_word_embeddings": true})";
  auto r = test::run_cli("stage pretrain " + yaml + " --set stages.pretrain.model_config=" + huge);
  require_refused_before_step_1(r, dir.path() / "fixture" / "out");
  CHECK_THAT(r.output, Contains("not enough free disk for the checkpoints"));
  CHECK_THAT(r.output, Contains("parameters x 12 bytes x 3 checkpoints"));
  CHECK_THAT(r.output, Contains(" free."));

  // A run that fits says what it checked, and trains.
  auto ok = test::run_cli("stage pretrain " + yaml);
  INFO(ok.output);
  REQUIRE(ok.exit_code == 0);
  CHECK_THAT(ok.output, Contains("pre-flight: checkpoints need about"));
  CHECK_THAT(ok.output, Contains("pretrain: "));
  CHECK_THAT(ok.output, Contains("train + 1 validation shards"));
}

TEST_CASE("run.device cuda without CUDA is refused before step 1", "[pipeline][preflight]") {
  if (torch::cuda::is_available()) {
    WARN("skipped: this machine has a CUDA device");
    return;
  }
  test::TempDir dir("halo-preflight-device");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string yaml = tiny.write_pipeline("p", "out");
  auto r = test::run_cli("run " + yaml + " --set run.device=cuda");
  require_refused_before_step_1(r, dir.path() / "fixture" / "out");
  CHECK_THAT(r.output, Contains("run.device is \"cuda\""));
  CHECK_THAT(r.output, Contains("--set run.device=cpu"));
}
