// Implementation of quality_gate.h.
#include "halo/eval/quality_gate.h"

#include "common/error.h"
#include "halo/eval/validation_loss.h"

#include <fstream>

namespace halo::eval {

nlohmann::json run_quality_gate(hypenet::CausalLM& model, const std::string& label,
                                const std::vector<TokenBatch>& validation,
                                const data::Tokenizer& tokenizer,
                                const std::vector<int64_t>& filler, const QualityGateOptions& o) {
  const auto v = score_tokens(model, validation, o.chunk_tokens);
  nlohmann::json entry = {{"label", label},
                          {"validation",
                           {{"loss", v.loss},
                            {"perplexity", v.perplexity()},
                            {"accuracy", v.accuracy},
                            {"tokens", v.tokens},
                            {"batches", v.batches}}}};
  RetrievalOptions r;
  r.context_lengths = o.retrieval_lengths;
  r.samples_per_length = o.retrieval_samples;
  r.seed = o.seed;
  r.batch_size = o.batch_size;
  r.use_cache = o.use_cache;
  r.prefill_chunk = o.prefill_chunk;
  std::vector<RetrievalTask> tasks = {RetrievalTask::kPasskey};
  if (o.key_value) tasks.push_back(RetrievalTask::kKeyValue);
  for (auto task : tasks) {
    r.task = task;
    auto list = nlohmann::json::array();
    for (const auto& s : evaluate_retrieval(model, tokenizer, filler, r))
      list.push_back(s.to_json());
    entry[retrieval_task_name(task)] = list;
  }
  return entry;
}

void append_quality_report(const std::filesystem::path& path, const nlohmann::json& entry) {
  nlohmann::json report = {{"entries", nlohmann::json::array()}};
  if (std::filesystem::exists(path)) {
    std::ifstream in(path);
    try {
      report = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      HALO_FAIL(path.string(), ": the quality report is not valid JSON (", e.what(),
                "). HINT: move it aside; a new one is started");
    }
    HALO_CHECK(report.is_object() && report.contains("entries") && report["entries"].is_array(),
               path.string(), ": the quality report must be an object with an 'entries' array");
  }
  report["entries"].push_back(entry);
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp);
    HALO_CHECK(out.good(), tmp.string(), ": cannot write the quality report");
    out << report.dump(2) << "\n";
    out.flush();
    HALO_CHECK(out.good(), tmp.string(), ": writing the quality report failed (disk full?)");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace halo::eval
