// The files of a model folder besides config.json and the weights: the tokenizer (tokenizer.json
// or a SentencePiece tokenizer.model, with their side files) and generation_config.json. `convert`
// and `export` copy them next to the weights, so `generate` finds the tokenizer and the EOS ids
// in the folder it loads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace halo {

// Names of the side files present in `dir` (tokenizer.json, tokenizer_config.json,
// tokenizer.model, vocab.json, merges.txt, special_tokens_map.json, added_tokens.json,
// generation_config.json), in that order.
std::vector<std::string> model_side_files(const std::string& dir);

// Copies model_side_files(from) into `to` (an existing folder), skipping names `to` has already.
// Returns the names copied.
std::vector<std::string> copy_model_side_files(const std::string& from, const std::string& to);

// The folder's tokenizer: dir/tokenizer.json, else dir/tokenizer.model; "" when neither exists.
std::string find_model_tokenizer(const std::string& dir);

// End-of-sequence ids: generation_config.json's eos_token_id (a number or a list), else
// config.json's; empty when neither names one. A malformed value is an error naming the file.
// `source` (optional) receives the path of the file the ids came from ("" when none).
std::vector<int64_t> model_eos_token_ids(const std::string& dir, std::string* source = nullptr);

}  // namespace halo
