// Built-in recall tasks in validation text, deterministic from a seed:
//   passkey:   filler text with "The pass key is NNNNN. Remember it." at a random depth, then
//              "What is the pass key? The pass key is" (the classic prompt);
//   key-value: several "The value of key ABCD is NNNNN." lines at random depths, then
//              "What is the value of key ABCD? The value of key ABCD is" for one of them.
// Prompts are token ids of exactly the requested context length: the instruction, the filler
// (validation-text tokens taken cyclically from a random offset) split around the needles, and
// the question. The model must continue with the answer's digits (scored by retrieval_eval.h).
#pragma once

#include "data/tokenizer.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace halo::eval {

enum class RetrievalTask { kPasskey, kKeyValue };
std::string retrieval_task_name(RetrievalTask task);  // "passkey" / "key_value"

struct RetrievalSample {
  std::vector<int64_t> prompt;  // exactly context_length token ids
  std::string answer;           // the digits the model must produce, e.g. "48213"
  std::vector<double> depths;   // relative position in the filler (0..1) of each needle
};

// One sample. `filler`: validation-text token ids (at least one); `sample_seed` fixes the
// digits, keys, depths and filler offset. Errors when context_length cannot hold instruction,
// needles and question (the message gives the minimum).
RetrievalSample make_retrieval_sample(RetrievalTask task, const data::Tokenizer& tokenizer,
                                      const std::vector<int64_t>& filler, int64_t context_length,
                                      uint64_t sample_seed, int64_t num_kv_pairs = 4);

// The seed of sample k at a context length (splitmix64 of seed, length and k), so a sample
// does not change when other lengths or counts are added.
uint64_t retrieval_sample_seed(uint64_t seed, int64_t context_length, int64_t k);

// Filler tokens from texts (each encoded, joined by "\n\n").
std::vector<int64_t> filler_from_texts(const data::Tokenizer& tokenizer,
                                       const std::vector<std::string>& texts);
// Filler tokens from validation token ids [B, T] (e.g. a loader batch's input_ids), with the
// tokenizer's special ids (BOS, EOS, PAD, UNK) dropped.
std::vector<int64_t> filler_from_token_ids(const at::Tensor& ids,
                                           const data::SpecialTokenIds& specials);

// True when `continuation` (the decoded model output) starts, after whitespace, with exactly
// the digits of `answer` followed by a non-digit or the end.
bool retrieval_answer_matches(const std::string& continuation, const std::string& answer);

}  // namespace halo::eval
