// Implementation of bpe_model.h. The merge loop mirrors `tokenizers`' Word::merge_all: a min-heap
// of (rank, position) candidates; a popped candidate is applied only if the pair at that position
// still exists and still merges into the same token.
#include "data/bpe_model.h"

#include <atomic>
#include <queue>

namespace halo::data {

namespace {

// Words at least this long are not cached (they are rare; `tokenizers` uses the same bound).
constexpr size_t kMaxCachedWordBytes = 256;
// Entries per cache before it is emptied and refilled (about 20 MB per thread at this size;
// 65536 was 30% slower on 17 MB of Python sources, this machine).
constexpr size_t kCacheCapacity = 131072;
// Per-thread caches of this many models at most (the most recently created ones).
constexpr size_t kCachesPerThread = 4;

std::atomic<uint64_t> g_next_instance_id{1};

using WordCache = std::unordered_map<std::string, std::vector<int32_t>>;

WordCache& thread_cache(uint64_t instance_id) {
  thread_local std::vector<std::pair<uint64_t, WordCache>> caches;
  for (auto& [id, cache] : caches) {
    if (id == instance_id) return cache;
  }
  if (caches.size() >= kCachesPerThread) {
    // Drop the oldest model's cache (smallest id).
    size_t oldest = 0;
    for (size_t i = 1; i < caches.size(); ++i) {
      if (caches[i].first < caches[oldest].first) oldest = i;
    }
    caches.erase(caches.begin() + static_cast<std::ptrdiff_t>(oldest));
  }
  caches.emplace_back(instance_id, WordCache{});
  return caches.back().second;
}

struct Symbol {
  int32_t id;
  int32_t prev;  // index of the previous live symbol, -1 at the start
  int32_t next;  // index of the next live symbol, -1 at the end
  bool alive;
};

struct Candidate {
  int32_t rank;
  int32_t pos;  // index of the left symbol
  int32_t merged;
};

struct CandidateAfter {
  // std::priority_queue pops the greatest: order so that the lowest (rank, pos) is on top.
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};

inline uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

constexpr uint64_t kEmptyKey = ~uint64_t{0};  // ids are below 2^31: never a real key

inline uint64_t slot_of(uint64_t key) {
  return (key * 0x9E3779B97F4A7C15ull) >> 20;
}

}  // namespace

BpeModel::BpeModel(const std::vector<int32_t>& byte_ids, const std::vector<Merge>& merges,
                   bool ignore_merges, std::unordered_map<std::string, int32_t> whole_words)
    : ignore_merges_(ignore_merges),
      whole_words_(std::move(whole_words)),
      instance_id_(g_next_instance_id.fetch_add(1)) {
  for (int b = 0; b < 256; ++b) byte_ids_[b] = byte_ids.at(static_cast<size_t>(b));
  size_t capacity = 16;
  while (capacity < 2 * merges.size()) capacity *= 2;
  merge_table_.assign(capacity, MergeSlot{kEmptyKey, 0, 0});
  merge_mask_ = capacity - 1;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge& m = merges[rank];
    const uint64_t key = pair_key(m.left, m.right);
    uint64_t i = slot_of(key) & merge_mask_;
    while (merge_table_[i].key != kEmptyKey && merge_table_[i].key != key) {
      i = (i + 1) & merge_mask_;
    }
    // A pair listed twice keeps its last rank.
    merge_table_[i] = {key, static_cast<int32_t>(rank), m.merged};
  }
}

const BpeModel::MergeSlot* BpeModel::find_merge(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  for (uint64_t i = slot_of(key) & merge_mask_;; i = (i + 1) & merge_mask_) {
    const MergeSlot& slot = merge_table_[i];
    if (slot.key == key) return &slot;
    if (slot.key == kEmptyKey) return nullptr;
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>* ids) const {
  const auto n = static_cast<int32_t>(word.size());
  std::vector<Symbol> symbols(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    symbols[i] = {byte_ids_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1,
                  true};
  }
  std::vector<Candidate> storage;
  storage.reserve(static_cast<size_t>(n));
  std::priority_queue<Candidate, std::vector<Candidate>, CandidateAfter> queue(CandidateAfter{},
                                                                               std::move(storage));
  auto push_pair = [&](int32_t left) {
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    if (const MergeSlot* m = find_merge(symbols[left].id, symbols[right].id)) {
      queue.push({m->rank, left, m->merged});
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    // A stale candidate: the pair at this position changed since it was pushed.
    const MergeSlot* m = find_merge(left.id, right.id);
    if (m == nullptr || m->merged != top.merged) continue;
    left.id = top.merged;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = symbols[i].next) ids->push_back(symbols[i].id);
}

void BpeModel::encode_word(std::string_view word, std::vector<int64_t>* out) const {
  if (word.empty()) return;
  if (word.size() == 1) {
    out->push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (ignore_merges_) {
    auto it = whole_words_.find(std::string(word));
    if (it != whole_words_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  if (word.size() >= kMaxCachedWordBytes) {
    std::vector<int32_t> ids;
    merge_word(word, &ids);
    out->insert(out->end(), ids.begin(), ids.end());
    return;
  }
  WordCache& cache = thread_cache(instance_id_);
  const std::string key(word);
  auto it = cache.find(key);
  if (it == cache.end()) {
    std::vector<int32_t> ids;
    merge_word(word, &ids);
    if (cache.size() >= kCacheCapacity) cache.clear();
    it = cache.emplace(key, std::move(ids)).first;
  }
  out->insert(out->end(), it->second.begin(), it->second.end());
}

}  // namespace halo::data
