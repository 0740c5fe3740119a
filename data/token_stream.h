// TokenStream: the global token stream of one split as PackedLoader defines it (see
// packed_loader.h): per epoch, the split's documents in the order document_order(seed, epoch)
// gives, each followed by the separator id; epochs follow each other. Reads any window of it by
// (epoch, offset), with the document-start flags. Not thread-safe (one reader at a time); it
// caches the order and prefix sums of the two epochs last read (a window spans at most two
// epochs when it is shorter than an epoch, and a few otherwise).
#pragma once

#include "data/token_shards.h"

#include <cstdint>
#include <vector>

namespace halo::data {

// The document order of `epoch`: a permutation of [0, num_documents) drawn from (seed, epoch)
// by a Fisher-Yates shuffle on a SplitMix64 generator (the same on every platform and
// compiler), or the identity when shuffle is false.
std::vector<int64_t> document_order(int64_t num_documents, uint64_t seed, int64_t epoch,
                                    bool shuffle);

class TokenStream {
 public:
  TokenStream(const TokenShards& shards, uint64_t seed, bool shuffle);

  // Tokens of one epoch: the split's tokens plus one separator per document.
  int64_t epoch_tokens() const { return epoch_tokens_; }
  uint64_t seed() const { return seed_; }
  void set_seed(uint64_t seed);
  // Moves offset into [0, epoch_tokens) by carrying whole epochs into epoch.
  void normalize(int64_t* epoch, int64_t* offset) const;

  // Fills out[0, n) with the stream tokens from (epoch, offset) on, and starts[0, n) (when not
  // null) with true at the first token of each document.
  void read(int64_t epoch, int64_t offset, int64_t n, int64_t* out, bool* starts);

 private:
  struct EpochIndex {
    int64_t epoch = -1;
    std::vector<int64_t> order;   // documents of the epoch in stream order
    std::vector<int64_t> prefix;  // prefix[i] = stream offset of order[i]; prefix[N] = epoch_tokens
  };
  const EpochIndex& index_of(int64_t epoch);

  const TokenShards& shards_;
  uint64_t seed_;
  bool shuffle_;
  int64_t separator_;
  int64_t epoch_tokens_;
  EpochIndex cache_[2];
  int next_slot_ = 0;
};

}  // namespace halo::data
