// The decode step of a model on a HybridCache, captured once as a CUDA graph and replayed for
// every token. Eager, one step of the 1.7B-shaped teacher is about 400 kernel launches whose
// host work (42 ms per token on an H100 against a 1.2 ms memory floor, docs/benchmarks.md) is
// the whole cost; a replay is one launch. Nothing in the captured step reads a host value that
// changes between tokens: token ids and positions live in device buffers of the graph, the
// attention layers read each row's length from the positions (ops/decode_attention), the
// Lightning layers update their states in place. So one graph per (model, cache) serves every
// length up to the cache's capacity; no capacity buckets are needed.
//
// A replay decodes every row of the cache. Rows without a live sequence run a dummy token at
// position 0 (their cache contents are discarded by HybridCache::reset_row before a new sequence
// takes the row) and keep their length. The graph ends by writing each row's greedy token into
// its input buffer and advancing its position, so a greedy decode loop copies nothing from the
// host between tokens.
#pragma once

#include "hypenet/causal_lm.h"
#include "hypenet/hybrid_cache.h"

#include <memory>
#include <vector>

namespace halo::inference {

class DecodeGraph {
 public:
  // Whether the decode step of `model` on a cache can be captured here: a CUDA model whose
  // attention layers the decode kernel takes (ops::decode_attention_uses_kernel).
  static bool available(const hypenet::CausalLM& model);

  // Captures the decode step over all rows of `cache` (one untimed warm-up step first, on a
  // scratch cache). `model` and `cache` must outlive this object; the cache's contents and
  // lengths are left as they were.
  DecodeGraph(hypenet::CausalLM& model, hypenet::HybridCache& cache);
  ~DecodeGraph();
  DecodeGraph(const DecodeGraph&) = delete;
  DecodeGraph& operator=(const DecodeGraph&) = delete;

  // One decode step: each row r with live[r] appends ids[r] at its length (which must be below
  // the capacity) and its length grows by one; other rows run the dummy token. Returns the
  // logits [R, V] (a buffer the next replay overwrites).
  const at::Tensor& step(const std::vector<int64_t>& ids, const std::vector<char>& live);
  // Every row live, each feeding the greedy token of the previous replay (benchmarks: no host
  // copy at all between tokens). The first call after construction needs step() first.
  const at::Tensor& step_greedy();
  // The greedy token of each row after the last replay: [R] on the host (waits for the device).
  std::vector<int64_t> greedy_tokens();
  int64_t rows() const;

 private:
  // The position row `row` decodes at (its length), checked against the capacity.
  int64_t next_position(int64_t row) const;
  // Replays the graph; then each row's device position is positions[r] + 1 and a live row's
  // cache length grows by one.
  const at::Tensor& replay(const std::vector<int64_t>& positions, const std::vector<char>& live);
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace halo::inference
