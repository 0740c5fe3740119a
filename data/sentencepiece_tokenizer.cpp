// Implementation of sentencepiece_tokenizer.h on libsentencepiece (Debian's
// libsentencepiece-dev). SentencePieceProcessor's Encode/Decode are const and thread-safe.
#include "data/sentencepiece_tokenizer.h"

#include "common/error.h"
#include "data/sha256.h"
#include "data/unicode.h"

#include <sentencepiece_processor.h>

#include <filesystem>

namespace halo::data {

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& path)
    : path_(path), processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  std::error_code ec;
  HALO_CHECK(std::filesystem::is_regular_file(path, ec), path,
             ": no such file (expected a SentencePiece .model file)");
  const auto status = processor_->Load(path);
  HALO_CHECK(status.ok(), path, ": not a valid SentencePiece model (", status.ToString(),
             "). HINT: pass the tokenizer.model / *.model file written by the SentencePiece "
             "trainer");
  sha256_ = sha256_file_hex(path);
  vocab_size_ = processor_->GetPieceSize();
  special_ids_.bos = processor_->bos_id();
  special_ids_.eos = processor_->eos_id();
  special_ids_.pad = processor_->pad_id();
  special_ids_.unk = processor_->unk_id();
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int64_t> SentencePieceTokenizer::encode(std::string_view text) const {
  const size_t bad = find_invalid_utf8(text);
  HALO_CHECK(bad == std::string_view::npos, "text to encode is not valid UTF-8 (byte offset ", bad,
             " of ", text.size(), ")");
  std::vector<int> ids;
  const auto status = processor_->Encode(text, &ids);
  HALO_CHECK(status.ok(), path_, ": SentencePiece encode failed: ", status.ToString());
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> narrow;
  narrow.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    HALO_CHECK(ids[i] >= 0 && ids[i] < vocab_size_, "cannot decode token id ", ids[i],
               " (position ", i, "): not in the vocabulary of ", path_, " (", vocab_size_, " ids)");
    narrow.push_back(static_cast<int>(ids[i]));
  }
  std::string text;
  const auto status = processor_->Decode(narrow, &text);
  HALO_CHECK(status.ok(), path_, ": SentencePiece decode failed: ", status.ToString());
  return text;
}

std::optional<int64_t> SentencePieceTokenizer::token_to_id(std::string_view token) const {
  const int id = processor_->PieceToId(token);
  // PieceToId answers unk_id() for unknown pieces: tell those apart from the unk piece itself.
  if (id == processor_->unk_id() && processor_->IdToPiece(id) != token) return std::nullopt;
  return id;
}

}  // namespace halo::data
