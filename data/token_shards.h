// TokenShards: one split (train or validation) of a token-shard set, opened for reading. Reads
// the manifest, verifies the SHA-256 of every shard of the split (a corrupt or replaced shard
// is a HaloError naming it), memory-maps the token ids and keeps a table of all documents in
// manifest order (shard by shard), so that readers address documents by one global index.
#pragma once

#include "data/shard_manifest.h"
#include "data/token_shard_file.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace halo::data {

// Checks shard `sh` (of split `split` of the set whose manifest is `manifest_path`) against the
// SHA-256 the manifest records; a missing, unreadable or changed file is a HaloError naming the
// shard, the split, the manifest and both checksums. TokenShards calls it for every shard it
// opens; the pipeline's pre-flight (halo/stages/preflight.h) for every shard before step 1.
void verify_shard_checksum(const std::filesystem::path& manifest_path, const std::string& split,
                           const ShardInfo& sh);

class TokenShards {
 public:
  // verify_checksums=false skips the SHA-256 pass (tools that inspect a set, never training).
  TokenShards(const std::filesystem::path& manifest_path, const std::string& split,
              bool verify_checksums = true);

  const Manifest& manifest() const { return manifest_; }
  const std::string& split() const { return split_; }
  int64_t num_documents() const { return static_cast<int64_t>(doc_shard_.size()); }
  int64_t num_tokens() const { return num_tokens_; }  // separators not included
  // Tokens of document `doc` (global index in manifest order), separator not included.
  int64_t document_length(int64_t doc) const { return doc_length_[doc]; }
  // Copies tokens [begin, begin + n) of document `doc` into out as int64.
  void copy_document(int64_t doc, int64_t begin, int64_t n, int64_t* out) const;
  // The whole document (tests, tools).
  std::vector<int64_t> document(int64_t doc) const;

 private:
  Manifest manifest_;
  std::string split_;
  std::vector<std::unique_ptr<TokenShardFile>> shards_;
  std::vector<int32_t> doc_shard_;   // shard of each document
  std::vector<int64_t> doc_begin_;   // first token of each document within its shard
  std::vector<int64_t> doc_length_;  // tokens of each document
  int64_t num_tokens_ = 0;
};

}  // namespace halo::data
