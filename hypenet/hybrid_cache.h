// The inference cache of the causal LMs (Qwen3 teacher, HypeNet student): per attention layer a
// KV cache preallocated for `capacity` tokens per sequence (model dtype), per Lightning layer the
// recurrent state [B, H, Dk, Dv] (float32; float64 for float64 models), and one length per
// sequence row. A forward on the cache (CacheStep) extends some rows by a segment of tokens each:
// a prefill chunk or one decode token. cache_bytes() plans the memory before anything is
// allocated (OOM messages, `inspect --context`).
//
// Dimension letters: R cache rows (the batch the cache was made for), C capacity (tokens per
// row), Hkv kv heads, d head dim, N segments of a step, n tokens per segment.
#pragma once

#include "hypenet/causal_lm_output.h"
#include "hypenet/hypenet_config.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace halo::hypenet {

// What one forward on a cache does: segment i appends lengths[i] tokens to row slots[i], whose
// first position is starts[i] (the row's length before the step). Two input layouts:
//   uniform (every lengths[i] == n): ids [N, n], row i of the input is segment i;
//   packed (ragged lengths):         ids [1, sum lengths], segment i is columns
//                                    [offsets[i], offsets[i + 1]) of row 0.
struct CacheStep {
  std::vector<int64_t> slots, starts, lengths;
  bool packed = false;
  std::vector<int64_t> offsets;  // packed: N + 1 column offsets (host)
  // On the model's device, made by make_cache_step():
  at::Tensor slot_index;  // [N] int64
  at::Tensor positions;   // [N, n] or [1, sum lengths] int64: absolute positions of the tokens
  at::Tensor cu_seqlens;  // [N + 1] int64 (packed only)
  bool contiguous_slots = false;  // slots == first, first + 1, ..., first + N - 1
  int64_t num_segments() const { return static_cast<int64_t>(slots.size()); }
};

// Builds a step; the layout is uniform when every length is equal, else packed. Checks that
// slots are distinct and lengths >= 1.
CacheStep make_cache_step(std::vector<int64_t> slots, std::vector<int64_t> starts,
                          std::vector<int64_t> lengths, c10::Device device);

// Per attention layer: keys and values of every row, token-major.
struct KvCache {
  at::Tensor k, v;  // [R, C, Hkv, d] in the model dtype
};

// The sizes the cache of a model has, from its config (teacher: every layer attention).
struct CacheLayout {
  std::vector<MixerType> mixers;       // per layer
  int64_t kv_heads = 0, head_dim = 0;  // attention layers
  int64_t lightning_heads = 0, lightning_dk = 0, lightning_dv = 0;
  static CacheLayout of(const Qwen3Config& teacher);
  static CacheLayout of(const HypeNetConfig& student);
  int64_t num_attention_layers() const;
  int64_t num_lightning_layers() const;
};

// Bytes a cache takes for `batch` rows of `capacity` tokens (model dtype `dtype`).
struct CacheBytes {
  int64_t kv_bytes_per_token = 0;  // all attention layers, one row
  int64_t kv = 0;                  // all KV caches
  int64_t state = 0;               // all Lightning states
  int64_t total() const { return kv + state; }
};
CacheBytes cache_bytes(const CacheLayout& layout, int64_t batch, int64_t capacity,
                       at::ScalarType dtype);

// "1.25 GiB" style.
std::string format_bytes(int64_t bytes);

class HybridCache {
 public:
  HybridCache() = default;
  // Allocates every layer for `batch` rows of `capacity` tokens on `device`; the caller checks
  // memory first (cache_bytes). Lengths start at 0, states and KV entries at zero: a decode step
  // over rows of different lengths reads the masked entries past a row's length, and masked
  // garbage could be NaN (0 x NaN = NaN).
  HybridCache(const CacheLayout& layout, int64_t batch, int64_t capacity, at::ScalarType dtype,
              c10::Device device);

  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }
  int64_t num_layers() const { return static_cast<int64_t>(kv_.size()); }
  // Tokens stored in `row`.
  int64_t length(int64_t row) const { return lengths_.at(static_cast<size_t>(row)); }
  // Empties a row (a new sequence takes it): length 0, recurrent states zero. KV entries past the
  // length are never read, so they stay.
  void reset_row(int64_t row);
  // Benchmarks only (`bench decode --fill synthetic`): every row holds `length` tokens of random
  // keys and values (normal, std 1) and a random recurrent state (normal, std 0.01), as if a
  // prompt of that length had been prefilled, without the prefill's time.
  void fill_synthetic(int64_t length);  // draws from the default generator (at::manual_seed)
  // Sets a row's length (0..capacity) without touching its entries: for code that moves the
  // lengths itself (a replayed CUDA graph of the decode step, halo/inference/decode_graph.h).
  void set_length(int64_t row, int64_t length);
  // Called by the model forward after every layer ran `step`: lengths[slot] += length.
  void commit(const CacheStep& step);
  // Checks that `step` fits: slots in [0, batch), starts equal the rows' lengths, and
  // start + length <= capacity (an error names the row and the numbers).
  void check_step(const CacheStep& step) const;

  KvCache& kv(size_t layer) { return kv_.at(layer); }
  at::Tensor& state(size_t layer) { return state_.at(layer); }  // [R, H, Dk, Dv]

 private:
  int64_t batch_ = 0, capacity_ = 0;
  std::vector<KvCache> kv_;        // attention layers (others: undefined)
  std::vector<at::Tensor> state_;  // Lightning layers (others: undefined)
  std::vector<int64_t> lengths_;   // per row
};

// The positions [B, T] or [T] of a model forward over ids [B, T]: the cache step's (after
// checking that the step fits the cache and the ids its layout; a cached forward takes no
// positions, layer hook or training flag), else options.positions, else 0..T-1. `model` names
// the forward in errors.
at::Tensor forward_positions(const at::Tensor& ids, const ForwardOptions& options,
                             const HybridCache* cache, const CacheStep* step, size_t num_layers,
                             const char* model);

// The hidden states of each segment's last token: x [N, n, D] -> [N, 1, D] (uniform), or
// [1, T, D] -> [1, N, D] (packed). What a forward that keeps one logit per segment keeps.
at::Tensor last_of_segments(const at::Tensor& x, const CacheStep& step);

// The positions of x [B, T, D] whose logits a forward keeps (ForwardOptions::logits_to_keep):
// all for 0, the last k, or with a packed step (not null) the last of each segment for k = 1.
at::Tensor keep_logit_rows(const at::Tensor& x, int64_t logits_to_keep, const CacheStep* step);

// The rows of `t` ([R, ...]) named by the step's slots, as [N, ...]: a view when the slots are
// contiguous, else a copy.
at::Tensor gather_rows(const at::Tensor& t, const CacheStep& step);
// Writes `rows` ([N, ...]) back into the step's slots of `t`.
void scatter_rows(at::Tensor& t, const CacheStep& step, const at::Tensor& rows);

}  // namespace halo::hypenet
