// The manifest of a token-shard set (manifest.json, written by `halo-distill prepare`, read by
// the loaders): tokenizer identity, separator id, vocabulary size, the shards of each split
// (train / validation) with their document and token counts and SHA-256, and the per-file
// input report (documents kept and bad input skipped, by kind).
//
// Shard files (HDF5, one per shard): dataset "tokens" (1-D, uint16 when the vocabulary fits,
// else uint32, little-endian, contiguous, uncompressed: the loader memory-maps it) holds the
// documents' token ids back to back without separators; dataset "doc_offsets" (1-D int64,
// documents + 1 entries, first 0, last = tokens) holds where each document starts.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace halo::data {

inline constexpr const char* kManifestFormat = "halo-token-shards";
inline constexpr int kManifestVersion = 1;

struct ShardInfo {
  std::string file;  // relative to the manifest's folder
  int64_t documents = 0;
  int64_t tokens = 0;  // separators not included
  std::string sha256;  // of the whole file
};

struct SplitInfo {
  int64_t documents = 0;
  int64_t tokens = 0;  // separators not included
  std::vector<ShardInfo> shards;
};

// Bad input of one kind: how many, and the first place it was seen ("line 12").
struct BadInputCount {
  int64_t count = 0;
  std::string first;
};

// What prepare read from one input file.
struct InputReport {
  std::string file;
  int64_t documents = 0;  // kept
  int64_t tokens = 0;
  std::map<std::string, BadInputCount> bad;  // kind -> count (kinds in corpus_reader.h)
};

struct Manifest {
  std::string tokenizer_kind;      // "hf-bpe" | "sentencepiece"
  std::string tokenizer_identity;  // Tokenizer::identity(): kind and SHA-256 of its file
  std::string tokenizer_path;      // informative only
  int64_t vocab_size = 0;
  int64_t separator_id = -1;    // appended after every document by the loaders
  std::string separator_token;  // its text, e.g. "<|endoftext|>"
  // Where separator_id came from (prepare_corpus.h choose_separator), e.g. "teacher
  // generation_config.json eos_token_id (...)" or "tokenizer <|endoftext|>"; "" in manifests
  // written before it was recorded (they still load).
  std::string separator_source;
  std::string token_dtype;                  // "uint16" | "uint32"
  double validation_fraction = 0;           // every round(1/f)-th document, see prepare_corpus.h
  std::map<std::string, SplitInfo> splits;  // "train", "validation"
  std::vector<InputReport> inputs;

  nlohmann::json to_json() const;
  // `source` names the file in errors.
  static Manifest from_json(const nlohmann::json& j, const std::string& source);
  // Reads and validates path; errors name the file and the key.
  static Manifest read(const std::filesystem::path& path);
  // Writes atomically (temporary file, then rename).
  void write(const std::filesystem::path& path) const;

  // Short fingerprint of the shard set: tokenizer identity, separator and every shard checksum.
  std::string dataset_id() const;
  const SplitInfo& split(const std::string& name, const std::string& source) const;
};

// Bytes per stored token id for a dtype name ("uint16" -> 2, "uint32" -> 4).
int token_dtype_bytes(const std::string& dtype);
// "uint16" when every id < vocab_size fits in 16 bits, else "uint32".
std::string token_dtype_for_vocab(int64_t vocab_size);

}  // namespace halo::data
