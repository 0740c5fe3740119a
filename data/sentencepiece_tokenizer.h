// SentencePieceTokenizer: a SentencePiece .model file (unigram or BPE, Llama-2 / T5 / a model
// trained with `halo-distill train-tokenizer`) through libsentencepiece. Ids are those of the
// `sentencepiece` Python package's encode(text) (no BOS/EOS added).
#pragma once

#include "data/tokenizer.h"

#include <memory>
#include <string>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace halo::data {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Loads `path`; errors name it (missing, or not a SentencePiece model).
  explicit SentencePieceTokenizer(const std::string& path);
  ~SentencePieceTokenizer() override;

  std::vector<int64_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  const SpecialTokenIds& special_ids() const override { return special_ids_; }
  // A piece as the model spells it ("▁the", "<s>"); nullopt when it is not in the vocabulary.
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::string kind() const override { return "sentencepiece"; }
  std::string identity() const override { return "sentencepiece:sha256:" + sha256_; }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  std::string sha256_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  int64_t vocab_size_ = 0;
  SpecialTokenIds special_ids_;
};

}  // namespace halo::data
