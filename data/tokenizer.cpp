// load_tokenizer(): chooses the tokenizer implementation from the path (see tokenizer.h).
#include "data/tokenizer.h"

#include "common/error.h"
#include "data/hf_bpe_tokenizer.h"
#include "data/sentencepiece_tokenizer.h"

#include <filesystem>

namespace halo::data {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  HALO_CHECK(fs::exists(p, ec), path,
             ": no such file or folder (expected a tokenizer.json, a SentencePiece .model file "
             "or a model folder holding one of them)");
  if (fs::is_directory(p, ec)) {
    if (fs::is_regular_file(p / "tokenizer.json", ec)) {
      return std::make_unique<HfBpeTokenizer>((p / "tokenizer.json").string());
    }
    if (fs::is_regular_file(p / "tokenizer.model", ec)) {
      return std::make_unique<SentencePieceTokenizer>((p / "tokenizer.model").string());
    }
    HALO_FAIL(path,
              ": folder has neither tokenizer.json nor tokenizer.model. HINT: pass the "
              "tokenizer file itself, or the teacher's Hugging Face model folder");
  }
  const std::string ext = p.extension().string();
  if (ext == ".json") return std::make_unique<HfBpeTokenizer>(path);
  if (ext == ".model") return std::make_unique<SentencePieceTokenizer>(path);
  HALO_FAIL(path, ": unknown tokenizer file type '", ext,
            "' (expected tokenizer.json for Hugging Face BPE or a SentencePiece .model file)");
}

}  // namespace halo::data
