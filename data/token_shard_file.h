// One HDF5 token shard file (format in shard_manifest.h): writing it atomically, and opening it
// for reading with its token ids memory-mapped (the dataset is contiguous and uncompressed, so
// its bytes sit at one file offset that HDF5 reports; reads then need no HDF5 call).
// HDF5 (serial build) is not thread-safe: every HDF5 call here holds one process-wide lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace halo::data {

// Writes `tokens` (ids, each < 2^(8*dtype bytes)) and `doc_offsets` (documents + 1 entries, first
// 0, last tokens.size()) to `path` through a temporary file renamed into place. `dtype` is
// "uint16" or "uint32". Returns the SHA-256 of the finished file. Errors name the path.
std::string write_token_shard(const std::string& path, const std::vector<uint32_t>& tokens,
                              const std::vector<int64_t>& doc_offsets, const std::string& dtype);

// A shard opened for reading: its document offsets in memory, its tokens memory-mapped.
class TokenShardFile {
 public:
  // Checks the datasets against the expected dtype and counts (from the manifest); errors name
  // the path and what differs.
  TokenShardFile(const std::string& path, const std::string& dtype, int64_t expect_documents,
                 int64_t expect_tokens);
  ~TokenShardFile();
  TokenShardFile(const TokenShardFile&) = delete;
  TokenShardFile& operator=(const TokenShardFile&) = delete;

  int64_t num_documents() const { return static_cast<int64_t>(doc_offsets_.size()) - 1; }
  int64_t num_tokens() const { return doc_offsets_.back(); }
  const std::vector<int64_t>& doc_offsets() const { return doc_offsets_; }
  // Copies tokens [begin, begin + n) of the shard into out as int64.
  void copy_tokens(int64_t begin, int64_t n, int64_t* out) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<int64_t> doc_offsets_;
  int bytes_per_token_ = 4;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const unsigned char* tokens_ = nullptr;
};

}  // namespace halo::data
