// Implementation of token_stream.h.
#include "data/token_stream.h"

#include "common/error.h"

#include <algorithm>

namespace halo::data {

namespace {

uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, bound) without modulo bias (Lemire's multiply-and-reject).
uint64_t uniform_below(uint64_t bound, uint64_t* state) {
  __uint128_t m = static_cast<__uint128_t>(splitmix64(state)) * bound;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<__uint128_t>(splitmix64(state)) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

}  // namespace

std::vector<int64_t> document_order(int64_t num_documents, uint64_t seed, int64_t epoch,
                                    bool shuffle) {
  std::vector<int64_t> order(num_documents);
  for (int64_t i = 0; i < num_documents; ++i) order[i] = i;
  if (!shuffle) return order;
  uint64_t state = seed;
  state = splitmix64(&state) ^ (static_cast<uint64_t>(epoch) * 0xD1B54A32D192ED03ull);
  for (int64_t i = num_documents - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(uniform_below(static_cast<uint64_t>(i) + 1, &state));
    std::swap(order[i], order[j]);
  }
  return order;
}

TokenStream::TokenStream(const TokenShards& shards, uint64_t seed, bool shuffle)
    : shards_(shards),
      seed_(seed),
      shuffle_(shuffle),
      separator_(shards.manifest().separator_id),
      epoch_tokens_(shards.num_tokens() + shards.num_documents()) {}

void TokenStream::set_seed(uint64_t seed) {
  if (seed == seed_) return;
  seed_ = seed;
  cache_[0].epoch = cache_[1].epoch = -1;
}

void TokenStream::normalize(int64_t* epoch, int64_t* offset) const {
  HALO_CHECK(*offset >= 0 && *epoch >= 0, "token stream position (epoch ", *epoch, ", offset ",
             *offset, ") is negative");
  *epoch += *offset / epoch_tokens_;
  *offset %= epoch_tokens_;
}

const TokenStream::EpochIndex& TokenStream::index_of(int64_t epoch) {
  for (const auto& c : cache_) {
    if (c.epoch == epoch) return c;
  }
  EpochIndex& slot = cache_[next_slot_];
  next_slot_ ^= 1;
  slot.epoch = epoch;
  slot.order = document_order(shards_.num_documents(), seed_, epoch, shuffle_);
  slot.prefix.resize(slot.order.size() + 1);
  int64_t offset = 0;
  for (size_t i = 0; i < slot.order.size(); ++i) {
    slot.prefix[i] = offset;
    offset += shards_.document_length(slot.order[i]) + 1;
  }
  slot.prefix.back() = offset;
  return slot;
}

void TokenStream::read(int64_t epoch, int64_t offset, int64_t n, int64_t* out, bool* starts) {
  normalize(&epoch, &offset);
  while (n > 0) {
    const EpochIndex& idx = index_of(epoch);
    // The document holding `offset`: the last i with prefix[i] <= offset.
    size_t i = static_cast<size_t>(std::upper_bound(idx.prefix.begin(), idx.prefix.end(), offset) -
                                   idx.prefix.begin() - 1);
    int64_t in_doc = offset - idx.prefix[i];
    while (n > 0 && i < idx.order.size()) {
      const int64_t doc = idx.order[i];
      const int64_t len = shards_.document_length(doc);
      if (in_doc < len) {
        const int64_t take = std::min(n, len - in_doc);
        shards_.copy_document(doc, in_doc, take, out);
        if (starts) {
          std::fill(starts, starts + take, false);
          if (in_doc == 0) starts[0] = true;
          starts += take;
        }
        out += take;
        n -= take;
        in_doc += take;
        offset += take;
        if (n == 0) break;
      }
      // The separator after the document (also the first token of an empty document).
      *out++ = separator_;
      if (starts) *starts++ = (len == 0);
      --n;
      ++offset;
      in_doc = 0;
      ++i;
    }
    if (i == idx.order.size()) {
      ++epoch;
      offset = 0;
    }
  }
}

}  // namespace halo::data
