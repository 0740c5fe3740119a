// BpeModel: the byte-level BPE model of a Hugging Face tokenizer.json ("model": {"type": "BPE"}):
// a word (the raw bytes of one pre-token) starts as one symbol per byte and adjacent symbols are
// merged by rank, lowest first (leftmost on ties), exactly as `tokenizers` does. O(n log n) in
// the word length (a heap of candidate merges over a linked list of symbols), with a per-thread
// cache of recent words.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace halo::data {

class BpeModel {
 public:
  // `byte_ids[b]`: id of the one-byte token for byte b. `merges`: (left id, right id) of each
  // merge in rank order (rank = index) with the id of the merged token; a pair listed twice keeps
  // its last rank, as in `tokenizers`. `whole_words`: raw-byte token -> id, used only with
  // `ignore_merges` (Llama-3: a word that is itself a token is emitted as is).
  struct Merge {
    int32_t left = 0, right = 0, merged = 0;
  };
  BpeModel(const std::vector<int32_t>& byte_ids, const std::vector<Merge>& merges,
           bool ignore_merges, std::unordered_map<std::string, int32_t> whole_words);

  // Appends the ids of `word` (raw bytes, non-empty) to `out`.
  void encode_word(std::string_view word, std::vector<int64_t>* out) const;

 private:
  void merge_word(std::string_view word, std::vector<int32_t>* ids) const;

  // (left << 32 | right) -> (rank, merged id) in an open-addressing table (linear probing, at
  // most half full): one cache line per lookup, where std::unordered_map took 16% of the encode
  // time on English text (perf, this machine).
  struct MergeSlot {
    uint64_t key;  // kEmptyKey when unused
    int32_t rank, merged;
  };
  const MergeSlot* find_merge(int32_t left, int32_t right) const;

  int32_t byte_ids_[256];
  std::vector<MergeSlot> merge_table_;
  uint64_t merge_mask_ = 0;
  bool ignore_merges_ = false;
  std::unordered_map<std::string, int32_t> whole_words_;
  uint64_t instance_id_;  // keys this model's per-thread word cache
};

}  // namespace halo::data
