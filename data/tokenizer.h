// The tokenizer interface of halo-distill: text <-> token ids for the teacher's own tokenizer.
// Two implementations: Hugging Face tokenizer.json with byte-level BPE (Qwen2/Qwen3, GPT-2,
// Llama-3 style; hf_bpe_tokenizer.h) and SentencePiece .model files (sentencepiece_tokenizer.h).
// load_tokenizer() picks one from the path. Implementations are thread-safe: encode and decode
// may run concurrently from several threads on one object.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace halo::data {

// Ids of the special tokens a tokenizer knows of; -1 where it has none.
struct SpecialTokenIds {
  int64_t bos = -1;  // beginning of sequence
  int64_t eos = -1;  // end of sequence / document separator
  int64_t pad = -1;
  int64_t unk = -1;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text` (UTF-8). Never adds BOS/EOS: callers that pack documents add those from
  // special_ids(). Invalid UTF-8 is an error (HaloError naming the byte offset).
  virtual std::vector<int64_t> encode(std::string_view text) const = 0;
  // The text of `ids` (valid UTF-8), special tokens included. Ids whose bytes do not form whole
  // characters (a cut multi-byte character) give U+FFFD, as in the reference libraries. Ids
  // outside [0, vocab_size()) are an error. decode(encode(x)) == x for valid UTF-8 x that the
  // tokenizer's normalizer leaves unchanged (e.g. Qwen's NFC: x already in NFC).
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;

  // One more than the largest token id (added tokens included); the teacher's embedding table
  // may be larger (padded).
  virtual int64_t vocab_size() const = 0;
  virtual const SpecialTokenIds& special_ids() const = 0;
  // Id of one whole token given by its text (e.g. "<|endoftext|>"); nullopt when unknown.
  virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;

  // "hf-bpe" or "sentencepiece".
  virtual std::string kind() const = 0;
  // Kind and SHA-256 of the file that defines the ids, e.g. "hf-bpe:sha256:3f2a...": recorded
  // in data manifests so that shards are never mixed across tokenizers.
  virtual std::string identity() const = 0;
  // The file the tokenizer was loaded from.
  virtual const std::string& path() const = 0;
};

// Loads the tokenizer at `path`:
//   - a file named *.json (tokenizer.json)      -> Hugging Face byte-level BPE
//   - a file named *.model (SentencePiece)      -> SentencePiece
//   - a folder -> its tokenizer.json if present, else its tokenizer.model
// Errors name the path and what was expected there.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace halo::data
