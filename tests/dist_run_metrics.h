// What the data-parallel pipeline tests compare between runs: the per-step records of a stage's
// metrics.jsonl (loss and batch fingerprint), and the scale on which a stage-2 KL loss is
// compared (the teacher's next-token entropy, see tests/test_dist_pipeline.cpp for why).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace halo::test {

struct StepRecord {
  double loss = 0;
  int64_t batch_hash = 0;  // fingerprint of the step's global batch (train/batch_fingerprint.h)
};

// step -> record of the training lines of `metrics` (a step logged twice fails the test).
std::map<int64_t, StepRecord> read_step_records(const std::filesystem::path& metrics);

// step -> validation loss of the evaluation lines of `metrics`.
std::map<int64_t, double> read_val_losses(const std::filesystem::path& metrics);

// How many training (loss) lines `metrics` holds so far: how far a running stage has got.
int64_t count_loss_lines(const std::filesystem::path& metrics);

// Polls `metrics` until it holds `lines` loss lines or `timeout` has passed (the caller checks
// what the run then did): how the resume tests time their SIGTERM.
void wait_for_loss_lines(const std::filesystem::path& metrics, int64_t lines,
                         std::chrono::seconds timeout);

// Mean next-token entropy (nats) of the teacher in `teacher_dir` over the training batches of
// stage `stage` of the pipeline `yaml` (with `overrides`, "key=value" as for --set): the batches
// its trainer reads on one process, all steps and micro-batches.
double teacher_entropy(const std::string& yaml, const std::vector<std::string>& overrides,
                       const std::string& stage, const std::filesystem::path& teacher_dir);

}  // namespace halo::test
