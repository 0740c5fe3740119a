// run_stage_quality_gate: load the model, run the eval branch's gate, append the entry.
#include "halo/stages/quality_gate_step.h"

#include "halo/eval/quality_gate.h"
#include "halo/stages/eval_inputs.h"
#include "hypenet/causal_lm.h"

#include <chrono>
#include <cstdio>
#include <fstream>

namespace halo::stages {

namespace fs = std::filesystem;

bool report_has_entry(const config::PipelineConfig& p, const std::string& label) {
  std::ifstream in(fs::path(p.run.out_dir) / "report.json");
  if (!in.good()) return false;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("entries")) return false;
  for (const auto& e : j["entries"]) {
    if (e.value("label", "") == label) return true;
  }
  return false;
}

nlohmann::json run_stage_quality_gate(const config::PipelineConfig& p, const fs::path& model_dir,
                                      const std::string& label, c10::Device device) {
  const auto& q = p.quality_gate;
  auto inputs = load_eval_inputs(p, q.seq_len, q.batch_size, q.validation_batches);
  auto model = hypenet::load_causal_lm(model_dir.string(), at::kFloat, device);
  eval::QualityGateOptions o;
  o.retrieval_lengths = q.passkey_lengths;
  o.retrieval_samples = q.passkey_trials;
  o.seed = p.run.seed;
  o.key_value = q.key_value;
  o.use_cache = q.decode == "cached";
  o.prefill_chunk = q.prefill_chunk;
  const auto start = std::chrono::steady_clock::now();
  auto entry =
      eval::run_quality_gate(model, label, inputs.validation, *inputs.tokenizer, inputs.filler, o);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  eval::append_quality_report(fs::path(p.run.out_dir) / "report.json", entry);
  std::fprintf(stderr, "[%s] quality gate (%.2f s, %s decode): %s\n", label.c_str(), seconds,
               q.decode.c_str(), entry.dump().c_str());
  return entry;
}

}  // namespace halo::stages
