// read_step_records, read_val_losses and count_loss_lines (metrics.jsonl), teacher_entropy (the
// teacher over the stage's batches).
#include "tests/dist_run_metrics.h"

#include "data/packed_loader.h"
#include "halo/config/pipeline_config.h"
#include "halo/stages/stage_context.h"
#include "hypenet/qwen3_checkpoint.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <thread>

namespace halo::test {

namespace {

// Calls f on each line of `metrics`, parsed as JSON (the file must exist).
template <class F>
void for_each_record(const std::filesystem::path& metrics, F&& f) {
  std::ifstream in(metrics);
  INFO(metrics.string());
  REQUIRE(in.good());
  std::string line;
  while (std::getline(in, line)) f(nlohmann::json::parse(line));
}

}  // namespace

std::map<int64_t, StepRecord> read_step_records(const std::filesystem::path& metrics) {
  std::map<int64_t, StepRecord> out;
  for_each_record(metrics, [&](const nlohmann::json& j) {
    if (!j.contains("loss")) return;
    const int64_t step = j["step"].get<int64_t>();
    INFO("step " << step << " logged twice");
    REQUIRE(out.emplace(step, StepRecord{j["loss"].get<double>(), j["batch_hash"].get<int64_t>()})
                .second);
  });
  return out;
}

std::map<int64_t, double> read_val_losses(const std::filesystem::path& metrics) {
  std::map<int64_t, double> out;
  for_each_record(metrics, [&](const nlohmann::json& j) {
    if (j.contains("val_loss")) out[j["step"].get<int64_t>()] = j["val_loss"].get<double>();
  });
  return out;
}

double teacher_entropy(const std::string& yaml, const std::vector<std::string>& overrides,
                       const std::string& stage, const std::filesystem::path& teacher_dir) {
  const auto pipeline = config::load_pipeline_config(yaml, overrides);
  stages::StageContext ctx;
  ctx.pipeline = &pipeline;
  ctx.index = static_cast<size_t>(pipeline.stage_index(stage));
  const auto setup = ctx.trainer_setup();  // the data seed and shapes the trainer uses
  const auto shape0 = setup.stage.shape_at(0);
  data::PackedLoader loader(data::training_loader_options(
      setup.manifest, shape0.first, shape0.second, 0, 1, setup.data_seed, /*prefetch=*/0));
  auto teacher = hypenet::load_qwen3(teacher_dir.string(), at::kFloat, at::kCPU);
  teacher->eval();
  torch::NoGradGuard no_grad;
  double sum = 0;
  int64_t tokens = 0;
  for (int64_t step = 0; step < setup.stage.steps; ++step) {
    const auto shape = setup.stage.shape_at(step);
    loader.set_shape(shape.first, shape.second);
    for (int64_t micro = 0; micro < setup.stage.grad_accum; ++micro) {
      auto logits = teacher->forward(loader.next().input_ids, {}).logits;  // [B, T, V]
      auto logp = at::log_softmax(logits.to(at::kDouble), -1);
      sum += -(logp.exp() * logp).sum().item<double>();
      tokens += logits.size(0) * logits.size(1);
    }
  }
  return sum / static_cast<double>(tokens);
}

int64_t count_loss_lines(const std::filesystem::path& metrics) {
  std::ifstream in(metrics);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) n += line.find("\"loss\"") != std::string::npos;
  return n;
}

void wait_for_loss_lines(const std::filesystem::path& metrics, int64_t lines,
                         std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (count_loss_lines(metrics) < lines && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace halo::test
