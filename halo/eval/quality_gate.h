// The quality gate run after every stage (issue 5, trainer): validation loss, perplexity and
// next-token accuracy on validation batches, and passkey (optionally key-value) retrieval at
// the configured context lengths, as one JSON entry; append_quality_report adds the entry to
// the run's report file so that a regression shows the moment it happens.
#pragma once

#include "data/tokenizer.h"
#include "halo/eval/retrieval_eval.h"
#include "halo/eval/token_batch.h"
#include "hypenet/causal_lm.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace halo::eval {

struct QualityGateOptions {
  std::vector<int64_t> retrieval_lengths;  // context lengths for passkey / key-value prompts
  int64_t retrieval_samples = 8;           // prompts per length and task
  bool key_value = true;                   // also run the key-value retrieval task
  uint64_t seed = 0;                       // fixes every retrieval prompt
  int64_t chunk_tokens = 1024;             // rows of [rows, V] logits alive at once
  int64_t batch_size = 4;                  // retrieval prompts decoded together
  bool use_cache = true;                   // RetrievalOptions::use_cache
  int64_t prefill_chunk = 2048;            // RetrievalOptions::prefill_chunk
};

// Returns {"label", "validation": {loss, perplexity, accuracy, tokens, batches},
// "passkey": [RetrievalScore...], "key_value": [...] (when enabled)}.
// `filler`: validation-text token ids for the retrieval prompts (filler_from_token_ids).
nlohmann::json run_quality_gate(hypenet::CausalLM& model, const std::string& label,
                                const std::vector<TokenBatch>& validation,
                                const data::Tokenizer& tokenizer,
                                const std::vector<int64_t>& filler,
                                const QualityGateOptions& options);

// Appends `entry` to the JSON report at `path` ({"entries": [...]}; created when missing),
// rewriting it through a temporary file and a rename, so the file is always whole.
void append_quality_report(const std::filesystem::path& path, const nlohmann::json& entry);

}  // namespace halo::eval
