// HfBpeTokenizer: a Hugging Face tokenizer.json with a byte-level BPE model, as Qwen2/Qwen3,
// GPT-2 and Llama-3 ship it, encoding to the same ids as the `tokenizers` library:
//   1. added/special tokens ("<|im_start|>", ...) are cut out of the raw text first (those with
//      normalized=false), then from the normalized text (those with normalized=true);
//   2. normalizer: NFC / NFD / NFKC / NFKD or a Sequence of them (Qwen: NFC), through utf8proc;
//   3. pre-tokenizer: Split (regex or literal, any behavior, invert), Digits and ByteLevel
//      (optional prefix space and GPT-2 regex), alone or in a Sequence ending with ByteLevel;
//      regexes run on PCRE2 with Unicode properties (regex.h);
//   4. byte-level BPE merges by rank on each pre-token (bpe_model.h);
//   5. decoding: the ByteLevel decoder (the GPT-2 byte table, computed in unicode.cpp).
// Anything else in the file (WordPiece/Unigram models, Metaspace, other normalizers) is reported
// with the key that holds it. Post-processors are not applied: encode() never adds BOS/EOS.
// Special token ids come from tokenizer_config.json beside the file when there is one (its
// bos_token / eos_token / pad_token / unk_token), else from the model's unk_token and well-known
// names (<|endoftext|>, <|begin_of_text|>, <|end_of_text|>, <s>, </s>, <pad>).
#pragma once

#include "data/added_tokens.h"
#include "data/bpe_model.h"
#include "data/pre_tokenizer.h"
#include "data/tokenizer.h"
#include "data/unicode.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace halo::data {

class HfBpeTokenizer : public Tokenizer {
 public:
  // Loads `path` (a tokenizer.json). Errors name the file and the key at fault.
  explicit HfBpeTokenizer(const std::string& path);
  ~HfBpeTokenizer() override;

  std::vector<int64_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(id_to_bytes_.size()); }
  const SpecialTokenIds& special_ids() const override { return special_ids_; }
  // `token` as the file spells it: an added token's content, or a vocabulary entry in the
  // byte-level alphabet ("Ġthe" for " the").
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::string kind() const override { return "hf-bpe"; }
  std::string identity() const override { return "hf-bpe:sha256:" + sha256_; }
  const std::string& path() const override { return path_; }

 private:
  void load_normalizer(const nlohmann::json& j);
  void load_model(const nlohmann::json& j);
  void load_added_tokens(const nlohmann::json& j);
  void load_decoder(const nlohmann::json& j);
  void load_special_ids(const std::string& model_unk_token);

  std::string normalize(std::string_view text) const;
  // Appends the ids of a plain-text (no added token) piece of the normalized text.
  void encode_plain(std::string_view normalized, std::vector<int64_t>* out) const;

  std::string path_;
  std::string sha256_;
  std::vector<NormalForm> normal_forms_;  // applied in order; empty = no normalizer
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  std::unordered_map<std::string, int64_t> vocab_;  // byte-level token text -> id
  std::unordered_map<std::string, int64_t> added_by_content_;
  AddedTokenMatcher raw_added_;           // added tokens with normalized=false
  AddedTokenMatcher normalized_added_;    // added tokens with normalized=true
  std::vector<std::string> id_to_bytes_;  // decoded bytes of each id
  std::vector<bool> id_known_;            // false for holes in the id range
  SpecialTokenIds special_ids_;
};

}  // namespace halo::data
