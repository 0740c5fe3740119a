// What evaluation needs from a run's data: the first validation batches of the prepared data
// (unshuffled, so every model is scored on the same tokens), the tokenizer the data was made
// with (manifest's tokenizer_path, identity checked), and filler text ids for the recall
// prompts (the validation tokens without special ids).
#pragma once

#include "data/tokenizer.h"
#include "halo/config/pipeline_config.h"
#include "halo/eval/token_batch.h"

#include <memory>
#include <vector>

namespace halo::stages {

struct EvalInputs {
  std::vector<eval::TokenBatch> validation;
  std::unique_ptr<data::Tokenizer> tokenizer;
  std::vector<int64_t> filler;
};

EvalInputs load_eval_inputs(const config::PipelineConfig& p, int64_t seq_len, int64_t batch_size,
                            int64_t batches);

}  // namespace halo::stages
